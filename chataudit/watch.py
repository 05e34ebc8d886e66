"""Continuous import: watch folders and import new and grown export files once they are complete.

A file is imported once it is complete: its size and modification time did not change between two
looks (``settle`` seconds apart), or it is a zip whose central directory reads (a zip is written
last). What the watcher saw of each file is kept in the archive (``watch_files``, migration 0019),
so a restarted watcher goes on where it stopped. A grown re-export is a new source whose messages
already in the archive are duplicates: only its new messages are added. A file that cannot be
imported is refused with its reason and looked at again only when it changes; it never stops the
watcher. One watcher per archive: a second one is refused while the first holds the lock file
``<archive>.watch.lock`` (an advisory ``flock``, released by the system when the watcher dies).
"""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import threading
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from .errors import ChatAuditError
from .importer import IGNORED_NAMES, import_paths
from .store import Archive, is_postgres

DEFAULT_INTERVAL = 60.0
DEFAULT_SETTLE = 2.0
WATCH_LOCK = 0x77617463  # "watc": the one-watcher lock of a PostgreSQL archive (see WatchLock)
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str) -> float:
    """Seconds from ``60``, ``60s``, ``5m``, ``1h`` or ``500ms``; anything else is a one-line error."""
    match = _DURATION.fullmatch(text)
    if not match or float(match.group(1)) <= 0:
        raise ChatAuditError(f"{text!r} is not a duration (examples: 30s, 5m, 1h)")
    return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass
class Event:
    """One line of a watcher's log: what happened to one file in one look."""

    path: str
    status: str  # imported | already_imported | refused | waiting | error
    format: str | None = None
    messages: int = 0
    new: int = 0
    reason: str | None = None
    at: str = field(default_factory=lambda: _now())

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at, "path": self.path, "status": self.status, "format": self.format,
                "messages": self.messages, "new": self.new, "reason": self.reason}

    def line(self) -> str:
        if self.status == "imported":
            what = f"imported {self.new:,} new of {self.messages:,} messages ({self.format})"
        elif self.status == "already_imported":
            what = f"already imported ({self.format}), nothing added"
        elif self.status == "waiting":
            what = f"waiting: {self.reason}"
        else:
            what = f"{self.status}: {self.reason}"
        return f"{self.at} {self.path}: {what}"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


class WatchLock:
    """The one-watcher-per-archive lock: ``<archive>.watch.lock``, flock'ed while the watcher runs."""

    def __init__(self, archive_path: Path):
        self.location = archive_path
        self.path = Path(str(archive_path) + ".watch.lock")
        self.handle: Any = None

    def __enter__(self) -> "WatchLock":
        if is_postgres(self.location):  # no file beside the archive: a lock of the database, for the session
            from .store.postgres import session_lock

            held = session_lock(str(self.location), "watch", WATCH_LOCK)
            if isinstance(held, str):
                raise ChatAuditError(f"another watcher ({held}) already watches this archive; stop it first")
            self.handle = held
            return self
        try:
            import fcntl
        except ImportError:  # Windows
            raise ChatAuditError("watch needs a system with flock (Linux, macOS, BSD)") from None

        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise ChatAuditError(f"another watcher ({holder}) already watches this archive "
                                 f"(it holds {self.path}); stop it first") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        self.handle = handle
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.handle is not None and is_postgres(self.location):
            self.handle.close()  # ends the session and its lock
            self.handle = None
        if self.handle is not None:
            self.handle.truncate(0)
            self.handle.close()  # closing releases the flock
            self.handle = None


def candidate_files(folder: Path) -> Iterator[Path]:
    """Regular files under ``folder`` (recursively), hidden files and folders and OS litter left out,
    in a stable order."""
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith(".") or name in IGNORED_NAMES:
                continue
            path = Path(root) / name
            try:
                if stat.S_ISREG(path.stat().st_mode):
                    yield path
            except OSError:
                continue  # gone since the listing: the next look decides


def zip_complete(path: Path) -> bool:
    """True when ``path`` is a zip whose central directory reads (a zip writer writes it last)."""
    try:
        with zipfile.ZipFile(path) as bundle:
            bundle.infolist()
        return True
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return False


