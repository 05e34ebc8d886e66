"""The server's settings, fixed when `serve` starts (tests build their own)."""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ..store import Archive, is_postgres

POOLED_CACHE_KIB = 16384  # page cache of each kept connection (up to one per server thread)


@dataclass
class ServerConfig:
    db: Path | str  # an archive file, or a postgresql:// connection string
    token: str  # the owner's login token (`?token=`, `Authorization: Bearer`)
    owner: str  # the owner's operator name in the audit trail (--operator, else the OS user)
    tls: bool = False  # cookies are Secure under TLS
    jobs_dir: Path | None = None  # uploads waiting for their job (default: beside the archive)
    login_attempts: int = 5  # failed logins per client and per name within login_window_s
    login_window_s: float = 300.0
    max_upload_bytes: int = 2 << 30
    # Host headers answered (None: any). `serve` on loopback answers only loopback names, so a web
    # page whose name was rebound to 127.0.0.1 (DNS rebinding) cannot talk to it.
    allowed_hosts: list[str] | None = None
    extra: dict = field(default_factory=dict)
    # requests served at once (the threads sync endpoints run in): one Python process interprets one
    # thread at a time, so more threads than this only contend for it, and every answer comes later
    threads: int = 4
    _kept: threading.local = field(default_factory=threading.local, repr=False, compare=False)

    @contextmanager
    def open_archive(self) -> Iterator[Archive]:
        """The archive for one request or job, as ``with config.open_archive() as archive``.

        Each server thread keeps one open connection and hands it to its next request (opening one
        costs the schema's parse and the migrations' check, about as much as a search). It is handed
        out clean — no transaction, no hooks left from the last user — or not at all: one left in a
        transaction, or one whose file was replaced, is closed and a new one opened. A nested open in
        the same thread gets its own connection. SQLite connections never cross threads.
        """
        if getattr(self._kept, "busy", False):
            with Archive(self.db, create=False) as own:
                yield own
            return
        kept: Archive | None = getattr(self._kept, "archive", None)
        if kept is not None and not self._same_file():
            self._drop(kept)
            kept = None
        if kept is None:
            identity = _identity(self.db) if not is_postgres(self.db) and os.path.exists(self.db) else None
            kept = Archive(self.db, create=False)
            kept.db.execute(f"PRAGMA cache_size=-{POOLED_CACHE_KIB}")
            self._kept.archive, self._kept.identity = kept, identity
        self._kept.busy = True
        try:
            yield kept
        finally:
            self._kept.busy = False
            self._release(kept)

    def _release(self, archive: Archive) -> None:
        """What close() runs after a request (the ledger's witness hook); the connection is kept only
        when nothing of this request stays on it (one left inside a transaction is closed, as
        close() would: rolled back)."""
        if archive.db.in_transaction:
            self._drop(archive)
            return
        try:
            hooks, archive.on_close = archive.on_close, []
            for hook in hooks:
                hook(archive)
            archive.after_import.clear()
            archive.db.on_wait = archive.db.wait_limit_s = None
        except BaseException:
            self._drop(archive)
            raise

    def _drop(self, archive: Archive) -> None:
        self._kept.archive = None
        archive.db.close()

    def _same_file(self) -> bool:
        if is_postgres(self.db):
            return True  # a database is not replaced under its connections as a file can be
        try:
            return _identity(self.db) == self._kept.identity
        except OSError:
            return False

    @property
    def uploads(self) -> Path:
        folder = self.jobs_dir or self.beside(".jobs")
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def beside(self, suffix: str) -> Path:
        """Where the server keeps its files of this archive: beside an archive file; for a
        PostgreSQL archive (no file of its own) in $XDG_DATA_HOME/chataudit (default
        ~/.local/share/chataudit), named after its host, port and database."""
        if is_postgres(self.db):
            from ..store.postgres import key_name

            data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
            return Path(data).expanduser() / "chataudit" / (key_name(str(self.db)) + suffix)
        return Path(self.db).with_name(Path(self.db).name + suffix)


def _identity(path: Path) -> tuple[int, int]:
    status = os.stat(path)
    return status.st_dev, status.st_ino
