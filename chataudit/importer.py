"""Import: turn paths (files, folders, .zip) into sources and hand their records to the store.

This is the only place that knows both the formats registry and the store.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
import tempfile
import time
import zipfile
from contextlib import contextmanager
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from . import formats
from .errors import ChatAuditError, ParseError
from .formats import ParseOptions
from .ledger import attach as attach_ledger
from .model import Message, Record, default_zone_name, escape_undecodable, storage_problem, zone
from .store import OPERATIONAL_ERRORS, Archive, ImportResult, SourceInfo
from .textindex import index_body

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
    base: Path | None = None,
    anchor_date: str | None = None,
) -> ImportSummary:
    """Import every path; each source is its own transaction, so one bad file loses nothing else.

    ``ledger=False`` only for a throwaway archive (compare's temporary read of a file): nothing is
    signed, so no signing key is read or created for it. ``base``: paths are named (in sources,
    errors and the summary) relative to this folder — an upload's, whose location is the server's.
    """
    started = time.perf_counter()
    summary = ImportSummary()
    if ledger:
        attach_ledger(archive)  # each source's leaves and a signed checkpoint, in its own transaction
    if tz:
        zone(tz)  # an unknown zone is an error before anything is read
        archive.set_setting("tz", tz)
    # anchor_date (--date): the day a screenshot's relative times ("昨天 14:32") are read against
    options = ParseOptions(tz=zone(tz or archive_zone_name(archive)), tz_given=bool(tz), me=me,
                           extra={"date": anchor_date} if anchor_date else {})
    forced = formats.get(format_name) if format_name != "auto" else None
    for given in paths:
        for unit in walk(Path(given), str(Path(given).relative_to(base)) if base else None):
            if unit.outcome is not None:
                summary.files.append(unit.outcome)
                continue
            outcome = _import_unit(archive, unit.path, unit.shown, unit.explicit, forced, label, options,
                                   on_progress)
            summary.files.append(outcome)
            if ledger and outcome.new and not tz:
                from .reread import wall_clock_warning

                warning = wall_clock_warning(archive, unit.path, unit.shown, outcome.format, tz)
                if warning:
                    summary.warnings.append(warning)
    summary.seconds = time.perf_counter() - started
    return summary


def archive_zone_name(archive: Archive) -> str:
    """The zone naive times mean for this archive: the last --tz given at import, else the default."""
    return archive.setting("tz") or default_zone_name()


# ---- walking what was given: files, folders, zips ------------------------------------------------

MAX_ZIP_NESTING = 3  # a zip in a zip in a zip is opened; a deeper one is reported, not opened


@dataclass
class Unit:
    """One thing found under a given path: something to parse, or an outcome decided while walking
    (a special file skipped, a zip refused)."""

    path: Path
    shown: str
    explicit: bool
    outcome: FileOutcome | None = None


@dataclass
class _ZipBudget:
    """What every zip under one given path may still expand to, nested zips included."""

    bytes: int
    entries: int


def walk(path: Path, shown: str | None = None) -> Iterator[Unit]:
    """The units of a file, folder or zip, as ``import`` reads them.

    Zips are read within the evidence reader's limits (entries, sizes, compression ratio, unsafe
    or duplicate names) shared by all the zips nested in one given path; a special file (FIFO,
    device, socket) is skipped and reported, never opened.
    """
    from .evidence.standalone_verify import Limits

    defaults = Limits()
    budget = _ZipBudget(defaults.max_total_bytes, defaults.max_entries)
    yield from _walk(path, shown or str(path), True, budget, 0)


def _units(path: Path) -> Iterator[tuple[Path, str, bool]]:
    """(path to parse, name to show, given explicitly) of the importable units only; a refused zip
    raises. For callers that only read (redact)."""
    for unit in walk(path):
        if unit.outcome is None:
            yield unit.path, unit.shown, unit.explicit
        elif unit.outcome.error:
            raise ChatAuditError(unit.outcome.error)


def _walk(path: Path, shown: str, explicit: bool, budget: _ZipBudget, zip_depth: int) -> Iterator[Unit]:
    try:
        mode = path.stat().st_mode
    except OSError as error:
        why = "no such file or folder" if isinstance(error, FileNotFoundError) else error.strerror or str(error)
        if explicit:
            yield Unit(path, shown, explicit, FileOutcome(shown, None, error=f"{shown}: {why}"))
        else:
            yield Unit(path, shown, explicit, FileOutcome(shown, None, skipped=f"cannot be read ({why})"))
        return
    if stat.S_ISDIR(mode):
        yield from _walk_folder(path, shown, budget, zip_depth)
        return
    if not stat.S_ISREG(mode):
        why = f"not a regular file ({_special_kind(mode)}): not opened"
        outcome = FileOutcome(shown, None, error=f"{shown}: {why}") if explicit else FileOutcome(shown, None, skipped=why)
        yield Unit(path, shown, explicit, outcome)
        return
    if path.suffix.lower() == ".zip" and zipfile.is_zipfile(path):
        if zip_depth >= MAX_ZIP_NESTING:
            yield Unit(path, shown, explicit, FileOutcome(
                shown, None, skipped=f"a zip inside {MAX_ZIP_NESTING} other zips: not opened"))
            return
        with tempfile.TemporaryDirectory(prefix="chataudit-zip-") as folder:
            try:
                _safe_extract(path, shown, Path(folder), budget)
            except ChatAuditError as error:
                yield Unit(path, shown, explicit, FileOutcome(shown, None, error=str(error)))
                return
            for unit in _walk_folder(Path(folder), shown + "!", budget, zip_depth + 1):
                unit.explicit = False
                yield unit
        return
    yield Unit(path, shown, explicit)


def _special_kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device")):
        if test(mode):
            return name
    return "special file"


def _walk_folder(folder: Path, shown: str, budget: _ZipBudget, zip_depth: int) -> Iterator[Unit]:
    """A folder's units; ``shown`` names the folder, or ends in "!" inside a zip (its entries follow)."""

    def show(rel: str) -> str:
        if shown.endswith("!"):
            return shown + rel if rel else shown[:-1]
        return str(Path(shown) / rel) if rel else shown

    special = _special_files(folder)
    for rel, mode in special:
        yield Unit(folder / rel, show(rel), False,
                   FileOutcome(show(rel), None, skipped=f"not a regular file ({_special_kind(mode)}): not opened"))
    if special:
        # formats open the files of a folder export by name: they get a view without the special files
        with tempfile.TemporaryDirectory(prefix="chataudit-view-") as view:
            _mirror_regular_files(folder, Path(view))
            yield from _walk_regular_folder(Path(view), show, budget, zip_depth)
        return
    yield from _walk_regular_folder(folder, show, budget, zip_depth)


