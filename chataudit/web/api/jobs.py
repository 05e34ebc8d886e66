"""Background jobs over HTTP: start an import from an upload, follow any job, cancel it."""

from __future__ import annotations

import time
from typing import Annotated

import orjson

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from starlette.responses import JSONResponse, StreamingResponse

from ..jobs import FINISHED

from ..accounts import User
from ..security import require
from ..uploads import save_uploads

router = APIRouter(tags=["jobs"])
POLL_S = 0.25  # how often an event stream looks at its job


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


@router.get("/jobs/{job_id}/events", summary="A job's progress as server-sent events, until it finishes",
            description="`text/event-stream`: one `data:` line (the job, as GET /jobs/ID) whenever it changes, "
                        "the last when its state is done, failed or cancelled.")
def job_events(request: Request, job_id: int, user: User = Depends(require("jobs"))) -> StreamingResponse:
    runner = request.app.state.jobs
    first = runner.get(job_id, user)  # an unknown job is a 404 now, not an empty stream

    def events():
        job, last = first, None
        while True:
            body = orjson.dumps(job).decode()
            if body != last:
                yield f"data: {body}\n\n"
                last = body
            if job["state"] in FINISHED:
                return
            time.sleep(POLL_S)
            job = runner.get(job_id, user)

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


@router.post("/jobs/{job_id}/cancel", summary="Ask a job to stop (what it finished stays)")
def cancel_job(request: Request, job_id: int, user: User = Depends(require("jobs"))) -> JSONResponse:
    return JSONResponse(request.app.state.jobs.cancel(job_id, user))
