"""`chataudit quality --json` over HTTP: at once (GET, or POST with uploaded files) or as a
background job (a 1M-message report takes a minute or more).

Filters are query parameters named as the CLI's options (``compare_to`` for ``--compare-to``,
repeatable ``platform``, ``conversation``, ``agent``, ``sla``). The six file options (roster,
scripts, taxonomy, lexicon, scorecard, ratings) are either uploaded as multipart parts of a POST or
named (a bare file name) from the server's stored files (``<archive>.quality/``, filled with
``POST /api/v1/quality/files``). ``ratings`` imports ratings into the archive, so only a POST takes it.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, File, HTTPException, Query, Request, UploadFile
from starlette.responses import JSONResponse, Response

from ...errors import ChatAuditError
from ...governance import access
from ...quality import build as quality_build
from ...quality.config import DEFAULT_NEW_DAYS
from ..accounts import User
from ..config import ServerConfig
from ..governed import governed
from ..jobs import Job, job_kind
from ..security import require
from ..uploads import safe_name, save_uploads

router = APIRouter(tags=["quality"])

FILE_OPTIONS = ("roster", "scripts", "taxonomy", "lexicon", "scorecard", "ratings")
Many = Annotated[list[str], Query()]


@dataclass
class QualityRequest:
    """The options of `chataudit quality`, as the web gives them (file options: stored names)."""

    since: str | None = None
    until: str | None = None
    compare_to: str | None = None
    platforms: list[str] = field(default_factory=list)
    conversation_refs: list[str] = field(default_factory=list)
    agent_refs: list[str] = field(default_factory=list)
    team: str | None = None
    tz: str | None = None
    session_gap: str = "2h"
    sla: list[str] = field(default_factory=list)
    new_days: int = DEFAULT_NEW_DAYS
    hours: str | None = None
    top: int = 10
    no_nlp: bool = False
    redact: bool = False
    files: dict[str, str] = field(default_factory=dict)  # option -> stored file name

    def params(self, policy: str | None, paths: dict[str, str]) -> dict[str, Any]:
        """The click command's parameters (the enterprise scope check and the audit trail read them)."""
        values = {k: v for k, v in asdict(self).items() if k not in ("redact", "files")}
        values.update({name: paths.get(name) for name in FILE_OPTIONS})
        return {**values, "csv_path": None, "trends_path": None, "html_path": None, "redact_policy": policy,
                "as_json": True}

    def build_kwargs(self, policy: str | None, paths: dict[str, str]) -> dict[str, Any]:
        values = {k: v for k, v in asdict(self).items() if k not in ("redact", "files")}
        return {**values, **{name: paths.get(name) for name in FILE_OPTIONS}, "redact_policy": policy}


def quality_request(
        since: Annotated[str | None, Query(description="From this date/time.")] = None,
        until: Annotated[str | None, Query(description="Up to this date/time (a bare date includes that day).")] = None,
        compare_to: Annotated[str | None, Query(description="Before-period SINCE..UNTIL (`--compare-to`).")] = None,
        platform: Many = [],  # noqa: B006 (FastAPI copies defaults)
        conversation: Many = [],  # noqa: B006
        agent: Many = [],  # noqa: B006
        team: str | None = None, tz: str | None = None,
        session_gap: Annotated[str, Query(description="Idle time that starts a new session: 30m, 2h, 90s.")] = "2h",
        sla: Annotated[list[str], Query(description="Target per role in seconds: service=30 (repeatable).")] = [],  # noqa: B006
        new_days: Annotated[int, Query(ge=1, le=3650)] = DEFAULT_NEW_DAYS,
        hours: Annotated[str | None, Query(description="Business hours, e.g. 08:00-23:00.")] = None,
        top: Annotated[int, Query(ge=1, le=100)] = 10,
        no_nlp: Annotated[bool, Query(description="Timing figures only (no texts read).")] = False,
        redact: Annotated[bool, Query(description="De-identify customers (`--redact`); always on for a reviewer.")] = False,
        roster: Annotated[str | None, Query(description="A stored file's name (see /quality/files).")] = None,
        scripts: str | None = None, taxonomy: str | None = None, lexicon: str | None = None,
        scorecard: str | None = None,
        ratings: Annotated[str | None, Query(description="A stored ratings CSV to import first (POST only).")] = None,
) -> QualityRequest:
    stored = {"roster": roster, "scripts": scripts, "taxonomy": taxonomy, "lexicon": lexicon, "scorecard": scorecard,
              "ratings": ratings}
    return QualityRequest(since or None, until or None, compare_to or None, list(dict.fromkeys(platform)),
                          conversation, agent, team or None, tz or None, session_gap, sla, new_days, hours or None, top,
                          no_nlp, redact, {k: v for k, v in stored.items() if v})