class Watcher:
    """Looks at folders and imports what is complete and new or changed since the last look."""

    def __init__(self, archive: Archive, folders: list[Path], *, tz: str | None = None, label: str | None = None,
                 me: str | None = None, settle: float = DEFAULT_SETTLE,
                 on_event: Callable[[Event], None] | None = None, stop: threading.Event | None = None):
        missing = [str(f) for f in folders if not Path(f).is_dir()]
        if missing:
            raise ChatAuditError(f"{', '.join(missing)}: no such folder")
        self.archive = archive
        self.folders = [Path(f).absolute() for f in folders]
        self.tz, self.label, self.me, self.settle = tz, label, me, settle
        self.on_event = on_event or (lambda event: None)
        self.stop = stop or threading.Event()  # set: stop after the file being imported
        # the archive's own files (the database, its -wal, key, witness, lock) when it sits in a watched folder
        self.own_prefix = str(Path(archive.path).absolute())

    def _known(self, path: str) -> sqlite3.Row | None:
        return self.archive.db.execute("SELECT * FROM watch_files WHERE path = ?", (path,)).fetchone()

    def _record(self, path: str, size: int, mtime_ns: int, state: str, event: Event | None = None) -> None:
        done = event is not None and state != "waiting"
        self.archive.db.execute(
            "INSERT INTO watch_files (path, size, mtime_ns, state, reason, format, messages, new, looked_at, done_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET size = excluded.size,"
            " mtime_ns = excluded.mtime_ns, state = excluded.state, reason = excluded.reason,"
            " format = excluded.format, messages = excluded.messages, new = excluded.new,"
            " looked_at = excluded.looked_at, done_at = coalesce(excluded.done_at, done_at)",
            (path, size, mtime_ns, state, event.reason if event else None, event.format if event else None,
             event.messages if event else None, event.new if event else None, _now(), _now() if done else None))

    def look(self) -> list[Event]:
        """One look at every folder: import what is complete and new or changed; files still being
        written are looked at again after ``settle`` seconds, then left for the next look."""
        events: list[Event] = []
        paths = [p for folder in self.folders for p in candidate_files(folder) if not str(p).startswith(self.own_prefix)]
        waiting = self._pass(paths, events, first=True)
        if waiting and not self.stop.wait(self.settle):
            self._pass(waiting, events, first=False)
        return events

    def _pass(self, paths: list[Path], events: list[Event], first: bool) -> list[Path]:
        still: list[Path] = []
        for path in paths:
            if self.stop.is_set():
                return []
            try:
                info = path.stat()
            except OSError:
                continue  # removed meanwhile
            key = str(path)
            known = self._known(key)
            unchanged = known is not None and (known["size"], known["mtime_ns"]) == (info.st_size, info.st_mtime_ns)
            if unchanged and known["state"] != "waiting":
                continue  # imported, already there or refused, and not changed since
            complete = (unchanged and info.st_size > 0) or (
                path.suffix.lower() == ".zip" and info.st_size > 0 and zip_complete(path))
            if not complete:
                self._record(key, info.st_size, info.st_mtime_ns, "waiting")
                if not first:  # the first pass is followed by a second look: only its verdict is logged
                    self._emit(Event(key, "waiting", reason="still being written (size or time changed since "
                                     "the last look)" if info.st_size else "empty so far"), events)
                still.append(path)
                continue
            self._import(path, info, events)
        return still

    def _emit(self, event: Event, events: list[Event]) -> None:
        events.append(event)
        self.on_event(event)

    def _import(self, path: Path, info: os.stat_result, events: list[Event]) -> None:
        key = str(path)
        try:
            summary = import_paths(self.archive, [path], tz=self.tz, label=self.label, me=self.me)
        except (ChatAuditError, sqlite3.Error, OSError, MemoryError) as error:
            # the archive or the machine (locked, disk full), not the file: tried again at the next look
            self._emit(Event(key, "error", reason=str(error).splitlines()[0] if str(error) else type(error).__name__),
                       events)
            return
        outcomes = [f for f in summary.files if not f.skipped]
        errors = [f.error for f in outcomes if f.error]
        done = [f for f in outcomes if not f.error and f.format]
        formats = ", ".join(sorted({f.format for f in done if f.format})) or None
        if errors and not done:
            event = Event(key, "refused", reason="; ".join(errors))
        elif not done:
            reasons = "; ".join(f.skipped for f in summary.files if f.skipped) or "nothing to import"
            event = Event(key, "refused", reason=reasons)
        elif all(f.already_imported for f in done):
            event = Event(key, "already_imported", formats, sum(f.messages for f in done), 0)
        else:
            event = Event(key, "imported", formats, sum(f.messages for f in done), sum(f.new for f in done),
                          reason="; ".join(errors) or None)
        self._record(key, info.st_size, info.st_mtime_ns, event.status, event)
        self._emit(event, events)


def watch(archive_path: Path, folders: list[Path], *, interval: float = DEFAULT_INTERVAL, once: bool = False,
          settle: float = DEFAULT_SETTLE, tz: str | None = None, label: str | None = None, me: str | None = None,
          on_event: Callable[[Event], None] | None = None, stop: threading.Event | None = None,
          on_wait: Callable[[], None] | None = None) -> None:
    """Watch ``folders`` for the archive at ``archive_path`` until ``stop`` is set (or after one look
    with ``once``). The archive is opened for each look only, so other commands write between looks."""
    stop = stop or threading.Event()
    with WatchLock(archive_path):
        while True:
            with Archive(archive_path, create=False, on_wait=on_wait) as archive:
                Watcher(archive, folders, tz=tz, label=label, me=me, settle=settle, on_event=on_event,
                        stop=stop).look()
            if once or stop.wait(interval):
                return
