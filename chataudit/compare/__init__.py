"""compare: hold two or more copies of one conversation against each other.

``compare_copies(archive, ["mine", "evidence.csv"])`` loads each copy (a source label, a
conversation or an export file read without changing the archive, see :mod:`.copies`), aligns them without
trusting ids, names or printed local times (:mod:`.align`) and returns a :class:`Comparison` whose
``report`` is the JSON the CLI prints (:mod:`.report`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ..model import zone
from ..store import Archive
from . import align as _align_module
from .align import Alignment, Side, char_diff, normalize
from .copies import Copy, load_copies, load_copy
from .report import matrix_report, pair_report, timeline_rows

DEFAULT_TOLERANCE_S = 60.0


@dataclass
class Comparison:
    copies: list[Copy]
    report: dict[str, Any]
    alignment: Alignment | None  # two copies only

    def timeline(self, context: int = 3) -> Iterator[dict[str, Any]]:
        """Side-by-side rows for the HTML report (two copies)."""
        assert self.alignment is not None
        return timeline_rows(self.copies[0], self.copies[1], self.alignment, context)


def compare_copies(
    archive: Archive, refs: list[str], *, tolerance_s: float = DEFAULT_TOLERANCE_S, tz: str | None = None,
    redactor: Any = None, keep: bool = False, base: Path | None = None,
) -> Comparison:
    """Load the named copies and compare them: pairwise for two, a presence matrix for more.

    With a ``redactor`` (``--redact``) every text and name in the report is de-identified. Export
    files are read into a temporary archive unless ``keep`` imports them (``compare --keep``).
    Files under ``base`` (an upload's folder) are named by their path below it, not where the
    server keeps them.
    """
    if len(refs) < 2:
        raise ValueError("compare needs at least two copies")
    if tolerance_s < 0:
        raise ValueError("--tolerance must not be negative")
    if tz:
        zone(tz)  # an unknown zone is an error even when no copy is a file it applies to
    copies = load_copies(archive, refs, tz=tz, keep=keep, base=base)
    if base is not None:
        for copy in copies:
            copy.name = _below(copy.name, base)
            copy.sources = [{**source, "path": _below(source.get("path"), base)} for source in copy.sources]
    return compare_loaded(copies, tolerance_s, redactor)


def _below(path: Any, base: Path) -> Any:
    """``path`` relative to ``base`` when under it (the name an upload was given), else unchanged."""
    if not isinstance(path, str):
        return path
    try:
        return Path(path).relative_to(base).as_posix()
    except ValueError:
        return path


def compare_request(
    archive: Archive, refs: list[str], *, tolerance_s: float = DEFAULT_TOLERANCE_S, tz: str | None = None,
    redact_policy: str | None = None, keep: bool = False, base: Path | None = None,
) -> Comparison:
    """``compare`` as a front end asks for it (the CLI and the web API): ``redact_policy`` is
    ``--redact``'s value (None: off, "default": the built-in policy, else a TOML policy file)."""
    redactor = None
    if redact_policy is not None:
        from ..privacy import Redactor, load_policy

        redactor = Redactor(load_policy(redact_policy))
    return compare_copies(archive, refs, tolerance_s=tolerance_s, tz=tz, redactor=redactor, keep=keep, base=base)


def compare_loaded(copies: list[Copy], tolerance_s: float = DEFAULT_TOLERANCE_S, redactor: Any = None) -> Comparison:
    if len(copies) == 2:
        # a screenshot read by OCR: confusables, emoji and minute-only times are not differences
        from . import screenshots as _shots

        ocr = any(_shots.is_ocr(copy) for copy in copies)
        if ocr:
            for copy in copies:
                _shots.make_tolerant(copy)
            tolerance_s = max(tolerance_s, _shots.SCREENSHOT_TOLERANCE_S)
        # align on what the copies really say, then de-identify what the report shows: an
        # alteration inside a phone number is still found, and its diff shows no digits
        alignment = _align_module.align(copies[0].side, copies[1].side, tolerance_s)
        moved = _shots.pair_moved_sides(alignment, copies[0].side, copies[1].side) if ocr else []
        if redactor is not None:
            _learn_entities(copies, redactor)
            for copy in copies:
                _redact_copy(copy, redactor)
            alignment.sender_mapping = {
                redactor.sender("sender_id", a or ""): redactor.sender("sender_id", b or "")
                for a, b in alignment.sender_mapping.items()
            }
        report = pair_report(copies[0], copies[1], alignment)
        if ocr:
            _shots.annotate(report, copies, moved)
        return Comparison(copies, _flagged(report), alignment)
    if redactor is not None:  # the matrix aligns as it reports, so it sees de-identified text
        _learn_entities(copies, redactor)
        for copy in copies:
            _redact_copy(copy, redactor)
    return Comparison(copies, _flagged(matrix_report(copies, tolerance_s)), None)


def _flagged(report: dict[str, Any]) -> dict[str, Any]:
    """The report with ``different``: what the CLI's exit status says (1), as a field the web API returns with 200."""
    report["different"] = is_different(report)
    return report


def is_different(report: dict[str, Any]) -> bool:
    """Whether a report (pair or matrix) found any difference: ``compare`` then exits 1."""
    return not report["verdict"].startswith("IDENTICAL")


def _learn_entities(copies: list[Copy], redactor: Any) -> None:
    """Every copy's sender names and ids (and a one-to-one chat's title, the other party's name)
    before anything is redacted, so a name is hidden wherever it shows — a system line "你已添加了梅梅",
    the page title, the conversation header — also in the copy that shows it first."""
    for copy in copies:
        redactor.learn_names([*copy.side.names, *copy.side.sender])
        for kind, text in zip(copy.side.kind, copy.side.text):
            redactor.learn_message({"kind": kind, "text": text})
        if copy.conversation.get("type") == "private":
            redactor.learn_names([copy.conversation.get("title")])


def _redact_copy(copy: Copy, redactor: Any) -> None:
    side = copy.side
    side.text = [redactor.message({"kind": kind, "text": text})["text"] for kind, text in zip(side.kind, side.text)]
    side.names = [redactor.sender("sender_name", name) for name in side.names]
    side.sender = [redactor.sender("sender_id", sender) for sender in side.sender]
    side._display = None
    copy.conversation = redactor.tree(copy.conversation)
    copy.name = redactor.text(copy.name)
    copy.sources = [{**source, "path": redactor.text(source.get("path") or "")} for source in copy.sources]


# the function that pairs two Sides is chataudit.compare.align.align (the package attribute
# ``align`` stays the module, so ``import chataudit.compare.align`` means one thing)
__all__ = [
    "Alignment", "Comparison", "Copy", "DEFAULT_TOLERANCE_S", "Side", "char_diff", "compare_copies",
    "compare_loaded", "compare_request", "is_different", "load_copy", "normalize",
]
