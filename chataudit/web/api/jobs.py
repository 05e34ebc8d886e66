"""Background jobs over HTTP: start an import from an upload, follow any job, cancel it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from starlette.responses import JSONResponse

from ..accounts import User
from ..security import require
from ..uploads import save_uploads

router = APIRouter(tags=["jobs"])


def start_import(request: Request, user: User, files: list[UploadFile], label: str | None, tz: str | None,
                 me: str | None) -> int:
    """Shared by the API and the import page: save the upload into a new job's folder and start it."""
    runner = request.app.state.jobs
    job_id = runner.create("import", user)
    try:
        save_uploads(files, runner.folder(job_id), request.app.state.config.max_upload_bytes)
    except Exception as error:
        runner.fail(job_id, str(error))
        raise
    runner.start(job_id, "import", user, label=label or None, tz=tz or None, me=me or None)
    return job_id


@router.post("/import", status_code=202, summary="`chataudit import --json`, as a background job",
             description="Multipart upload (`files`, one or more; .zip folders welcome). Answers 202 with the job; "
                         "GET its `Location` until `state` is done: `result` is what `import --json` prints.")
def import_upload(request: Request, files: Annotated[list[UploadFile], File()],
                  label: Annotated[str | None, Form()] = None, tz: Annotated[str | None, Form()] = None,
                  me: Annotated[str | None, Form()] = None, user: User = Depends(require("import"))) -> JSONResponse:
    job_id = start_import(request, user, files, label, tz, me)
    return JSONResponse(request.app.state.jobs.get(job_id, user), status_code=202,
                        headers={"Location": f"/api/v1/jobs/{job_id}"})


@router.get("/jobs", summary="Your background jobs, newest first (an admin sees everyone's)")
def list_jobs(request: Request, user: User = Depends(require("jobs"))) -> JSONResponse:
    return JSONResponse(request.app.state.jobs.list(user))


@router.get("/jobs/{job_id}", summary="One job: state, progress, result or error")
def get_job(request: Request, job_id: int, user: User = Depends(require("jobs"))) -> JSONResponse:
    return JSONResponse(request.app.state.jobs.get(job_id, user))


@router.post("/jobs/{job_id}/cancel", summary="Ask a job to stop (what it finished stays)")
def cancel_job(request: Request, job_id: int, user: User = Depends(require("jobs"))) -> JSONResponse:
    return JSONResponse(request.app.state.jobs.cancel(job_id, user))
