"""Background jobs: long work (an uploaded import today; a quality report or an evidence package
next) runs in a small thread pool, never in the request. Each job is a row of ``web_jobs`` in the
archive (state, progress, result, error), so a page reload — or another browser, or another
`serve --workers` process — sees it. A cancel sets the row's flag and touches ``ID.cancel`` beside
the job's folder (the row cannot be written while an import holds the write lock for a file); the
job looks at both at most once a second from its progress steps. Live progress goes to the row
(seen once the job's open transaction, if any, commits) and to ``ID.progress`` beside the folder
(seen at once by every worker on this machine). Each row records its process (pid and that
process's start token): a job still queued or running whose process is gone is marked failed when
a server starts; a sibling worker's running job is left alone.

To add a kind: write ``def run(job: Job, **args) -> dict`` (report progress with ``job.progress``,
return what the CLI's ``--json`` prints) and register it with ``@job_kind("name")``; start it from
an endpoint with ``request.app.state.jobs.submit("name", user, **args)``.
"""

from __future__ import annotations

import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import orjson

from ..errors import ChatAuditError
from ..governance import access
from .accounts import User
from .config import ServerConfig

JOB_KEYS = ("id", "kind", "operator", "state", "progress", "note", "result", "error", "cancel_requested",
            "created_at", "updated_at")
FINISHED = ("done", "failed", "cancelled")
KINDS: dict[str, Callable[..., dict[str, Any]]] = {}


