"""The Policies page (permission ``policies``): the current supervision policy version, every
version, the policy text, a form that saves the edited text as a new version (a file that does not
validate is shown again with its error, file:line), and "run supervision now" as a background job.

The form posts are handled by the API's own functions (:mod:`.api.supervision_policies`), so a
version set here is the same governed call, with the same audit entry, as from the API or the CLI."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from ..errors import ChatAuditError
from ..supervision import engine, policies
from . import pages
from .accounts import User
from .api import supervision_policies as api
from .governed import governed
from .security import require

router = APIRouter(include_in_schema=False)
pages.NAV.append(("/supervision/policies", "sup.policies", "policies"))
RUNS_SHOWN = 10


def _page(request: Request, user: User, version: int | None, *, draft: str | None = None, name: str = "policy.yaml",
          error: str | None = None, saved: dict[str, Any] | None = None) -> Response:
    with governed(request, user, "supervise policy show", {"number": version, "as_json": False}) as call:
        versions = policies.versions(call.archive)
        shown = None
        if versions:
            try:
                shown = policies.version(call.archive, version)
            except ChatAuditError as problem:
                error = error or str(problem)
                shown = policies.version(call.archive, None)
        default_text = policies.default_text()
        context = {"versions": list(reversed(versions)), "shown": shown, "current": versions[-1] if versions else None,
                   "draft": draft if draft is not None else (shown["source_text"] if shown else default_text),
                   "name": name, "error": error, "saved": saved, "runs": engine.runs(call.archive)[:RUNS_SHOWN]}
        if error:
            call.failed(error)
        response = call.page("supervision_policies.j2", context, records=len(versions))
    if error:
        response.status_code = 422
    return response


@router.get("/supervision/policies")
def policies_page(request: Request, version: int | None = None, user: User = Depends(require("policies"))) -> Response:
    return _page(request, user, version)


@router.post("/supervision/policies")
def policies_save(request: Request, text: Annotated[str, Form()], name: Annotated[str, Form()] = "policy.yaml",
                  user: User = Depends(require("policies"))) -> Response:
    name = name.strip() or "policy.yaml"
    try:
        saved = api.set_policy(request, text, name, user)
    except ChatAuditError as error:  # a file that does not validate: shown again with its error
        return _page(request, user, None, draft=text, name=name, error=str(error))
    return _page(request, user, None, saved=saved)


@router.post("/supervision/run")
def run_now(request: Request, since: Annotated[str | None, Form()] = None,
            user: User = Depends(require("policies"))) -> Response:
    job_id = api.start_run(request, user, since or None)
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)