def stored_folder(config: ServerConfig) -> Path:
    """The server's stored quality files (roster, scripts, …), beside the archive."""
    folder = config.beside(".quality")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def resolve_files(config: ServerConfig, stored: dict[str, str], uploaded: dict[str, Path]) -> dict[str, str]:
    """Each file option's path: an upload, else a stored file (a bare name that exists)."""
    paths: dict[str, str] = {}
    for name in FILE_OPTIONS:
        if name in stored and name in uploaded:
            raise ChatAuditError(f"{name}: give an uploaded file or a stored file's name, not both")
        if name in uploaded:
            paths[name] = str(uploaded[name])
        elif name in stored:
            path = stored_folder(config) / safe_name(stored[name])
            if not path.is_file():
                raise ChatAuditError(f"no stored file {stored[name]!r} for {name} (upload it to /api/v1/quality/files)")
            paths[name] = str(path)
    return paths


def save_option_files(parts: dict[str, UploadFile | None], folder: Path, max_bytes: int) -> dict[str, Path]:
    """Uploaded file options, each in its own sub-folder (two may share a file name)."""
    saved: dict[str, Path] = {}
    for name, upload in parts.items():
        if upload is not None and upload.filename:
            (folder / name).mkdir(parents=True, exist_ok=True)
            (saved[name],) = save_uploads([upload], folder / name, max_bytes)
    return saved


def run(archive: Any, query: QualityRequest, policy: str | None, paths: dict[str, str], on_step=None) -> dict[str, Any]:
    return quality_build.build(archive, **query.build_kwargs(policy, paths), on_step=on_step).result


Upload = Annotated[UploadFile | None, File(description="Upload this file option (instead of a stored name).")]


@router.get("/quality", summary="`chataudit quality --json`",
            description="Every filter of the CLI as a query parameter; file options name stored files. A large "
                        "archive's report takes long: `POST /quality/jobs` runs it as a background job.")
def quality(request: Request, query: QualityRequest = Depends(quality_request),
            user: User = Depends(require("quality"))) -> Response:
    if "ratings" in query.files:
        raise ChatAuditError("ratings: importing ratings changes the archive: POST /api/v1/quality")
    policy = "default" if query.redact else None
    paths = resolve_files(request.app.state.config, query.files, {})
    with governed(request, user, "quality", query.params(policy, _names(paths))) as call:
        policy = call.redact_policy(policy)
        result = run(call.archive, query, policy, paths)
        return call.json(result, records=result["sessions"])


@router.post("/quality", summary="`chataudit quality --json` with uploaded files (roster, scripts, …, ratings)")
def quality_upload(request: Request, query: QualityRequest = Depends(quality_request),
                   roster: Upload = None, scripts: Upload = None, taxonomy: Upload = None, lexicon: Upload = None,
                   scorecard: Upload = None, ratings: Upload = None,
                   user: User = Depends(require("quality"))) -> Response:
    parts = {"roster": roster, "scripts": scripts, "taxonomy": taxonomy, "lexicon": lexicon, "scorecard": scorecard,
             "ratings": ratings}
    _ratings_allowed(user, query, parts)
    config = request.app.state.config
    folder = Path(tempfile.mkdtemp(prefix="quality-", dir=config.uploads))
    try:
        paths = resolve_files(config, query.files, save_option_files(parts, folder, config.max_upload_bytes))
        policy = "default" if query.redact else None
        with governed(request, user, "quality", query.params(policy, _names(paths))) as call:
            policy = call.redact_policy(policy)
            result = run(call.archive, query, policy, paths)
            return call.json(result, records=result["sessions"])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@router.post("/quality/jobs", status_code=202, summary="`chataudit quality --json`, as a background job",
             description="Same parameters and uploads as `POST /quality`. Answers 202 with the job; GET its "
                         "`Location` until `state` is done: `result` is what `quality --json` prints.")
