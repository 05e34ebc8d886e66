"""Evidence packages over HTTP: ``evidence export`` as a background job whose package is then
downloaded, and ``evidence verify`` of an uploaded package (the same report as ``--json``).

A finished package is moved out of the job's working folder (removed when the job ends) into the
job's own download folder; the download endpoint serves a bare file name from that folder only.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from starlette.responses import FileResponse, JSONResponse, Response

from ...errors import ChatAuditError
from ...governance import access
from ..accounts import User
from ..config import ServerConfig
from ..governed import governed
from ..jobs import Job, job_kind
from ..security import require
from ..uploads import save_uploads

router = APIRouter(tags=["evidence"])

EXPORT = "evidence export"


def download_folder(config: ServerConfig, job_id: int) -> Path:
    """Where a job's finished files stay for download (beside, never inside, the jobs' work folders)."""
    return config.uploads / "downloads" / str(int(job_id))


def served_file(config: ServerConfig, job_id: int, name: str) -> Path:
    """The file ``name`` of job ``job_id``'s download folder, or an error: a bare name only, resolved
    inside that folder (no ``..``, no absolute path, no link out of it)."""
    folder = download_folder(config, job_id).resolve()
    if not name or name.startswith(".") or "/" in name or "\\" in name or "\0" in name:
        raise ChatAuditError(f"no file {name!r} in job {job_id} (a bare file name)")
    path = (folder / name).resolve()
    if path.parent != folder or not path.is_file():
        raise ChatAuditError(f"no file {name!r} in job {job_id}")
    return path


def _file_name(conversation: str) -> str:
    return "evidence-" + (re.sub(r"[^\w.-]+", "_", conversation).strip("._") or "conversation")[:60] + ".zip"


@job_kind("evidence-export")
def run_export(job: Job, *, conversation: str, since: str | None = None, until: str | None = None,
               tz: str | None = None, withhold: list[str] = (), redact: str | None = None, pdf: bool = False,
               config: ServerConfig) -> dict[str, Any]:
    """`chataudit evidence export --json`, signed with the archive's key; the files uploaded into
    the job's ``attach/`` and ``statements/`` folders travel as --attach and --statement."""
    from ...model import zone
    from ...queries import time_window
    from ...evidence.package import export_package

    attach = sorted((job.folder / "attach").glob("*")) if (job.folder / "attach").is_dir() else []
    statements = sorted((job.folder / "statements").glob("*")) if (job.folder / "statements").is_dir() else []
    name = _file_name(conversation)
    out = job.folder / name
    params = {"conversation_ref": conversation, "since": since, "until": until, "tz": tz, "withhold": list(withhold),
              "redact_policy": redact, "attach": [p.name for p in attach], "statements": [p.name for p in statements],
              "key_path": None, "pdf": pdf, "out": name, "as_json": True}
    admission = access.admit(job.archive, operator=job.user.operator, command=EXPORT, params=params)
    try:
        job.progress(0, "building the package")
        since_ms, until_ms = time_window(job.archive, since, until, tz)
        argv = ["chataudit", "serve", f"(job {job.id})", "evidence", "export", "--conversation", conversation]
        for option, value in (("--since", since), ("--until", until), ("--tz", tz), ("--redact", redact)):
            if value:
                argv += [option, value]
        for value in withhold:
            argv += ["--withhold", value]
        result = export_package(job.archive, out, conversation=conversation, since_ms=since_ms, until_ms=until_ms,
                                since=since, until=until, withhold=withhold, redact=redact, attach=attach,
                                statements=statements, statement_tz=zone(tz) if tz else None,
                                operator=job.user.operator, pdf=pdf, argv=argv, on_progress=job.progress)
        job.progress(result.messages, "package written")
        if result.sealed:  # an encrypted archive's package: sealed under its key (`evidence unseal`)
            name += ".sealed"
        folder = download_folder(config, job.id)
        folder.mkdir(parents=True, exist_ok=True)
        kept = Path(shutil.move(str(out), folder / name))
    except BaseException as error:
        access.conclude(job.archive, admission, records=0, outputs=[], outcome="error", exit_code=1,
                        detail=str(error) or type(error).__name__)
        raise
    data = kept.read_bytes()
    value = result.as_dict() | {"path": name, "download": f"/api/v1/jobs/{job.id}/download/{name}",
                                "sha256": hashlib.sha256(data).hexdigest()}
    access.conclude(job.archive, admission, records=result.messages,
                    outputs=[{"to": f"job {job.id} {name}", "bytes": len(data), "sha256": value["sha256"]}],
                    outcome="ok", exit_code=0, detail=None, facts={"via": "web", "job": job.id})
    return value