def _walk_regular_folder(folder: Path, show: Callable[[str], str], budget: _ZipBudget, zip_depth: int) -> Iterator[Unit]:
    module, confidence = formats.detect(folder)
    if module is not None and confidence >= MIN_CONFIDENCE:
        yield Unit(folder, show(""), False)
        return
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        root_path = Path(root)
        sub_claimed = []
        for d in dirs:
            sub_module, sub_conf = formats.detect(root_path / d)
            if sub_module is not None and sub_conf >= MIN_CONFIDENCE:
                sub_claimed.append(d)
                yield Unit(root_path / d, show((root_path / d).relative_to(folder).as_posix()), False)
        dirs[:] = [d for d in dirs if d not in sub_claimed]
        for name in sorted(files):
            if name.startswith(".") or name in IGNORED_NAMES:
                continue
            file = root_path / name
            yield from _walk(file, show(file.relative_to(folder).as_posix()), False, budget, zip_depth)


def _special_files(folder: Path) -> list[tuple[str, int]]:
    """(relative path, mode) of everything under ``folder`` that is neither a folder nor a regular file."""
    found = []
    for root, dirs, files in os.walk(folder):
        for name in sorted(files + [d for d in dirs if os.path.islink(os.path.join(root, d))]):
            full = os.path.join(root, name)
            try:
                mode = os.stat(full).st_mode
            except OSError:
                continue  # a broken link: the walk reports it when it reaches it
            if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
                found.append((Path(full).relative_to(folder).as_posix(), mode))
    return found