def quality_job(request: Request, query: QualityRequest = Depends(quality_request),
                roster: Upload = None, scripts: Upload = None, taxonomy: Upload = None, lexicon: Upload = None,
                scorecard: Upload = None, ratings: Upload = None,
                user: User = Depends(require("quality"))) -> JSONResponse:
    parts = {"roster": roster, "scripts": scripts, "taxonomy": taxonomy, "lexicon": lexicon, "scorecard": scorecard,
             "ratings": ratings}
    _ratings_allowed(user, query, parts)
    job_id = start_quality_job(request, user, query, parts)
    return JSONResponse(request.app.state.jobs.get(job_id, user), status_code=202,
                        headers={"Location": f"/api/v1/jobs/{job_id}"})


def start_quality_job(request: Request, user: User, query: QualityRequest,
                      parts: dict[str, UploadFile | None] | None = None) -> int:
    """Shared by the API and the dashboard: save the uploads in a new job's folder and start it."""
    from .. import roles

    runner = request.app.state.jobs
    config = request.app.state.config
    job_id = runner.create("quality-report", user)
    try:
        uploaded = save_option_files(parts or {}, runner.folder(job_id), config.max_upload_bytes)
        paths = resolve_files(config, query.files, uploaded)
    except Exception as error:
        runner.fail(job_id, str(error))
        raise
    policy = roles.redact_policy(user.role, "default" if query.redact else None)
    runner.start(job_id, "quality-report", user, query=query, policy=policy, paths=paths)
    return job_id


def _ratings_allowed(user: User, query: QualityRequest, parts: dict[str, UploadFile | None]) -> None:
    """Importing ratings writes to the archive: only a role that may import."""
    from .. import roles

    asked = "ratings" in query.files or (parts.get("ratings") is not None and parts["ratings"].filename)
    if asked and not roles.allowed(user.role, "import"):
        raise HTTPException(403, f"the role {user.role!r} may not import (ratings import into the archive)")


def _names(paths: dict[str, str]) -> dict[str, str]:
    """Uploaded files on the audit trail by their bare name (their temporary folder means nothing)."""
    return {name: Path(path).name for name, path in paths.items()}


@job_kind("quality-report")
def run_quality(job: Job, *, query: QualityRequest, policy: str | None, paths: dict[str, str]) -> dict[str, Any]:
    """`chataudit quality --json` as a job: progress at each phase, a cancel stops it at the next."""
    admission = access.admit(job.archive, operator=job.user.operator, command="quality",
                             params=query.params(policy, _names(paths)))
    try:
        job.progress(0, "reading the files")
        result = run(job.archive, query, policy, paths, on_step=job.progress)
    except BaseException as error:
        access.conclude(job.archive, admission, records=0, outputs=[], outcome="error", exit_code=1,
                        detail=str(error) or type(error).__name__)
        raise
    body = orjson.dumps(result, option=orjson.OPT_NON_STR_KEYS)
    access.conclude(job.archive, admission, records=result["sessions"],
                    outputs=[{"to": f"web job {job.id}", "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}],
                    outcome="ok", exit_code=0, detail=None, facts={"via": "web", "job": job.id, "user_role": job.user.role})
    return result


@router.get("/quality/files", summary="The stored quality files (names the file options take)")
def stored_files(request: Request, user: User = Depends(require("quality"))) -> JSONResponse:
    folder = stored_folder(request.app.state.config)
    return JSONResponse([{"name": p.name, "bytes": p.stat().st_size} for p in sorted(folder.iterdir()) if p.is_file()])


@router.post("/quality/files", summary="Store quality files (roster, scripts, taxonomy, lexicon, scorecard, ratings)",
             description="Multipart `files`; each is kept under its bare name (replacing one of that name).")
def store_files(request: Request, files: Annotated[list[UploadFile], File()],
                user: User = Depends(require("import"))) -> JSONResponse:
    config = request.app.state.config
    staging = Path(tempfile.mkdtemp(prefix="quality-files-", dir=config.uploads))
    try:
        saved = save_uploads(files, staging, config.max_upload_bytes)
        folder = stored_folder(config)
        for path in saved:
            path.replace(folder / path.name)
        return JSONResponse([{"name": p.name, "bytes": (folder / p.name).stat().st_size} for p in saved])
    finally:
        shutil.rmtree(staging, ignore_errors=True)
