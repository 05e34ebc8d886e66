"""Backups of an archive: take (online, consistent), list, verify, restore, rotate.

A backup is a snapshot taken with SQLite's backup API in one step (one read transaction: an import
committing meanwhile is wholly in or wholly out; the WAL lets it go on) into a temporary file beside
the archive — encrypted under the archive's own key when the archive is — then written as
:mod:`.stream` frames, then its manifest. An encrypted archive's backups are sealed under a key
derived from the archive's key (restoring needs that key, the one the archive had when the backup
was taken); a plain archive's under the key given (key file or passphrase), or, asked with
``plain=True``, under none. Every backup and restore is an entry of the audit trail.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO, Iterator

import orjson

from ..errors import ChatAuditError
from ..store import Archive
from ..store.sqlite import connect
from ..vault import keys
from ..vault.convert import _install, fault_point
from . import stream
from .dest import Bucket, Folder, destination
from .stream import PLAIN_KEY, BackupRefused

FORMAT = "chataudit-backup/1"
SUFFIX = ".cabackup"
MANIFEST = ".manifest.json"
RECORD_WAIT_S = 6 * 3600.0
STAGING = ".chataudit-backup-"  # + pid: the snapshot's folder beside the archive


def _clear_stale(folder: Path) -> None:
    """Remove the snapshot folders of backups whose process died (kill -9, power loss)."""
    for entry in folder.glob(f"{STAGING}*"):
        try:
            pid = int(entry.name[len(STAGING):].split("-", 1)[0])
            os.kill(pid, 0)
        except ValueError:
            continue
        except ProcessLookupError:
            shutil.rmtree(entry, ignore_errors=True)
        except PermissionError:
            continue


def _now() -> datetime:
    return datetime.now(timezone.utc)


def identity(archive: Archive) -> str:
    """The archive's identity: its ledger origin (random per archive, signed into every checkpoint)."""
    from ..ledger.log import Ledger

    origin = Ledger(archive).origin
    if not origin:
        raise ChatAuditError(f"{archive.path}: no ledger yet (run `chataudit init`): a backup is checked "
                             "against its signed checkpoint")
    return origin


def _master(archive: Archive, secret: keys.Secret | None, plain: bool) -> tuple[bytes, dict | None]:
    """The key the backup is sealed under, and the vault header that derives it again (None: plain)."""
    if plain:
        return PLAIN_KEY, None
    if archive.key is not None:
        header = keys.read_header(archive.path)
        assert header is not None  # the archive opened with it
        return archive.key, header.as_dict()
    if secret is None:
        raise ChatAuditError("a backup is encrypted: give its key (--key-file, $CHATAUDIT_DB_KEY_FILE or the passphrase "
                             "in $CHATAUDIT_DB_KEY), or ask for an unencrypted one with --plain")
    header, key = keys.new_header(secret, None)
    return key, header.as_dict()


def _snapshot(archive: Archive, folder: Path, plain: bool) -> tuple[Path, dict[str, Any]]:
    """A consistent copy of the archive (backup API, one step) and the checkpoint it holds."""
    target = folder / "snapshot.db"
    copy = connect(target, archive.key)
    try:
        archive.db.backup(copy)
        row = copy.execute("SELECT id, tree_size, root FROM ledger_checkpoints ORDER BY id DESC LIMIT 1").fetchone()
        version = copy.execute("PRAGMA user_version").fetchone()[0]
    finally:
        copy.close()
    if plain and archive.key is not None:  # the user asked for a readable backup of an encrypted archive
        readable = folder / "readable.db"
        export = connect(target, archive.key)
        try:
            export.execute(f"ATTACH DATABASE ? AS readable KEY ''", (os.fspath(readable),))
            export.execute("SELECT sqlcipher_export('readable')").fetchone()
            export.execute(f"PRAGMA readable.user_version = {int(version)}")
            export.execute("DETACH DATABASE readable")
        finally:
            export.close()
        target.unlink()
        target = readable
    checkpoint = {"id": row[0], "tree_size": row[1], "root": bytes(row[2]).hex()} if row else None
    return target, {"checkpoint": checkpoint, "schema_version": version}


