"""The witness file: the latest signed checkpoint of each log, kept outside the archive.

A log alone cannot show that its tail was cut: delete the last import (its source, messages,
sightings, leaves and checkpoints) or the last audit entries and what remains is a shorter, valid
log. A witness remembers the newest head it has seen, so a tree that is now smaller than it, or that
no longer hashes to it at its size, is named as a cut or rewritten tail.

Where: ``$CHATAUDIT_WITNESS``, else beside the signing key (``<key>.witness`` in place of the key's
suffix), so whoever copies the archive alone does not copy its witness. The file is JSON::

    {"v": 1, "logs": {"<origin>": {"checkpoint": "<signed note>", "recorded_at": "<UTC instant>"}}}

It only moves forward: a checkpoint replaces the one kept for its log only when it is signed by the
same key and the archive holds the kept checkpoint, byte for byte, among its own earlier ones
(`verify` then proves the RFC 9162 consistency of the kept head with the archive's latest).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import orjson

from ..errors import ChatAuditError
from .note import Checkpoint, NoteError, Verifier, open_note

WITNESS_ENV = "CHATAUDIT_WITNESS"
FORMAT_VERSION = 1


def witness_path(key_path: Path, given: str | os.PathLike[str] | None = None) -> Path:
    """--witness, else $CHATAUDIT_WITNESS, else the key's path with the suffix ``.witness``."""
    for candidate in (given, os.environ.get(WITNESS_ENV)):
        if candidate:
            return Path(candidate).expanduser()
    return key_path.with_suffix(".witness")


@dataclass(frozen=True)
class WitnessedCheckpoint:
    origin: str
    note: str
    recorded_at: str
    # cosignatures of this very checkpoint by C2SP tlog-witnesses: {"witness_key", "line", "timestamp"}
    cosignatures: tuple[dict[str, Any], ...] = ()

    def open(self, verifier: Verifier) -> Checkpoint:
        """The checkpoint, if its note is signed by ``verifier`` (raises :class:`NoteError`)."""
        return Checkpoint.from_text(open_note(self.note, verifier).text)


def load(path: Path) -> dict[str, WitnessedCheckpoint]:
    """origin → its witnessed checkpoint ({} when the file does not exist)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise ChatAuditError(f"{path}: cannot read the witness file ({error.strerror})") from None
    try:
        doc = orjson.loads(raw)
        logs = doc["logs"]
        if doc.get("v") != FORMAT_VERSION or not isinstance(logs, dict):
            raise ValueError("unknown version")
        return {origin: WitnessedCheckpoint(origin, str(entry["checkpoint"]), str(entry.get("recorded_at", "")),
                                            tuple(dict(c) for c in entry.get("cosignatures") or ()))
                for origin, entry in logs.items()}
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise ChatAuditError(f"{path}: not a chataudit witness file ({error})") from None


def _write(path: Path, entries: dict[str, WitnessedCheckpoint]) -> None:
    doc: dict[str, Any] = {"v": FORMAT_VERSION, "logs": {
        origin: {"checkpoint": entry.note, "recorded_at": entry.recorded_at,
                 **({"cosignatures": list(entry.cosignatures)} if entry.cosignatures else {})}
        for origin, entry in sorted(entries.items())}}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=path.name + ".", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)  # a reader sees the old file or the new one, never half of one
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def advance(path: Path, note: str, verifier: Verifier, archive_holds: Callable[[str], bool]) -> str:
    """Record ``note`` as the latest checkpoint of its log if it moves the witness forward.

    ``archive_holds(note)`` says whether the archive holds a checkpoint note byte for byte: the kept
    one must be there (else the archive does not descend from what was witnessed, and the kept head
    stays for `verify` to name). Returns ``recorded``, ``unchanged`` or ``refused: <why>``.
    """
    with _locked(path):
        return _advance(path, note, verifier, archive_holds)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One writer at a time (read, compare, replace), so two processes cannot move it backwards."""
    try:
        import fcntl
    except ImportError:  # not POSIX: the atomic replace still leaves a whole file
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _advance(path: Path, note: str, verifier: Verifier, archive_holds: Callable[[str], bool]) -> str:
    entries = load(path)
    new = Checkpoint.from_text(open_note(note, verifier).text)
    origin = new.origin
    kept = entries.get(origin)
    if kept is not None:
        if kept.note == note:
            return "unchanged"
        try:
            old = kept.open(verifier)
        except NoteError as error:
            return f"refused: the witnessed checkpoint of {origin} does not verify with this key ({error})"
        if new.size < old.size:
            return f"refused: size {new.size} is smaller than the witnessed {old.size}"
        if not archive_holds(kept.note):
            return (f"refused: the archive no longer holds the witnessed checkpoint (size {old.size}); "
                    "run `chataudit verify`")
    moment = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    entries[origin] = WitnessedCheckpoint(origin, note, moment)
    _write(path, entries)
    return "recorded"


def add_cosignature(path: Path, origin: str, note: str, cosignature: dict[str, Any]) -> bool:
    """Keep a witness's cosignature beside the checkpoint it cosigned (if that is still the kept one)."""
    with _locked(path):
        entries = load(path)
        kept = entries.get(origin)
        if kept is None or kept.note != note:
            return False
        others = tuple(c for c in kept.cosignatures if c.get("witness_key") != cosignature["witness_key"])
        entries[origin] = WitnessedCheckpoint(origin, kept.note, kept.recorded_at, others + (cosignature,))
        _write(path, entries)
        return True


__all__ = ["WITNESS_ENV", "WitnessedCheckpoint", "add_cosignature", "advance", "load", "witness_path"]