def job_kind(name: str) -> Callable[[Callable[..., dict[str, Any]]], Callable[..., dict[str, Any]]]:
    def register(run: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        KINDS[name] = run
        return run

    return register


class JobCancelled(ChatAuditError):
    """The user cancelled the job; what it had finished before stays (an import keeps whole files)."""


class JobFailed(ChatAuditError):
    """The job ran but failed as its CLI command exits 1 (a file that could not be imported); its
    ``result`` is still kept, as the command's ``--json`` still prints it."""

    def __init__(self, message: str, result: dict[str, Any]):
        super().__init__(message)
        self.result = result


POLL_S = 1.0  # how often a running job writes its progress and looks for a cancel


def process_token(pid: int) -> str | None:
    """What tells a process from a later one that got its pid: its start time in clock ticks since
    boot (Linux /proc); None where it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


def process_alive(pid: int | None, token: str | None) -> bool:
    """Is the process that recorded (pid, token) still running? Without /proc only the pid is
    checked (a reused pid then keeps a dead job 'running' until that process ends)."""
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    except OSError:
        return False
    now = process_token(pid)
    return now is None or token is None or now == token


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def job_dict(row: Any) -> dict[str, Any]:
    job = dict(zip(JOB_KEYS, row))
    job["result"] = orjson.loads(job["result"]) if job["result"] else None
    job["cancel_requested"] = bool(job["cancel_requested"])
    return job


@dataclass
class Job:
    """What a running job sees: its id, the archive (its own connection), progress and cancel."""

    id: int
    user: User
    archive: Any
    folder: Path
    runner: "JobRunner"

    def __post_init__(self) -> None:
        self._polled = 0.0

    def progress(self, count: int, note: str | None = None) -> None:
        """Report progress; raises :class:`JobCancelled` once a cancel was asked for (from any
        worker). Cheap: the shared record is written and read at most once per ``POLL_S``."""
        self.runner.live[self.id] = (count, note)
        if self.id in self.runner.cancelled:
            raise JobCancelled(f"job {self.id} was cancelled")
        now = time.monotonic()
        if now - self._polled < POLL_S:
            return
        self._polled = now
        self.runner.publish(self.id, count, note)
        db = self.archive.db
        # the row's flag is read only outside a transaction (inside, the snapshot is the job's own)
        if self.runner.cancel_file(self.id).exists() or (
                not db.in_transaction
                and db.execute("SELECT cancel_requested FROM web_jobs WHERE id = ?", (self.id,)).fetchone()[0]):
            raise JobCancelled(f"job {self.id} was cancelled")
        # the row: at once outside a transaction, else when the job's transaction commits
        db.execute("UPDATE web_jobs SET progress = ?, note = ? WHERE id = ?", (count, note, self.id))


class JobRunner:
    def __init__(self, config: ServerConfig, workers: int = 2):
        self.config = config
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="chataudit-job")
        self.live: dict[int, tuple[int, str | None]] = {}  # progress of running jobs
        self.cancelled: set[int] = set()
        self.pid, self.token = os.getpid(), process_token(os.getpid())
        with config.open_archive() as archive:
            unfinished = archive.db.execute("SELECT id, owner_pid, owner_token FROM web_jobs"
                                            " WHERE state IN ('queued', 'running')").fetchall()
            dead = [(_now(), job_id) for job_id, pid, token in unfinished if not process_alive(pid, token)]
            archive.db.executemany("UPDATE web_jobs SET state = 'failed', error = 'the server stopped while it ran',"
                                   " updated_at = ? WHERE id = ? AND state IN ('queued', 'running')", dead)
        for _, job_id in dead:
            self._forget(job_id)

    def progress_file(self, job_id: int) -> Path:
        return self.config.uploads / f"{job_id}.progress"

    def cancel_file(self, job_id: int) -> Path:
        return self.config.uploads / f"{job_id}.cancel"

    def publish(self, job_id: int, count: int, note: str | None) -> None:
        """The live progress every worker on this machine reads (written whole, then renamed)."""
        target = self.progress_file(job_id)
        partial = target.with_name(f"{target.name}.{self.pid}")
        partial.write_bytes(orjson.dumps([count, note]))
        os.replace(partial, target)

    def _published(self, job_id: int) -> tuple[int, str | None] | None:
        try:
            count, note = orjson.loads(self.progress_file(job_id).read_bytes())
            return int(count), note
        except (OSError, ValueError, TypeError):
            return None

    def _forget(self, job_id: int) -> None:
        shutil.rmtree(self.folder(job_id), ignore_errors=True)  # uploads are not kept once read
        for path in (self.progress_file(job_id), self.cancel_file(job_id)):
            path.unlink(missing_ok=True)

    def folder(self, job_id: int) -> Path:
        return self.config.uploads / str(job_id)

    def create(self, kind: str, user: User) -> int:
        """A queued job (its folder made, for uploads); start it with :meth:`start`."""
        if kind not in KINDS:
            raise ChatAuditError(f"unknown job kind {kind!r} (known: {', '.join(sorted(KINDS))})")
        with self.config.open_archive() as archive:
            cursor = archive.db.execute("INSERT INTO web_jobs (kind, operator, state, created_at, updated_at,"
                                        " owner_pid, owner_token) VALUES (?, ?, 'queued', ?, ?, ?, ?)",
                                        (kind, user.operator, _now(), _now(), self.pid, self.token))
            job_id = cursor.lastrowid
        self.folder(job_id).mkdir(parents=True, exist_ok=True)
        return job_id

    def start(self, job_id: int, kind: str, user: User, **args: Any) -> None:
        self.pool.submit(self._run, job_id, kind, user, args)

    def submit(self, kind: str, user: User, **args: Any) -> int:
        job_id = self.create(kind, user)
        self.start(job_id, kind, user, **args)
        return job_id

    def _run(self, job_id: int, kind: str, user: User, args: dict[str, Any]) -> None:
        try:
            with self.config.open_archive() as archive:
                db = archive.db
                if db.execute("SELECT cancel_requested FROM web_jobs WHERE id = ?", (job_id,)).fetchone()[0]:
                    db.execute("UPDATE web_jobs SET state = 'cancelled', updated_at = ? WHERE id = ?", (_now(), job_id))
                    return
                db.execute("UPDATE web_jobs SET state = 'running', updated_at = ? WHERE id = ?", (_now(), job_id))
                job = Job(job_id, user, archive, self.folder(job_id), self)
                try:
                    result = KINDS[kind](job, **args)
                except JobCancelled as error:
                    db.execute("UPDATE web_jobs SET state = 'cancelled', error = ?, updated_at = ? WHERE id = ?",
                               (str(error), _now(), job_id))
                except JobFailed as error:
                    db.execute("UPDATE web_jobs SET state = 'failed', error = ?, result = ?, updated_at = ? WHERE id = ?",
                               (str(error), orjson.dumps(error.result, option=orjson.OPT_NON_STR_KEYS).decode(),
                                _now(), job_id))
                except ChatAuditError as error:
                    db.execute("UPDATE web_jobs SET state = 'failed', error = ?, updated_at = ? WHERE id = ?",
                               (str(error), _now(), job_id))
                except Exception as error:  # a bug: still a finished job that says what happened
                    db.execute("UPDATE web_jobs SET state = 'failed', error = ?, updated_at = ? WHERE id = ?",
                               (f"{type(error).__name__}: {error}", _now(), job_id))
                else:
                    db.execute("UPDATE web_jobs SET state = 'done', result = ?, updated_at = ? WHERE id = ?",
                               (orjson.dumps(result, option=orjson.OPT_NON_STR_KEYS).decode(), _now(), job_id))
                finally:  # the last progress stays on the record
                    count, note = self.live.get(job_id, (0, None))
                    db.execute("UPDATE web_jobs SET progress = ?, note = ? WHERE id = ?", (count, note, job_id))
        finally:
            self.live.pop(job_id, None)
            self.cancelled.discard(job_id)
            self._forget(job_id)

    def fail(self, job_id: int, error: str) -> None:
        """A job that could not start (its upload was refused)."""
        with self.config.open_archive() as archive:
            archive.db.execute("UPDATE web_jobs SET state = 'failed', error = ?, updated_at = ? WHERE id = ?",
                               (error, _now(), job_id))
        self._forget(job_id)

    def get(self, job_id: int, user: User) -> dict[str, Any]:
        with self.config.open_archive() as archive:
            row = archive.db.execute(f"SELECT {', '.join(JOB_KEYS)} FROM web_jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None or not self._visible(row[2], user):
            raise ChatAuditError(f"no job {job_id}")
        job = job_dict(row)
        if job["state"] == "running":  # this process's job, else what its worker published
            live = self.live.get(job_id) or self._published(job_id)
            if live is not None:
                job["progress"], job["note"] = live
        return job

    def list(self, user: User) -> list[dict[str, Any]]:
        with self.config.open_archive() as archive:
            rows = archive.db.execute(f"SELECT {', '.join(JOB_KEYS)} FROM web_jobs ORDER BY id DESC LIMIT 100").fetchall()
        return [self.get(row[0], user) for row in rows if self._visible(row[2], user)]

    def cancel(self, job_id: int, user: User) -> dict[str, Any]:
        job = self.get(job_id, user)
        if job["state"] not in FINISHED:
            self.cancelled.add(job_id)
            self.cancel_file(job_id).touch()  # seen at once by the job's worker, even mid-transaction
            with self.config.open_archive() as archive:
                archive.db.execute("UPDATE web_jobs SET cancel_requested = 1, updated_at = ? WHERE id = ?", (_now(), job_id))
        return self.get(job_id, user)

    @staticmethod
    def _visible(operator: str, user: User) -> bool:
        """A user sees their own jobs; an admin sees everyone's."""
        return user.role == "admin" or operator == user.operator


# ---- the kinds ----------------------------------------------------------------------------------

@job_kind("import")
def run_import(job: Job, *, label: str | None = None, tz: str | None = None, me: str | None = None) -> dict[str, Any]:
    """`chataudit import --json` over the files uploaded into the job's folder (zips go through the
    importer, which enforces the zip limits)."""
    from .. import importer

    params = {"paths": sorted(p.name for p in job.folder.iterdir()), "format_name": "auto", "label": label, "tz": tz,
              "me": me, "reread_source": None, "as_json": True}
    admission = access.admit(job.archive, operator=job.user.operator, command="import", params=params)
    paths = sorted(job.folder.iterdir())
    def on_progress(path: str, count: int, phase: str | None = None) -> None:
        job.progress(count, f"{Path(path).name}: {phase}" if phase else Path(path).name)

    try:
        summary = importer.import_paths(job.archive, paths, label=label, tz=tz, me=me, on_progress=on_progress,
                                        base=job.folder)
    except BaseException as error:
        access.conclude(job.archive, admission, records=0, outputs=[], outcome="error", exit_code=1, detail=str(error))
        raise
    result = summary.as_dict()
    access.conclude(job.archive, admission, records=result["messages"], outputs=[], outcome="ok", exit_code=0,
                    detail=None, facts={"via": "web", "job": job.id})
    job.progress(result["messages"], None)
    if result["errors"]:  # as `import` exits 1: the other files were still imported
        raise JobFailed("; ".join(result["errors"]), result)
    return result