def _mirror_regular_files(folder: Path, view: Path) -> None:
    """``view`` gets a link to each regular file of ``folder``, at the same relative path."""
    for root, _dirs, files in os.walk(folder):
        for name in files:
            source = Path(root) / name
            try:
                if not stat.S_ISREG(source.stat().st_mode):
                    continue
            except OSError:
                continue
            target = view / source.relative_to(folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(source.resolve(), target)


def _safe_extract(archive_path: Path, shown: str, target: Path, budget: _ZipBudget) -> None:
    """Extract a zip after its directory passed the evidence reader's checks (entries, sizes, ratio,
    unsafe, encrypted or duplicate names); the bytes written are counted against ``budget``."""
    from .evidence.standalone_verify import Limits, PackageError, SafeZip

    limits = Limits(max_entries=budget.entries, max_total_bytes=budget.bytes)
    try:
        bundle = SafeZip(archive_path, limits)
    except PackageError as error:
        raise ChatAuditError(str(error).replace(str(archive_path), shown, 1)) from None
    with bundle:
        budget.entries -= len(bundle.zip.infolist())
        root = target.resolve()
        for info in bundle.zip.infolist():
            name = info.filename
            # zips made on Chinese Windows store GBK names without the UTF-8 flag
            if not info.flag_bits & 0x800:
                try:
                    name = info.filename.encode("cp437").decode("gb18030")
                except (UnicodeEncodeError, UnicodeDecodeError):
                    pass
            out = target / name
            if not str(out.resolve()).startswith(str(root) + os.sep):
                raise ChatAuditError(f"{shown}: unsafe path in zip: {info.filename}")
            if info.is_dir():
                out.mkdir(parents=True, exist_ok=True)
                continue
            if out.exists():
                raise ChatAuditError(f"{shown}: two members are both named {name!r} (refused: which one is the export?)")
            out.parent.mkdir(parents=True, exist_ok=True)
            try:
                with bundle.zip.open(info) as src, open(out, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        budget.bytes -= len(chunk)
                        if budget.bytes < 0:
                            raise ChatAuditError(f"{shown}: expands to more than {limits.max_total_bytes:,} bytes "
                                                 "with the zips nested in it (zip bomb?)")
                        dst.write(chunk)
            except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as error:
                raise ChatAuditError(f"{shown}!{name}: cannot be read from the zip ({error})") from None


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
    module = recognise(unit, shown, explicit, forced)
    if isinstance(module, FileOutcome):
        return module
    sha256, size = folder_sha256(unit) if unit.is_dir() else file_sha256(unit)
    source = SourceInfo(path=shown, sha256=sha256, size=size, format=module.NAME, label=label)
    # (messages read, phase): phases after reading are "indexing" and "signing"
    progress = (lambda n, phase=None: on_progress(shown, n, phase)) if on_progress else None
    try:
        if size >= PIPELINE_MIN_BYTES and archive.source_by_sha256(sha256) is None:
            with prepared_in_child(module, unit, options, archive.index_text) as batches:
                result: ImportResult = archive.import_records(source, (), progress, prepared=batches)
        else:
            result = archive.import_records(source, storable(module.parse(unit, options), str(unit)), progress)
    except ParseError as error:
        return FileOutcome(shown, module.NAME, error=failure_line(error, unit, shown, module.NAME))
    except (ChatAuditError, *OPERATIONAL_ERRORS, MemoryError):
        raise  # the archive (wrong key, locked, disk full) or the machine, not this file: stop
    except Exception as error:  # noqa: BLE001 — one bad file never stops the others
        # a parser bug or an input shape it did not foresee: still one line, still nothing imported
        return FileOutcome(shown, module.NAME, error=failure_line(error, unit, shown, module.NAME))
    return FileOutcome(shown, module.NAME, result.messages, result.new, result.already_imported)


def recognise(unit: Path, shown: str, explicit: bool, forced):
    """The format module that reads ``unit`` (``forced`` when given), or the outcome that says why none
    does (an empty file, an unknown format: an error when the file was named, else skipped)."""
    if not unit.is_dir() and unit.stat().st_size == 0:
        if explicit or forced is not None:
            return FileOutcome(shown, forced.NAME if forced else None, error=f"{shown}:1: empty file")
        return FileOutcome(shown, None, skipped="empty file")
    if forced is not None:
        return forced
    module, confidence = formats.detect(unit)
    if module is None or confidence < MIN_CONFIDENCE:
        if explicit:
            names = ", ".join(sorted(formats.registry()))
            return FileOutcome(shown, None, error=f"{shown}: unknown format (no importer recognises it; known: {names}; or pass --format)")
        return FileOutcome(shown, None, skipped="not a recognised chat export")
    return module


def failure_line(error: Exception, unit: Path, shown: str, format_name: str) -> str:
    """The one line that says why a file could not be read: file:line for a ParseError, else the
    error's kind (a parser bug or an input shape it did not foresee)."""
    if isinstance(error, ParseError):
        error.path = shown if error.path == str(unit) else error.path.replace(str(unit), shown)
        where = f"{error.path}:{error.line}" if error.line is not None else error.path
        return f"{where}: {error.message}"
    kind = error.kind if isinstance(error, ParserFailure) else type(error).__name__
    return f"{shown}: cannot read as {format_name}: {kind}: {error}"


def storable(records: Iterator[Record], path: str) -> Iterator[Record]:
    """The records as the archive can store them, whatever the format: text that cannot be decoded is
    kept escaped (:func:`chataudit.model.escape_undecodable`); a message the archive cannot hold
    (:func:`chataudit.model.storage_problem`: an instant out of range, a 65-bit integer) is refused
    at its line."""
    for record in records:
        record = escape_undecodable(record)
        if isinstance(record, Message):
            problem = storage_problem(record)
            if problem:
                raise ParseError(path, record.position, problem)
        yield record


# ---- parsing in a second process -----------------------------------------------------------------

# A file this large is parsed, checked, hashed and full-text-tokenized in a second process while
# this one writes (a bounded queue of batches between them); below it, starting that process costs
# more than it saves.
PIPELINE_MIN_BYTES = 8 << 20


class ParserFailure(Exception):
    """An unexpected error of the format's parser in the parsing process (``kind``: its type name)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def _prepare_worker() -> None:
    """The parsing process (``python -m chataudit.importer``): reads (format module, path, options)
    pickled on stdin and writes the store's prepared batches to stdout, each a length-prefixed
    pickle, then a last ("done", None); an error is sent as data (its type and message)."""
    import importlib
    import pickle
    import struct
    import sys

    from .store.sqlite import prepare

    out = sys.stdout.buffer

    def send(kind: str, payload: object) -> None:
        data = pickle.dumps((kind, payload), protocol=pickle.HIGHEST_PROTOCOL)
        out.write(struct.pack("<Q", len(data)) + data)

    module_name, path, options, (body_module, body_name) = pickle.load(sys.stdin.buffer)
    try:
        module = importlib.import_module(module_name)
        body = getattr(importlib.import_module(body_module), body_name)
        for batch in prepare(storable(module.parse(Path(path), options), path), body=body):
            send("batch", batch)
        send("done", None)
    except ParseError as error:
        send("parse", (error.path, error.line, error.message))
    except ChatAuditError as error:
        send("chataudit", str(error))
    except MemoryError:
        send("memory", "the parsing process ran out of memory")
    except Exception as error:  # noqa: BLE001 — reported by the importer as this file's error
        send("failure", (type(error).__name__, str(error)))
    out.flush()


@contextmanager
def prepared_in_child(module, unit: Path, options: ParseOptions,
                      body: Callable[[str | None], object] = index_body) -> Iterator[Iterator[list]]:
    """The store's prepared batches of ``unit`` (full-text bodies made by ``body``, a module-level
    function: the archive's ``index_text``), made by a second process through a pipe (bounded:
    the child waits while the pipe is full, so at most a batch or two are in flight); the process
    is stopped on exit, whatever happened. A plain subprocess, not multiprocessing: nothing of the
    caller's ``__main__`` is re-run, and it is safe beside threads (the web app's jobs)."""
    import pickle
    import struct
    import subprocess
    import sys

    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    errors = tempfile.TemporaryFile()  # a file, not a pipe: a chatty child never blocks on it
    process = subprocess.Popen([sys.executable, "-m", "chataudit.importer"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=errors, env=env)
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write(pickle.dumps((module.__name__, str(unit), options, (body.__module__, body.__name__))))
        process.stdin.close()
    except BrokenPipeError:
        pass
    pipe = process.stdout

    def batches() -> Iterator[list]:
        while True:
            head = pipe.read(8)
            if len(head) < 8:
                process.wait()
                errors.seek(0)
                why = (errors.read().decode(errors="replace").strip().splitlines() or [""])[-1]
                raise ChatAuditError(f"{unit}: the parsing process stopped (exit code {process.returncode})"
                                     + (f": {why}" if why else ""))
            kind, payload = pickle.loads(pipe.read(struct.unpack("<Q", head)[0]))
            if kind == "batch":
                yield payload
            elif kind == "done":
                return
            elif kind == "parse":
                raise ParseError(*payload)
            elif kind == "chataudit":
                raise ChatAuditError(payload)
            elif kind == "memory":
                raise MemoryError(payload)
            else:
                raise ParserFailure(*payload)

    try:
        yield batches()
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        pipe.close()
        errors.close()


@contextmanager
def temporary_archive(archive: Archive, path: str | Path, tz: str | None = None) -> Iterator[Archive]:
    """``path`` read into a throwaway archive, as an import into ``archive`` would read it (in ``tz``,
    else in ``archive``'s zone), so a file can be compared or checked without changing ``archive``.

    Unsigned (no key is read or created); deleted on exit. An unreadable file is a
    :class:`ChatAuditError` naming it. When ``archive`` is encrypted, so is the throwaway one (under a
    random key that lives only in this process): what it reads never lands on disk as plaintext.
    """
    with tempfile.TemporaryDirectory(prefix="chataudit-read-") as folder:
        key = secrets.token_bytes(32) if archive.key is not None else None
        with Archive(Path(folder) / "read.db", key=key) as temporary:
            if archive.setting("tz") and not tz:
                temporary.set_setting("tz", archive.setting("tz"))
            summary = import_paths(temporary, [path], label=Path(path).name, tz=tz, ledger=False)
            for outcome in summary.files:
                if outcome.error:
                    raise ChatAuditError(outcome.error)
            yield temporary


if __name__ == "__main__":
    _prepare_worker()
