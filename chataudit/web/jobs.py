"""Background jobs: long work (an uploaded import today; a quality report or an evidence package
next) runs in a small thread pool, never in the request. Each job is a row of ``web_jobs`` in the
archive (state, progress, result, error), so a page reload — or another browser — sees it, and a
cancel is a flag the job reads at each progress step. A job still queued or running when the server
stopped is marked failed at the next start.

To add a kind: write ``def run(job: Job, **args) -> dict`` (report progress with ``job.progress``,
return what the CLI's ``--json`` prints) and register it with ``@job_kind("name")``; start it from
an endpoint with ``request.app.state.jobs.submit("name", user, **args)``.
"""

from __future__ import annotations

import shutil
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

    def progress(self, count: int, note: str | None = None) -> None:
        """Report progress (kept in memory while it runs: an import holds its transaction open);
        raises :class:`JobCancelled` once a cancel was asked for."""
        self.runner.live[self.id] = (count, note)
        if self.id in self.runner.cancelled:
            raise JobCancelled(f"job {self.id} was cancelled")


class JobRunner:
    def __init__(self, config: ServerConfig, workers: int = 2):
        self.config = config
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="chataudit-job")
        self.live: dict[int, tuple[int, str | None]] = {}  # progress of running jobs
        self.cancelled: set[int] = set()
        with config.open_archive() as archive:
            archive.db.execute("UPDATE web_jobs SET state = 'failed', error = 'the server stopped while it ran',"
                               " updated_at = ? WHERE state IN ('queued', 'running')", (_now(),))

    def folder(self, job_id: int) -> Path:
        return self.config.uploads / str(job_id)

    def create(self, kind: str, user: User) -> int:
        """A queued job (its folder made, for uploads); start it with :meth:`start`."""
        if kind not in KINDS:
            raise ChatAuditError(f"unknown job kind {kind!r} (known: {', '.join(sorted(KINDS))})")
        with self.config.open_archive() as archive:
            cursor = archive.db.execute("INSERT INTO web_jobs (kind, operator, state, created_at, updated_at)"
                                        " VALUES (?, ?, 'queued', ?, ?)", (kind, user.operator, _now(), _now()))
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
            shutil.rmtree(self.folder(job_id), ignore_errors=True)  # uploads are not kept once read

    def fail(self, job_id: int, error: str) -> None:
        """A job that could not start (its upload was refused)."""
        with self.config.open_archive() as archive:
            archive.db.execute("UPDATE web_jobs SET state = 'failed', error = ?, updated_at = ? WHERE id = ?",
                               (error, _now(), job_id))
        shutil.rmtree(self.folder(job_id), ignore_errors=True)

    def get(self, job_id: int, user: User) -> dict[str, Any]:
        with self.config.open_archive() as archive:
            row = archive.db.execute(f"SELECT {', '.join(JOB_KEYS)} FROM web_jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None or not self._visible(row[2], user):
            raise ChatAuditError(f"no job {job_id}")
        job = job_dict(row)
        if job_id in self.live and job["state"] == "running":
            job["progress"], job["note"] = self.live[job_id]
        return job

    def list(self, user: User) -> list[dict[str, Any]]:
        with self.config.open_archive() as archive:
            rows = archive.db.execute(f"SELECT {', '.join(JOB_KEYS)} FROM web_jobs ORDER BY id DESC LIMIT 100").fetchall()
        return [self.get(row[0], user) for row in rows if self._visible(row[2], user)]

    def cancel(self, job_id: int, user: User) -> dict[str, Any]:
        job = self.get(job_id, user)
        if job["state"] not in FINISHED:
            self.cancelled.add(job_id)
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
