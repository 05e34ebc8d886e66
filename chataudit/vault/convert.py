"""Encrypt, decrypt and re-key an archive in place, crash-safe.

Each is one rewrite: the archive is copied with ``sqlcipher_export`` into ``X.db.rewriting`` under
the new key (or none), the copy is checked table by table against the original and fsynced, the new
vault header is written as ``X.db.vault.next``, then the copy is renamed over the archive and the
header over ``X.db.vault``. A ``kill -9`` at any point leaves either the old file with the header
that opens it, or the new one with its own: :func:`chataudit.vault.keys.read_header` picks the
header whose file salt (SQLCipher's first 16 bytes) matches the file, and a plain SQLite file
ignores any header. The rewrite holds the archive exclusively (no other reader or writer meanwhile).

What it cannot do: the old file's blocks stay on the disk until the file system reuses them
(README, threat model — encrypt at ``init`` to never have a plaintext file).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from sqlcipher3 import dbapi2 as sqlcipher

from ..errors import ChatAuditError
from . import keys
from .keys import Header, Secret

REWRITE_SUFFIX = ".rewriting"
FAULT_ENV = "CHATAUDIT_FAULT_KILL"  # tests: kill -9 this process at the named point


def fault_point(name: str) -> None:
    """Die here with SIGKILL when $CHATAUDIT_FAULT_KILL names this point (the fault tests' hook)."""
    if os.environ.get(FAULT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def status(db_path: str | os.PathLike[str]) -> dict[str, Any]:
    """Whether the archive is encrypted, and how its key is derived (nothing secret)."""
    plain = keys.is_plain_sqlite(db_path)
    header = None if plain else keys.read_header(db_path)
    return {"archive": os.fspath(db_path), "encrypted": header is not None and plain is False,
            "cipher": header.cipher if header else None, "kdf": header.kdf if header else None,
            "header": str(keys.header_path(db_path)) if header else None}


def encrypt(db_path: str | os.PathLike[str], secret: Secret, kdf_params: dict | None = None) -> dict[str, Any]:
    """Make a plain archive (or a new one, when the file does not exist) an encrypted one."""
    path = Path(db_path)
    plain = keys.is_plain_sqlite(path)
    if plain is False:
        raise ChatAuditError(f"{path}: already encrypted (use `chataudit key change` to change its key)"
                             if keys.read_header(path) else f"{path}: not an archive file")
    header, key = keys.new_header(secret, kdf_params)
    if plain is None:
        _create_encrypted(path, header, key)
        return {**status(path), "tables": 0, "rows": 0}
    counts = _rewrite(path, None, key, header)
    return {**status(path), **counts}


def decrypt(db_path: str | os.PathLike[str]) -> dict[str, Any]:
    """Make an encrypted archive plain again (the user asks for it; the key must open it)."""
    path = Path(db_path)
    key = _current_key(path)
    counts = _rewrite(path, key, None, None)
    keys.header_path(path).unlink(missing_ok=True)
    return {**status(path), **counts}


def rekey(db_path: str | os.PathLike[str], new_secret: Secret, kdf_params: dict | None = None) -> dict[str, Any]:
    """Re-encrypt an encrypted archive under a new passphrase or key file (every page rewritten)."""
    path = Path(db_path)
    key = _current_key(path)
    header, new_key = keys.new_header(new_secret, kdf_params)
    counts = _rewrite(path, key, new_key, header)
    return {**status(path), **counts}


def _current_key(path: Path) -> bytes:
    if not path.exists():
        raise ChatAuditError(f"{path}: no such archive")
    key = keys.archive_key(path)
    if key is None:
        raise ChatAuditError(f"{path}: not encrypted (see `chataudit encrypt`)")
    return key


def _key_literal(key: bytes | None) -> str:
    return "''" if key is None else f"\"x'{key.hex()}'\""


def _open(path: Path, key: bytes | None) -> Any:
    db = sqlcipher.connect(f"{path.absolute().as_uri()}?mode=rw", uri=True, isolation_level=None, timeout=0.25)
    db.execute("PRAGMA cipher_log_level = NONE")
    if key is not None:
        db.execute(f"PRAGMA key = {_key_literal(key)}")
    return db


def _create_encrypted(path: Path, header: Header, key: bytes) -> None:
    """A new, empty encrypted file and its header, appearing together (the schema comes at first open)."""
    temporary = path.with_name(path.name + REWRITE_SUFFIX)
    temporary.unlink(missing_ok=True)
    db = sqlcipher.connect(os.fspath(temporary), isolation_level=None)
    try:
        db.execute(f"PRAGMA key = {_key_literal(key)}")
        db.execute("PRAGMA journal_mode = WAL")  # creates page 1, hence the file salt
    finally:
        db.close()
    _sync(temporary)
    _install(path, temporary, header)


def _install(path: Path, temporary: Path, header: Header | None) -> None:
    """Swap the rewritten file in: its header first (as .next), then the file, then the header."""
    if header is not None:
        header = Header(**{**header.as_dict(), "file_salt": keys.file_salt(temporary)})
        keys.write_atomic(keys.next_header_path(path), keys.header_bytes(header))
        fault_point("rewrite:header")
    os.replace(temporary, path)
    keys.fsync_folder(path.parent)
    fault_point("rewrite:renamed")
    if header is not None:
        os.replace(keys.next_header_path(path), keys.header_path(path))
        keys.fsync_folder(path.parent)


def _sync(path: Path) -> None:
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _rewrite(path: Path, old_key: bytes | None, new_key: bytes | None, header: Header | None) -> dict[str, int]:
    """Copy the archive under ``new_key``, check the copy, swap it in; returns what was copied."""
    temporary = path.with_name(path.name + REWRITE_SUFFIX)
    for stale in (temporary, Path(f"{temporary}-journal")):
        stale.unlink(missing_ok=True)  # an interrupted earlier rewrite
    db = _open(path, old_key)
    try:
        try:
            # leave WAL (its -wal file would outlive the swap) and keep every other process out
            db.execute("PRAGMA journal_mode = DELETE").fetchone()
            db.execute("PRAGMA locking_mode = EXCLUSIVE")
            db.execute("BEGIN EXCLUSIVE")
            db.execute("COMMIT")
        except sqlcipher.OperationalError as error:
            raise ChatAuditError(f"{path}: in use by another process ({error}); stop `serve` and imports, "
                                 "then try again") from None
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = [row[0] for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND rootpage > 0 AND name NOT LIKE 'sqlite_%'")]
        counts = {name: db.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in tables}
        db.execute(f"ATTACH DATABASE ? AS rewritten KEY {_key_literal(new_key)}", (os.fspath(temporary),))
        db.execute("SELECT sqlcipher_export('rewritten')").fetchone()
        db.execute(f"PRAGMA rewritten.user_version = {int(version)}")
        fault_point("rewrite:exported")
        for name, count in counts.items():
            copied = db.execute(f'SELECT count(*) FROM rewritten."{name}"').fetchone()[0]
            if copied != count:
                raise ChatAuditError(f"{path}: the rewritten copy holds {copied} rows of {name}, not {count}; "
                                     "nothing was changed")
        db.execute("DETACH DATABASE rewritten")
        _sync(temporary)
        _install(path, temporary, header)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    finally:
        db.close()
    return {"tables": len(counts), "rows": sum(counts.values())}
