"""Import: turn paths (files, folders, .zip) into sources and hand their records to the store.

This is the only place that knows both the formats registry and the store.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from . import formats
from .errors import ChatAuditError, ParseError
from .formats import ParseOptions
from .ledger import attach as attach_ledger
from .model import default_zone_name, zone
from .store import Archive, ImportResult, SourceInfo

MIN_CONFIDENCE = 0.5
IGNORED_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}


@dataclass
class FileOutcome:
    path: str
    format: str | None
    messages: int = 0
    new: int = 0
    already_imported: bool = False
    skipped: str | None = None  # why a file found in a folder was not imported
    error: str | None = None

    @property
    def duplicates(self) -> int:
        return self.messages - self.new


@dataclass
class ImportSummary:
    files: list[FileOutcome] = field(default_factory=list)
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)  # e.g. wall-clock times read in this machine's zone

    @property
    def imported(self) -> list[FileOutcome]:
        return [f for f in self.files if f.format and not f.skipped and not f.error]

    @property
    def errors(self) -> list[FileOutcome]:
        return [f for f in self.files if f.error]

    def as_dict(self) -> dict:
        imported = self.imported
        return {
            "files": len(imported),
            "messages": sum(f.messages for f in imported),
            "new": sum(f.new for f in imported),
            "duplicates": sum(f.duplicates for f in imported),
            "already_imported": sum(1 for f in imported if f.already_imported),
            "skipped": len([f for f in self.files if f.skipped]),
            "errors": [f.error for f in self.errors],
            "warnings": list(self.warnings),
            "failed": [{"path": f.path, "error": f.error} for f in self.errors],
            "seconds": round(self.seconds, 3),
            "sources": [
                {
                    "path": f.path, "format": f.format, "messages": f.messages, "new": f.new,
                    "duplicates": f.duplicates, "already_imported": f.already_imported,
                    "skipped": f.skipped, "error": f.error,
                }
                for f in self.files
            ],
        }


def file_sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def folder_sha256(path: Path) -> tuple[str, int]:
    """A folder export's identity: SHA-256 of its manifest (``sha256  relative/path`` lines, sorted)."""
    lines = []
    total = 0
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        sha, size = file_sha256(file)
        total += size
        lines.append(f"{sha}  {file.relative_to(path).as_posix()}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest(), total


def import_paths(
    archive: Archive,
    paths: list[str | Path],
    *,
    format_name: str = "auto",
    label: str | None = None,
    tz: str | None = None,
    me: str | None = None,
    on_progress: Callable[..., None] | None = None,
    ledger: bool = True,
) -> ImportSummary:
    """Import every path; each source is its own transaction, so one bad file loses nothing else.

    ``ledger=False`` only for a throwaway archive (compare's temporary read of a file): nothing is
    signed, so no signing key is read or created for it.
    """
    started = time.perf_counter()
    summary = ImportSummary()
    if ledger:
        attach_ledger(archive)  # each source's leaves and a signed checkpoint, in its own transaction
    if tz:
        zone(tz)  # an unknown zone is an error before anything is read
        archive.set_setting("tz", tz)
    options = ParseOptions(tz=zone(tz or archive_zone_name(archive)), tz_given=bool(tz), me=me)
    forced = formats.get(format_name) if format_name != "auto" else None
    for given in paths:
        path = Path(given)
        if not path.exists():
            summary.files.append(FileOutcome(str(path), None, error=f"{path}: no such file or folder"))
            continue
        for unit, shown, explicit in _units(path):
            outcome = _import_unit(archive, unit, shown, explicit, forced, label, options, on_progress)
            summary.files.append(outcome)
            if ledger and outcome.new and not tz:
                from .reread import wall_clock_warning

                warning = wall_clock_warning(archive, unit, shown, outcome.format, tz)
                if warning:
                    summary.warnings.append(warning)
    summary.seconds = time.perf_counter() - started
    return summary


def archive_zone_name(archive: Archive) -> str:
    """The zone naive times mean for this archive: the last --tz given at import, else the default."""
    return archive.setting("tz") or default_zone_name()


def _units(path: Path) -> Iterator[tuple[Path, str, bool]]:
    """(path to parse, name to show, given explicitly) for a file, folder or zip."""
    if path.is_file() and zipfile.is_zipfile(path) and path.suffix.lower() == ".zip":
        with tempfile.TemporaryDirectory(prefix="chataudit-zip-") as folder:
            _safe_extract(path, Path(folder))
            for unit, shown, _ in _units_of_folder(Path(folder), f"{path}!"):
                yield unit, shown, False
        return
    if path.is_dir():
        yield from _units_of_folder(path, "")
        return
    yield path, str(path), True


def _units_of_folder(folder: Path, shown_prefix: str) -> Iterator[tuple[Path, str, bool]]:
    module, confidence = formats.detect(folder)
    if module is not None and confidence >= MIN_CONFIDENCE:
        yield folder, shown_prefix + str(folder) if not shown_prefix else shown_prefix.rstrip("!"), False
        return
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        root_path = Path(root)
        sub_claimed = []
        for d in dirs:
            sub_module, sub_conf = formats.detect(root_path / d)
            if sub_module is not None and sub_conf >= MIN_CONFIDENCE:
                sub_claimed.append(d)
                rel = (root_path / d).relative_to(folder).as_posix()
                yield root_path / d, (shown_prefix + rel) if shown_prefix else str(root_path / d), False
        dirs[:] = [d for d in dirs if d not in sub_claimed]
        for name in sorted(files):
            if name.startswith(".") or name in IGNORED_NAMES:
                continue
            file = root_path / name
            rel = file.relative_to(folder).as_posix()
            yield file, (shown_prefix + rel) if shown_prefix else str(file), False


def _safe_extract(archive_path: Path, target: Path) -> None:
    with zipfile.ZipFile(archive_path) as bundle:
        for member in bundle.infolist():
            destination = (target / member.filename).resolve()
            if not str(destination).startswith(str(target.resolve()) + os.sep) and destination != target.resolve():
                raise ChatAuditError(f"{archive_path}: unsafe path in zip: {member.filename}")
            name = member.filename
            # zips made on Chinese Windows store GBK names without the UTF-8 flag
            if not member.flag_bits & 0x800:
                try:
                    name = member.filename.encode("cp437").decode("gb18030")
                except (UnicodeEncodeError, UnicodeDecodeError):
                    pass
            out = target / name
            if member.is_dir():
                out.mkdir(parents=True, exist_ok=True)
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            with bundle.open(member) as src, open(out, "wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)


def _import_unit(
    archive: Archive,
    unit: Path,
    shown: str,
    explicit: bool,
    forced,
    label: str | None,
    options: ParseOptions,
    on_progress: Callable[..., None] | None,
) -> FileOutcome:
    if forced is not None:
        module = forced
    else:
        module, confidence = formats.detect(unit)
        if module is None or confidence < MIN_CONFIDENCE:
            if explicit:
                names = ", ".join(sorted(formats.registry()))
                return FileOutcome(shown, None, error=f"{shown}: unknown format (no importer recognises it; known: {names}; or pass --format)")
            return FileOutcome(shown, None, skipped="not a recognised chat export")
    sha256, size = folder_sha256(unit) if unit.is_dir() else file_sha256(unit)
    if size == 0 and not unit.is_dir():
        return FileOutcome(shown, module.NAME, error=f"{shown}:1: empty file")
    source = SourceInfo(path=shown, sha256=sha256, size=size, format=module.NAME, label=label)
    # (messages read, phase): phases after reading are "indexing" and "signing"
    progress = (lambda n, phase=None: on_progress(shown, n, phase)) if on_progress else None
    try:
        result: ImportResult = archive.import_records(source, module.parse(unit, options), progress)
    except ParseError as error:
        error.path = shown if error.path == str(unit) else error.path.replace(str(unit), shown)
        where = f"{error.path}:{error.line}" if error.line is not None else error.path
        return FileOutcome(shown, module.NAME, error=f"{where}: {error.message}")
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        # a parser bug or an input shape it did not foresee: still one line, still nothing imported
        return FileOutcome(shown, module.NAME, error=f"{shown}: cannot read as {module.NAME}: {type(error).__name__}: {error}")
    return FileOutcome(shown, module.NAME, result.messages, result.new, result.already_imported)


@contextmanager
def temporary_archive(archive: Archive, path: str | Path, tz: str | None = None) -> Iterator[Archive]:
    """``path`` read into a throwaway archive, as an import into ``archive`` would read it (in ``tz``,
    else in ``archive``'s zone), so a file can be compared or checked without changing ``archive``.

    Unsigned (no key is read or created); deleted on exit. An unreadable file is a
    :class:`ChatAuditError` naming it.
    """
    with tempfile.TemporaryDirectory(prefix="chataudit-read-") as folder:
        with Archive(Path(folder) / "read.db") as temporary:
            if archive.setting("tz") and not tz:
                temporary.set_setting("tz", archive.setting("tz"))
            summary = import_paths(temporary, [path], label=Path(path).name, tz=tz, ledger=False)
            for outcome in summary.files:
                if outcome.error:
                    raise ChatAuditError(outcome.error)
            yield temporary
