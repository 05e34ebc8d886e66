"""Supervision policies and runs over HTTP: ``/api/v1/supervision/policies…`` and ``…/runs``, the
same JSON as ``chataudit supervise policy …`` and ``supervise run|runs`` print with ``--json``.

Setting a policy and running supervision call the functions the CLI calls, under the logged-in
user's name, and each records its own audit entry; a run over the web is a background job
(``supervise-run``). Everything here needs the ``policies`` permission.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import JSONResponse, Response

from ...supervision import engine, policies
from ..accounts import User
from ..governed import governed
from ..jobs import Job, job_kind
from ..security import require

router = APIRouter(tags=["supervision"])


@router.get("/supervision/policies", summary="`chataudit supervise policy list --json`")
def policy_list(request: Request, user: User = Depends(require("policies"))) -> Response:
    with governed(request, user, "supervise policy list", {"as_json": True}) as call:
        rows = policies.versions(call.archive)
        return call.json(rows, records=len(rows))


@router.get("/supervision/policies/current", summary="`chataudit supervise policy show --json`")
def policy_current(request: Request, user: User = Depends(require("policies"))) -> Response:
    with governed(request, user, "supervise policy show", {"number": None, "as_json": True}) as call:
        return call.json(policies.version(call.archive, None), records=1)


@router.get("/supervision/policies/{number}", summary="`chataudit supervise policy show --version N --json`")
def policy_show(request: Request, number: int, user: User = Depends(require("policies"))) -> Response:
    with governed(request, user, "supervise policy show", {"number": number, "as_json": True}) as call:
        return call.json(policies.version(call.archive, number), records=1)


def set_policy(request: Request, text: str, name: str, user: User) -> dict[str, Any]:
    """Shared by the API and the Policies page: `supervise policy set` with the posted text."""
    fmt = "toml" if name.lower().endswith(".toml") else "yaml"
    with governed(request, user, "supervise policy set", {"path": name, "as_json": True}) as call:
        return policies.set_policies(call.archive, text, name, operator=user.operator,
                                     params={"path": name, "via": "web"}, fmt=fmt)


@router.post("/supervision/policies", summary="`chataudit supervise policy set FILE --json`",
             description="Form fields: `text` (the policy file), `name` (its file name; *.toml is read as TOML).")
def policy_set(request: Request, text: Annotated[str, Form()], name: Annotated[str, Form()] = "policy.yaml",
               user: User = Depends(require("policies"))) -> Response:
    return JSONResponse(set_policy(request, text, name, user))


@router.get("/supervision/runs", summary="`chataudit supervise runs --json`")
def run_list(request: Request, user: User = Depends(require("policies"))) -> Response:
    with governed(request, user, "supervise runs", {"as_json": True}) as call:
        rows = engine.runs(call.archive)
        return call.json(rows, records=len(rows))


def start_run(request: Request, user: User, since: str | None) -> int:
    return request.app.state.jobs.submit("supervise-run", user, since=since)


@router.post("/supervision/runs", status_code=202, summary="`chataudit supervise run --json`, as a background job",
             description="Answers 202 with the job; GET its `Location` until `state` is done: `result` is what "
                         "`supervise run --json` prints.")
def run_start(request: Request, since: Annotated[str | None, Form()] = None,
              user: User = Depends(require("policies"))) -> JSONResponse:
    job_id = start_run(request, user, since or None)
    return JSONResponse(request.app.state.jobs.get(job_id, user), status_code=202,
                        headers={"Location": f"/api/v1/jobs/{job_id}"})


@job_kind("supervise-run")
def run_supervision(job: Job, *, since: str | None = None) -> dict[str, Any]:
    """`chataudit supervise run --json` (its audit entry names the web user and the job)."""
    from ...supervision.commands_run import time_bound

    return engine.run(job.archive, operator=job.user.operator, params={"since": since, "via": "web", "job": job.id},
                      since_ms=time_bound(job.archive, since), progress=lambda count: job.progress(count, "messages"))