def start_export(request: Request, user: User, *, conversation: str, since: str | None, until: str | None,
                 tz: str | None, withhold: list[str], redact: bool, pdf: bool, attach: list[UploadFile],
                 statements: list[UploadFile]) -> int:
    """Shared by the API and the Evidence page: save the uploads into a new job's folder and start it."""
    if not conversation.strip():
        raise ChatAuditError("choose a conversation (--conversation)")
    from ...evidence.package import parse_withhold

    withhold = [w.strip() for w in withhold if w.strip()]
    parse_withhold(withhold)  # a mistyped FIELD:IDS is refused now, in the CLI's words, not by a failed job
    runner = request.app.state.jobs
    job_id = runner.create("evidence-export", user)
    config = request.app.state.config
    try:
        for sub, files in (("attach", attach), ("statements", statements)):
            files = [f for f in files if f.filename]
            if files:
                (runner.folder(job_id) / sub).mkdir()
                save_uploads(files, runner.folder(job_id) / sub, config.max_upload_bytes)
    except Exception as error:
        runner.fail(job_id, str(error))
        raise
    runner.start(job_id, "evidence-export", user, conversation=conversation.strip(), since=since or None,
                 until=until or None, tz=tz or None, withhold=withhold,
                 redact="default" if redact else None, pdf=pdf, config=config)
    return job_id


@router.post("/evidence/export", status_code=202, summary="`chataudit evidence export --json`, as a background job",
             description="Form or multipart fields as the CLI's options: `conversation`, `since`, `until`, `tz`, "
                         "`withhold` (FIELD:IDS, repeatable), `redact` (true: the built-in policy), `pdf`, files "
                         "`attach` and `statements`. Answers 202 with the job; when `state` is done its `result` is "
                         "what `--json` prints, `path` the package's name and `download` its address.")
def export(request: Request, conversation: Annotated[str, Form()], since: Annotated[str | None, Form()] = None,
           until: Annotated[str | None, Form()] = None, tz: Annotated[str | None, Form()] = None,
           withhold: Annotated[list[str] | None, Form()] = None, redact: Annotated[bool, Form()] = False,
           pdf: Annotated[bool, Form()] = False, attach: Annotated[list[UploadFile] | None, File()] = None,
           statements: Annotated[list[UploadFile] | None, File()] = None,
           user: User = Depends(require("evidence"))) -> JSONResponse:
    job_id = start_export(request, user, conversation=conversation, since=since, until=until, tz=tz,
                          withhold=withhold or [], redact=redact, pdf=pdf, attach=attach or [],
                          statements=statements or [])
    return JSONResponse(request.app.state.jobs.get(job_id, user), status_code=202,
                        headers={"Location": f"/api/v1/jobs/{job_id}"})


@router.get("/jobs/{job_id}/download/{name:path}", summary="A finished job's file (an evidence package)",
            description="Only a bare file name of that job's own download folder; only its owner (or an admin).")
def download(request: Request, job_id: int, name: str, user: User = Depends(require("jobs"))) -> Response:
    job = request.app.state.jobs.get(job_id, user)  # "no job N" for someone else's
    if job["state"] != "done":
        raise ChatAuditError(f"no file {name!r} in job {job_id} (it is {job['state']})")
    path = served_file(request.app.state.config, job_id, name)
    kind = "application/octet-stream" if path.name.endswith(".sealed") else "application/zip"
    return FileResponse(path, media_type=kind, filename=path.name)


@router.post("/evidence/verify", summary="`chataudit evidence verify PACKAGE --json` (upload as `package`)",
             description="Always 200: the body's `ok` says whether the package holds (the CLI exits 1 when not). "
                         "`pubkey`: the verifier key to trust (else the package's own: signer not authenticated).")
def verify(request: Request, package: Annotated[UploadFile, File()], pubkey: Annotated[str | None, Form()] = None,
           allow_unsigned: Annotated[bool, Form()] = False, user: User = Depends(require("verify"))) -> Response:
    with governed(request, user, "evidence verify", {}) as call:
        report = verified(request, package, pubkey, allow_unsigned)
        return call.json(report)


def verified(request: Request, package: UploadFile, pubkey: str | None, allow_unsigned: bool) -> dict[str, Any]:
    """The report of an uploaded package (saved under a private folder, removed after)."""
    from ...evidence.verify import verify_package
    from ...ledger.keys import parse_verifier_key

    pubkey = str(parse_verifier_key(pubkey, read_file=False)) if pubkey and pubkey.strip() else None
    config = request.app.state.config
    folder = Path(tempfile.mkdtemp(prefix="verify-", dir=config.uploads))
    try:
        (path,) = save_uploads([package], folder, config.max_upload_bytes)
        return verify_package(path, pubkey, allow_unsigned=allow_unsigned)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