def create(archive: Archive, dest_text: str, *, keep: int | None = None, plain: bool = False,
           secret: keys.Secret | None = None, operator: str = "", params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Take one backup of ``archive`` to ``dest_text``, then keep the newest ``keep`` of this archive's."""
    dest = destination(dest_text, create=True)
    origin = identity(archive)
    master, key_header = _master(archive, secret, plain)
    moment = _now()
    name = f"chataudit-{origin.rsplit('/', 1)[-1]}-{moment.strftime('%Y%m%dT%H%M%S%fZ')}"
    _clear_stale(archive.path.absolute().parent)
    folder = Path(tempfile.mkdtemp(prefix=f"{STAGING}{os.getpid()}-", dir=archive.path.absolute().parent))
    try:
        snapshot, facts = _snapshot(archive, folder, plain)
        if facts["checkpoint"] is None:
            raise ChatAuditError(f"{archive.path}: no signed checkpoint yet (run `chataudit init`)")
        header = {"format": FORMAT, "archive_id": origin, "created_at": moment.isoformat(timespec="seconds"),
                  "encrypted": not plain, "archive_encrypted": archive.key is not None and not plain,
                  "key": key_header, **facts}
        if isinstance(dest, Folder):
            out, partial = dest.writer(name + SUFFIX)
        else:
            partial = folder / (name + SUFFIX)
            out = open(partial, "wb")
        with out, open(snapshot, "rb") as source:
            written = stream.write(out, header, master, source, on_frame=lambda n: fault_point("backup:frame"),
                                   compress=not header["archive_encrypted"])
        fault_point("backup:written")
        if isinstance(dest, Folder):
            dest.commit(partial, name + SUFFIX)
        else:
            dest.put_file(name + SUFFIX, partial)
        fault_point("backup:committed")
        manifest = {"format": FORMAT, "name": name, "file": name + SUFFIX, "archive_id": origin,
                    "created_at": header["created_at"], "size": written.size, "sha256": written.sha256,
                    "header_sha256": written.header_sha256, "snapshot_size": written.snapshot_size,
                    "snapshot_sha256": written.snapshot_sha256, "checkpoint": facts["checkpoint"],
                    "schema_version": facts["schema_version"], "encrypted": header["encrypted"],
                    "archive_encrypted": header["archive_encrypted"]}
        dest.put_bytes(name + MANIFEST, orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    removed = rotate(dest, origin, keep) if keep else []
    result = {**manifest, "destination": dest.label, "removed": removed}
    _record(archive, operator, "backup", params or {}, {
        "backup": name, "destination": dest.label, "sha256": manifest["sha256"], "size": manifest["size"],
        "tree_size": facts["checkpoint"]["tree_size"], "root": facts["checkpoint"]["root"],
        "encrypted": header["encrypted"], "removed": removed})
    return result


def _record(archive: Archive, operator: str, command: str, params: dict[str, Any], facts: dict[str, Any]) -> int:
    from ..governance import audit

    # the entry waits for a running import to commit (the snapshot did not: it is already written)
    limit, archive.db.wait_limit_s = archive.db.wait_limit_s, RECORD_WAIT_S
    try:
        return audit.record(archive, operator=operator or audit.os_user(), command=command, params=params,
                            facts=facts)
    finally:
        archive.db.wait_limit_s = limit


# ---- listing ------------------------------------------------------------------------------------------

def _manifest(dest: Folder | Bucket, name: str) -> dict[str, Any]:
    with dest.open(name) as handle:
        data = handle.read(1 << 20)
    try:
        manifest = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise BackupRefused("damaged", f"{name}: manifest is not readable") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupRefused("damaged", f"{name}: not a chataudit backup manifest")
    return manifest


def listing(dest_text: str, archive_id: str | None = None) -> list[dict[str, Any]]:
    """Every backup in the destination, oldest first: complete ones (backup + manifest, sizes agree)
    and the rest (``incomplete``: a backup without its manifest, as an interrupted one leaves)."""
    dest = destination(dest_text)
    names = dest.names()
    present = set(names)
    rows = []
    for entry in names:
        if entry.endswith(MANIFEST):
            try:
                manifest = _manifest(dest, entry)
            except BackupRefused as error:
                rows.append(_row(entry[: -len(MANIFEST)], None, "damaged", str(error)))
                continue
            if archive_id and manifest.get("archive_id") != archive_id:
                continue
            if manifest.get("file") not in present:
                status, detail = "missing", "the manifest's backup file is not there"
            elif dest.size(manifest["file"]) != manifest.get("size"):
                status, detail = "damaged", f"size {dest.size(manifest['file'])}, manifest says {manifest.get('size')}"
            else:
                status, detail = "complete", None
            rows.append(_row(manifest["name"], manifest, status, detail))
        elif entry.endswith(SUFFIX) and entry[: -len(SUFFIX)] + MANIFEST not in present or entry.endswith(".partial"):
            rows.append(_row(entry.removesuffix(".partial").removesuffix(SUFFIX), None, "incomplete",
                             "no manifest: interrupted or half-written, never restored from"))
    rows.sort(key=lambda row: (row["created_at"] or "", row["name"]))
    return rows


def _row(name: str, manifest: dict[str, Any] | None, status: str, detail: str | None) -> dict[str, Any]:
    manifest = manifest or {}
    checkpoint = manifest.get("checkpoint") or {}
    return {"name": name, "status": status, "created_at": manifest.get("created_at"),
            "archive_id": manifest.get("archive_id"), "size": manifest.get("size"), "sha256": manifest.get("sha256"),
            "tree_size": checkpoint.get("tree_size"), "root": checkpoint.get("root"),
            "encrypted": manifest.get("encrypted"), "detail": detail}


def rotate(dest: Folder | Bucket, archive_id: str, keep: int) -> list[str]:
    """Delete this archive's oldest complete backups beyond ``keep`` (manifest first: a crash in
    between leaves a backup without manifest, which is never listed as good)."""
    complete = [row for row in listing(dest.label, archive_id) if row["status"] == "complete"]
    removed = []
    for row in complete[: max(0, len(complete) - keep)]:
        dest.delete(row["name"] + MANIFEST)
        dest.delete(row["name"] + SUFFIX)
        removed.append(row["name"])
    return removed


# ---- verifying and restoring ------------------------------------------------------------------------

class _Hashing:
    """A reader that hashes what it gives."""

    def __init__(self, source: BinaryIO):
        self.source, self.sha256, self.size = source, hashlib.sha256(), 0

    def read(self, count: int) -> bytes:
        data = self.source.read(count)
        self.sha256.update(data)
        self.size += len(data)
        return data


def _opening_key(header: dict[str, Any], archive: Archive | None, secret: keys.Secret | None) -> bytes:
    if not header.get("encrypted"):
        return PLAIN_KEY
    try:
        key_header = keys.Header.from_dict(header.get("key") or {})
    except ChatAuditError:
        raise BackupRefused("damaged", "its key header is not readable (damaged)") from None
    if archive is not None and archive.key is not None and keys.key_check(archive.key) == key_header.check:
        return archive.key
    if secret is None:
        if archive is not None and archive.key is not None:
            raise BackupRefused("wrong_key", "encrypted under another key than this archive's (give the key it was "
                                             "taken under: --key-file, or the passphrase in $CHATAUDIT_DB_KEY)")
        raise ChatAuditError("the backup is encrypted: give its key (--key-file, $CHATAUDIT_DB_KEY_FILE, or the "
                             "passphrase in $CHATAUDIT_DB_KEY)")
    try:
        return keys.derive(key_header, secret)
    except keys.WrongKeyError:
        raise BackupRefused("wrong_key", f"encrypted under another key ({secret.origin} does not open it)") from None


def _chunks(dest: Folder | Bucket, manifest: dict[str, Any], archive: Archive | None, secret: keys.Secret | None,
            expected_id: str | None) -> Iterator[tuple[dict[str, Any], bytes]]:
    """The snapshot's chunks, each authenticated, then a final check of sizes and digests."""
    if expected_id and manifest.get("archive_id") != expected_id:
        raise BackupRefused("other_archive", f"from another archive ({manifest.get('archive_id')}; this one is {expected_id})")
    with dest.open(manifest["file"]) as raw:
        source = _Hashing(raw)
        header, head = stream.read_header(source)
        if hashlib.sha256(head).hexdigest() != manifest.get("header_sha256") or header.get("archive_id") != manifest.get("archive_id"):
            raise BackupRefused("damaged", "its header does not match its manifest (changed or swapped)")
        if expected_id and header.get("archive_id") != expected_id:
            raise BackupRefused("other_archive", f"from another archive ({header.get('archive_id')})")
        master = _opening_key(header, archive, secret)
        snapshot = hashlib.sha256()
        size = 0
        for chunk in stream.frames(source, header, head, master):
            snapshot.update(chunk)
            size += len(chunk)
            yield header, chunk
    if source.sha256.hexdigest() != manifest.get("sha256") or source.size != manifest.get("size"):
        raise BackupRefused("damaged", "its SHA-256 differs from its manifest")
    if snapshot.hexdigest() != manifest.get("snapshot_sha256") or size != manifest.get("snapshot_size"):
        raise BackupRefused("damaged", "its snapshot's SHA-256 differs from its manifest")


def _complete(dest: Folder | Bucket, name: str | None, archive_id: str | None) -> list[dict[str, Any]]:
    rows = listing(dest.label)
    if name is not None:
        rows = [row for row in rows if row["name"] == name or f"{row['name']}{SUFFIX}" == name]
        if not rows:
            raise ChatAuditError(f"{dest.label}: no backup named {name} (see `chataudit backup list`)")
    return rows


def verify(dest_text: str, name: str | None = None, *, archive: Archive | None = None,
           secret: keys.Secret | None = None, any_archive: bool = False) -> list[dict[str, Any]]:
    """Check every backup (or one) end to end without restoring it: its digest, every frame's
    authentication, the snapshot's digest, and that it belongs to ``archive``."""
    dest = destination(dest_text)
    expected = identity(archive) if archive is not None and not any_archive else None
    results = []
    for row in _complete(dest, name, None):
        result = {"name": row["name"], "ok": False, "reason": None, "detail": None, "created_at": row["created_at"],
                  "tree_size": row["tree_size"], "root": row["root"]}
        if row["status"] != "complete":
            result.update(reason=row["status"], detail=row["detail"])
        else:
            try:
                for _ in _chunks(dest, _manifest(dest, row["name"] + MANIFEST), archive, secret, expected):
                    pass
                result["ok"] = True
            except BackupRefused as error:
                result.update(reason=error.reason, detail=str(error))
        results.append(result)
    return results


def restore(dest_text: str, name: str, into: str | os.PathLike[str], *, archive: Archive | None = None,
            secret: keys.Secret | None = None, any_archive: bool = False, operator: str = "",
            params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Restore one backup into the new file ``into``, verify it, and check that it holds the backup's
    checkpoint. Nothing is left at ``into`` unless all of that holds."""
    from ..ledger.log import Ledger
    from ..ledger.verify import verify_archive

    dest = destination(dest_text)
    target = Path(into)
    if target.exists():
        raise ChatAuditError(f"{target}: exists; restore writes a new file (choose another --into)")
    if not target.absolute().parent.is_dir():
        raise ChatAuditError(f"{target}: folder {target.absolute().parent} does not exist")
    row = _complete(dest, name, None)[0]
    if row["status"] != "complete":
        raise BackupRefused(row["status"], f"{row['name']}: {row['status']}: {row['detail']}")
    manifest = _manifest(dest, row["name"] + MANIFEST)
    expected = identity(archive) if archive is not None and not any_archive else None
    partial = target.with_name(target.name + ".restoring")
    partial.unlink(missing_ok=True)
    header: dict[str, Any] = {}
    try:
        with open(partial, "wb") as out:
            for header, chunk in _chunks(dest, manifest, archive, secret, expected):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        fault_point("restore:written")
        master = _opening_key(header, archive, secret) if header.get("archive_encrypted") else None
        vault_header = keys.Header.from_dict(header["key"]) if master is not None else None
        _install(target, partial, vault_header)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    try:
        with Archive(target, create=False, key=master) as restored:
            report = verify_archive(restored, check_timestamps=False)
            latest = Ledger(restored).latest_checkpoint()
            held = {"tree_size": latest.tree_size, "root": latest.root.hex()} if latest else None
            wanted = {k: manifest["checkpoint"][k] for k in ("tree_size", "root")}
            ok = report.ok and held == wanted
            result = {"name": row["name"], "into": str(target), "ok": ok, "verify_ok": report.ok,
                      "problems": report.problem_count, "checkpoint": held, "expected_checkpoint": wanted,
                      "encrypted": master is not None, "audit_entry": None}
    except BaseException:
        _remove(target)
        raise
    if not ok:
        _remove(target)
        return result
    if archive is not None:  # the restored copy cannot sign (its signing key stays with the archive)
        result["audit_entry"] = _record(archive, operator, "backup restore", params or {}, {
            "backup": row["name"], "destination": dest.label, "into": str(target.absolute()),
            "sha256": manifest["sha256"], **wanted})
    return result


def _remove(target: Path) -> None:
    for path in (target, Path(f"{target}-wal"), Path(f"{target}-shm"), keys.header_path(target),
                 keys.next_header_path(target)):
        path.unlink(missing_ok=True)
