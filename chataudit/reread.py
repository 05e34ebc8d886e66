"""Wall-clock times read in the wrong zone: warn when it may happen, and re-read a source in another.

An export that prints only wall-clock times (WhatsApp, MemoTrace TXT, PyWxDump CSV, generic files
without offsets) is read in ``--tz``; without it, in the archive's zone, else this machine's. When
neither was set the machine's zone is a guess, and every message of the file is off by whole hours
if the export was made elsewhere: :func:`wall_clock_warning` says so at import.

:func:`reread` reads the same file again in another zone and replaces the source's messages, in one
transaction, as an *amendment* the ledger records: the file must be the one imported (same
SHA-256); it becomes a new source (its ``sha256`` is the file's SHA-256 followed by ``@ZONE``,
since the archive keeps one source per reading); the old source's messages that no other source
holds are purged through the ledger — each message's leaf stays as its tombstone and a signed purge
event says "re-read in ZONE as source N by OPERATOR" — and an audit entry names who re-read what.
`verify` still passes and lists the purges and the re-reading as notices.
"""

from __future__ import annotations

from datetime import timedelta, timezone
from itertools import islice
from pathlib import Path
from typing import Any

from . import formats, importer
from .ledger import attach as attach_ledger
from .errors import ChatAuditError
from .formats import ParseOptions
from .model import Message, default_zone_name, zone
from .store import Archive, SourceInfo

REREAD_COMMAND = "import --reread"
PROBE_RECORDS = 200  # records read twice to learn whether a file's instants depend on the zone
# two zones no export uses, so an instant that moves between them was a wall-clock time
PROBE_ZONES = (timezone.utc, timezone(timedelta(hours=5, minutes=45)))


def depends_on_zone(module: Any, unit: Path, me: str | None = None) -> bool:
    """Whether the first records of ``unit`` (parsed by ``module``) are wall-clock times that the
    zone decides, found by reading them in two zones and comparing the instants."""
    instants = []
    for probe in PROBE_ZONES:
        options = ParseOptions(tz=probe, tz_given=False, me=me)
        try:
            records = module.parse(unit, options)
            instants.append([r.sent_at.timestamp() for r in islice(
                (r for r in records if isinstance(r, Message)), PROBE_RECORDS)])
            close = getattr(records, "close", None)
            if close is not None:
                close()
        except Exception:  # the import itself reports a file it cannot read
            return False
    return instants[0] != instants[1]


def wall_clock_warning(archive: Archive, unit: Path, shown: str, format_name: str | None,
                       tz_given: str | None) -> str | None:
    """The warning for a file whose wall-clock times were read in this machine's zone because
    neither ``--tz`` nor the archive said which zone they are in; else None."""
    if tz_given or archive.setting("tz") or not format_name:
        return None
    try:
        module = formats.get(format_name)
    except ChatAuditError:
        return None
    if not depends_on_zone(module, unit):
        return None
    return (f"{shown}: its times carry no zone and were read in {default_zone_name()} (this machine's zone; "
            "no --tz was given and the archive has none yet). If the export was made in another zone, every "
            "message is off by whole hours: re-read it with `chataudit import --reread SOURCE --tz ZONE "
            f"{shown}`")


# ---- re-reading ----------------------------------------------------------------------------------

def resolve_source(archive: Archive, ref: str) -> dict[str, Any]:
    """One source by id, SHA-256 (or 8+ leading hex digits), path or label."""
    db = archive.db
    ref = str(ref).strip()
    rows = db.execute("SELECT * FROM sources WHERE id = ?", (int(ref),)).fetchall() if ref.isdigit() else []
    if not rows and len(ref) >= 8 and all(c in "0123456789abcdefABCDEF" for c in ref):
        rows = db.execute("SELECT * FROM sources WHERE sha256 LIKE ? ORDER BY id", (ref.lower() + "%",)).fetchall()
    if not rows:
        rows = db.execute("SELECT * FROM sources WHERE path = ? OR label = ? ORDER BY id", (ref, ref)).fetchall()
    if not rows:
        raise ChatAuditError(f"no source {ref!r} to re-read (see `chataudit sources`)")
    current = [r for r in rows if _superseded_by(archive, r) is None]
    if len(current) > 1 or not current:
        ids = ", ".join(str(r["id"]) for r in (current or rows))
        raise ChatAuditError(f"{ref!r} names several sources ({ids}); give one id (see `chataudit sources`)")
    return dict(current[0])


