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
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import orjson

from ..errors import ChatAuditError
from .merkle import ProofError, hash_from_pieces, verify_consistency
from .note import Checkpoint, NoteError, Verifier, open_note

WITNESS_ENV = "CHATAUDIT_WITNESS"
# problem kinds `verify` reports (the README lists them)
TRUNCATED = "truncated"   # the witness saw a longer log than the archive holds now
WITNESS = "witness"       # the witness's checkpoint does not verify, or the log no longer reaches it
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


def witness_for_verify(path: Path, origin: str | None, trusted: Verifier | None,
                       report: Any) -> tuple[WitnessedCheckpoint, Checkpoint] | None:
    """The checkpoint the witness file keeps for ``origin``, checked against the trusted key, and its
    cosignatures; what is wrong goes to ``report`` (a :class:`~.verify.VerifyReport`)."""
    report.witness = {"path": str(path), "status": "none"}
    try:
        entries = load(path)
    except ChatAuditError as error:
        report.add(WITNESS, str(error))
        report.witness["status"] = "unreadable"
        return None
    kept = entries.get(origin or "")
    if kept is None:
        report.notice(WITNESS, f"no witness file entry for this log at {path}: a cut tail (the last imports, audit "
                               "entries or policy events deleted with their checkpoints) would go unnoticed")
        return None
    try:
        head = kept.open(trusted) if trusted is not None else None
    except NoteError as error:
        head = None
        detail = str(error)
    else:
        detail = "no verifier key"
    if head is None or head.origin != origin:
        report.add(WITNESS, f"the checkpoint the witness file {path} keeps is not signed by the trusted key ({detail})")
        report.witness["status"] = "bad_signature"
        return None
    report.witness.update(tree_size=head.size, root=head.root.hex(), recorded_at=kept.recorded_at)
    if kept.cosignatures:
        from .cosign import Cosigner

        text = kept.note[:kept.note.rfind("\n\n") + 1]
        cosigned = report.witness["cosigned_by"] = []
        for cosignature in kept.cosignatures:
            try:
                cosigner = Cosigner.from_key(str(cosignature.get("witness_key", "")))
                moment = cosigner.verify(text, str(cosignature.get("line", "")))
            except NoteError as error:
                report.add(WITNESS, f"a cosignature kept in {path} does not verify: {error}")
                continue
            cosigned.append({"witness": cosigner.name, "witness_key": str(cosigner),
                             "timestamp": datetime.fromtimestamp(moment, timezone.utc).isoformat()})
    return kept, head


def check_witness(witness: dict[str, Any], latest: dict[str, Any], leaves: int, damaged: list[int],
                   captured: dict[tuple[int, int], bytes], report: Any) -> None:
    """The archive's latest head must extend the witnessed one: RFC 9162 consistency, proven from the
    recomputed tree. A smaller tree is a cut tail; a different root at its size, rewritten history."""
    size, where = witness["size"], f"the witness file {witness['path']} saw checkpoint size {witness['size']} " \
                                   f"(signed {witness['signed_at']})"
    if size > latest["size"]:
        cut = (f"its ledger has {leaves} leaves and its latest checkpoint signs {latest['size']}" if leaves > latest["size"]
               else f"it now holds only {latest['size']} signed leaves")
        report.add(TRUNCATED, f"{where}, but {cut}: the tail of the log (the last imports, audit entries or policy "
                              f"events after leaf {latest['size'] - 1 if latest['size'] else 0}) was cut with its "
                              "checkpoints")
        report.witness["status"] = "truncated"
        return
    if damaged and min(damaged) < size:
        report.witness["status"] = "damaged"  # the damaged records are named; the witness adds nothing
        return
    if witness.get("recomputed_root") != witness["root"]:
        if latest.get("recomputed_root") != latest["root"]:
            report.witness["status"] = "damaged"  # the archive misses its own signed root: named above
            return
        report.add(WITNESS, f"{where}, but the archive's log does not hash to its root at that size: history was "
                            "rewritten (and re-signed) after the witness saw it")
        report.witness["status"] = "diverged"
        return
    try:
        proof = [hash_from_pieces(a, b, captured) for a, b in witness.get("ranges", [])]
        verify_consistency(size, latest["size"], proof, witness["root"], latest["root"])
    except (ProofError, KeyError) as error:
        if latest.get("recomputed_root") == latest["root"]:
            report.add(WITNESS, f"{where}, but there is no consistency proof from it to the latest checkpoint: {error}")
        report.witness["status"] = "inconsistent"
        return
    report.witness["status"] = "consistent" if size == latest["size"] else "consistent_behind"
    if size < latest["size"]:
        report.notice(WITNESS, f"{where}; the archive's latest checkpoint (size {latest['size']}) extends it "
                               "(consistency proven); the witness catches up at the next write")


__all__ = ["TRUNCATED", "WITNESS", "WITNESS_ENV", "WitnessedCheckpoint", "add_cosignature", "advance", "check_witness",
           "load", "witness_for_verify", "witness_path"]
