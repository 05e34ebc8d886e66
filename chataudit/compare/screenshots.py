"""Comparing a screenshot (read by OCR) with an exported copy: tolerant of what OCR cannot see.

The alignment is :func:`chataudit.compare.align.align`, unchanged; only the comparison text of
both copies is folded first, so that what the OCR cannot tell apart is not an alteration:

* characters OCR confuses (``O``/``0``, ``l``/``I``/``1``, the dash-like ``一``/``—``) are one,
* emoji and other pictographs are dropped (the OCR does not read them),
* a transfer or red packet compares its amount too (``定金 ¥5000.00``): an amount changed on the
  card is an alteration, with the number in ``numbers_changed``.

A screenshot shows minutes only, and WeChat prints one separator for a run of messages, so two
messages up to :data:`SCREENSHOT_TOLERANCE_S` apart are the same instant. A bubble that moved to
the other side (same text, the other sender) is reported as altered with ``sender_changed``.
Entries of the screenshot copy carry its ``screenshot`` provenance (image, SHA-256, bounding box,
OCR confidence, ``trust: "ocr"``).
"""

from __future__ import annotations

import unicodedata
from typing import Any

import orjson

from .align import ALTERED, Alignment, Side

SCREENSHOT_TOLERANCE_S = 300.0
CONFUSABLE = str.maketrans({"O": "0", "o": "0", "l": "1", "I": "1", "|": "1",
                            "—": "一", "－": "一", "–": "一", "_": "一"})
AMOUNT_KINDS = ("transfer", "red_packet")


def is_ocr(copy: Any) -> bool:
    """Whether a copy was read from screenshots (any of its messages has trust: ocr)."""
    if any(source.get("format") == "screenshot" for source in copy.sources):
        return True
    return any(_provenance(extras) for _, extras in copy.details[:50])


def _provenance(extras: Any) -> dict[str, Any] | None:
    if not extras:
        return None
    if isinstance(extras, (str, bytes)):
        try:
            extras = orjson.loads(extras)
        except orjson.JSONDecodeError:
            return None
    found = extras.get("screenshot") if isinstance(extras, dict) else None
    return found if isinstance(found, dict) and found.get("trust") == "ocr" else None


def fold(text: str) -> str:
    """A comparison text with OCR confusables made one and pictographs dropped."""
    kept = "".join(ch for ch in text if unicodedata.category(ch) not in ("So", "Sk", "Cs", "Mn", "Cf"))
    return kept.translate(CONFUSABLE)


def make_tolerant(copy: Any) -> None:
    """Fold the comparison texts of a copy in place; a transfer's amount becomes part of its text."""
    side: Side = copy.side
    for index, (amount, _) in enumerate(copy.details):
        if side.kind[index] in AMOUNT_KINDS and amount:
            shown = f"¥{amount}"
            side.text[index] = f"{side.text[index]} {shown}".strip()
            side.norm[index] = f"{side.norm[index]}{shown}"
        side.norm[index] = fold(side.norm[index])


def pair_moved_sides(alignment: Alignment, a: Side, b: Side) -> list[tuple[int, int]]:
    """Unpaired messages of the same text and kind, one in each copy, within the tolerance but of
    another sender than the mapping says: one bubble shown on the other side. Paired as altered."""
    free_b: dict[tuple[str, str], list[int]] = {}
    for j in alignment.only_b:
        if b.norm[j]:
            free_b.setdefault((b.kind[j], b.norm[j]), []).append(j)
    moved = []
    for i in list(alignment.only_a):
        candidates = free_b.get((a.kind[i], a.norm[i]))
        if not candidates:
            continue
        j = min(candidates, key=lambda k: abs(b.ms[k] - alignment.clock_offset_ms - a.ms[i]))
        if abs(b.ms[j] - alignment.clock_offset_ms - a.ms[i]) > alignment.tolerance_ms:
            continue
        candidates.remove(j)
        moved.append((i, j))
    if moved:
        taken_a = {i for i, _ in moved}
        taken_b = {j for _, j in moved}
        alignment.only_a = [i for i in alignment.only_a if i not in taken_a]
        alignment.only_b = [j for j in alignment.only_b if j not in taken_b]
        alignment.pairs = sorted(alignment.pairs + [(i, j, ALTERED) for i, j in moved])
        alignment.counts[ALTERED] = alignment.counts.get(ALTERED, 0) + len(moved)
    return moved


def _provenance_by_position(copy: Any) -> dict[int, dict[str, Any]]:
    """A copy's screenshot provenance keyed by the message's position in its source."""
    found = {}
    for position, (_, extras) in zip(copy.side.positions, copy.details):
        provenance = _provenance(extras)
        if provenance is not None and position is not None:
            found[position] = provenance
    return found


def annotate(report: dict[str, Any], copies: list[Any], moved: list[tuple[int, int]]) -> None:
    """Mark the report: which copy is trust: ocr, each screenshot entry's provenance, moved bubbles."""
    a, b = copies
    report["trust"] = {"a": "ocr" if is_ocr(a) else "export", "b": "ocr" if is_ocr(b) else "export"}
    by_position = [_provenance_by_position(copy) for copy in copies]

    def mark(entry: dict[str, Any], which: int) -> None:
        provenance = by_position[which].get(entry.get("position"))
        if provenance is not None:
            entry["screenshot"] = provenance

    for key, value in report.items():
        if not isinstance(value, list):
            continue
        for entry in value:
            if not isinstance(entry, dict):
                continue
            if "a" in entry and "b" in entry and isinstance(entry["a"], dict):
                mark(entry["a"], 0)
                mark(entry["b"], 1)
            elif key == "missing_in_b":
                mark(entry, 0)
            elif key == "missing_in_a":
                mark(entry, 1)
    moved_positions = {(a.side.positions[i], b.side.positions[j]) for i, j in moved}
    for entry in report.get("altered", []):
        if (entry["a"].get("position"), entry["b"].get("position")) in moved_positions:
            entry["sender_changed"] = True
    if moved:
        report["findings"].append(f"{len(moved)} message(s) shown on the other side (another sender, the same words)")
    which = [name for name, copy in zip("AB", copies) if is_ocr(copy)]
    if which:
        report["findings"].append(f"copy {' and '.join(which)} was read from screenshots by OCR (trust: ocr): "
                                  "confusable characters and emoji are not counted as alterations")


def with_crops(rows: Any, copies: list[Any]) -> Any:
    """The side-by-side rows of the HTML report, each screenshot message with its provenance and crop."""
    from ..screenshots.crops import crop_for

    maps = [_provenance_by_position(copy) for copy in copies]
    for row in rows:
        for key, found, copy in (("a", maps[0], copies[0]), ("b", maps[1], copies[1])):
            message = row.get(key)
            provenance = found.get(message.get("position")) if isinstance(message, dict) else None
            if provenance is not None:
                source = copy.sources[0].get("path") if copy.sources else None
                row[key] = {**message, "screenshot": provenance, "crop": crop_for(source, provenance)}
        yield row