def file_sha256_of(source: dict[str, Any]) -> str:
    """The SHA-256 of the file a source was read from (a re-reading's identity adds ``@ZONE``)."""
    return source["sha256"].split("@", 1)[0]


def _superseded_by(archive: Archive, row: Any) -> int | None:
    later = archive.db.execute("SELECT max(id) FROM sources WHERE id > ? AND (sha256 = ? OR sha256 LIKE ?)",
                               (row["id"], file_sha256_of(row), file_sha256_of(row) + "@%")).fetchone()[0]
    return later


def _find_unit(path: Path, sha256: str) -> tuple[Path, str]:
    """The file, folder or zip member under ``path`` whose SHA-256 is ``sha256``."""
    for unit, shown, _ in importer._units(path):
        digest = importer.folder_sha256(unit)[0] if unit.is_dir() else importer.file_sha256(unit)[0]
        if digest == sha256:
            return unit, shown
    raise ChatAuditError(f"{path} is not the file that was imported (its SHA-256 is not the source's "
                         f"{sha256}); re-reading needs the very same file")


def _reading_id(archive: Archive, sha256: str, zone_name: str) -> str:
    """``sha256@ZONE``, numbered if the file was already read in that zone once."""
    candidate, number = f"{sha256}@{zone_name}", 1
    while archive.source_by_sha256(candidate) is not None:
        number += 1
        candidate = f"{sha256}@{zone_name}#{number}"
    return candidate


def reread(archive: Archive, source_ref: str, path: str | Path, tz: str, *, operator: str,
           format_name: str | None = None, me: str | None = None, params: dict[str, Any] | None = None,
           key_path: str | None = None) -> dict[str, Any]:
    """Read a source's file again in ``tz`` and replace the source's messages, in one transaction
    (see the module docstring); returns what changed."""
    from .governance import audit
    from .ledger.log import Ledger

    if not tz:
        raise ChatAuditError("--reread needs --tz ZONE: the zone the export's wall-clock times were written in")
    zone(tz)  # an unknown zone is an error before anything is read
    old = resolve_source(archive, source_ref)
    unit, shown = _find_unit(Path(path), file_sha256_of(old))
    module = formats.get(format_name or old["format"])
    source = SourceInfo(path=shown, sha256=_reading_id(archive, file_sha256_of(old), tz), size=old["size"],
                        format=module.NAME, label=old["label"])
    outcome: dict[str, Any] = {}

    def amend(archive_: Archive, new_id: int) -> None:
        """Runs inside the new source's import transaction, after the ledger appended it."""
        db = archive_.db
        gone = [row[0] for row in db.execute(
            "SELECT si.message FROM sightings si WHERE si.source = ? AND NOT EXISTS"
            " (SELECT 1 FROM sightings o WHERE o.message = si.message AND o.source <> si.source)"
            " ORDER BY si.message", (old["id"],))]
        kept = db.execute("SELECT count(*) FROM sightings WHERE source = ?", (old["id"],)).fetchone()[0] - len(gone)
        reason = f"re-read in {tz}: source {old['id']} replaced by source {new_id} (by {operator})"
        checkpoint = None
        if gone:
            try:
                checkpoint = Ledger(archive_, key_path).purge_many((message, reason) for message in gone)
            except Exception as error:  # a legal hold's trigger, or a ledger that does not verify
                raise ChatAuditError(f"cannot re-read source {old['id']}: {error}") from None
        facts = {"source": old["id"], "new_source": new_id, "file_sha256": file_sha256_of(old), "tz": tz,
                 "replaced": len(gone), "kept": kept}
        entry = audit.record(archive_, operator=operator, command=REREAD_COMMAND,
                             params=params or {"source": source_ref, "path": str(path), "tz": tz},
                             records=len(gone), facts=facts)
        outcome.update(facts, audit_entry=entry, checkpoint=checkpoint.as_dict() if checkpoint else None)

    attach_ledger(archive)
    archive.after_import.append(amend)
    try:
        options = ParseOptions(tz=zone(tz), tz_given=True, me=me)
        result = archive.import_records(source, module.parse(unit, options))
    finally:
        archive.after_import.remove(amend)
    if not archive.setting("tz"):
        archive.set_setting("tz", tz)
    return {"path": shown, "format": module.NAME, "label": old["label"], "messages": result.messages,
            "new": result.new, **outcome}
