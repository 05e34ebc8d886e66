"""The Governance pages (enterprise mode): roster, authorizations with the signed scan, the audit
trail with filters, legal holds, retention rules with a dry run and a confirmed run.

A page's form posts here and is handled by the API endpoint's own function (:mod:`.api.governance`),
so a change from a page is the same governed call, with the same audit entry, as from the API or
the CLI; the page then shows the new state (or, for a retention run, its result)."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from starlette.responses import RedirectResponse, Response

from ..governance import audit as audit_api, auth as auth_api, holds as holds_api, mode as mode_api
from ..governance import retention as retention_api, roster as roster_api
from .accounts import User
from .api import governance as api
from .governed import governed
from .security import require

router = APIRouter(include_in_schema=False)


def _back(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


@router.get("/governance")
def overview(request: Request, user: User = Depends(require("audit"))) -> Response:
    with governed(request, user, "mode", {"as_json": False}) as call:
        return call.page("gov_overview.j2", {"status": mode_api.status(call.archive)})


@router.post("/governance/mode")
def mode_set(request: Request, mode: Annotated[str, Form()], reason: Annotated[str | None, Form()] = None,
             user: User = Depends(require("govern"))) -> Response:
    api.mode_set(request, mode, reason, user)
    return _back("/governance")


@router.get("/governance/roster")
def roster_page(request: Request, user: User = Depends(require("audit"))) -> Response:
    with governed(request, user, "roster show", {"as_json": False}) as call:
        rows = roster_api.roster(call.archive)
        return call.page("gov_roster.j2", {"rows": rows, "columns": roster_api.COLUMNS}, records=len(rows))


@router.post("/governance/roster")
def roster_upload(request: Request, file: Annotated[UploadFile, File()], user: User = Depends(require("govern"))) -> Response:
    api.roster_set(request, file, user)
    return _back("/governance/roster")


@router.get("/governance/auth")
def auth_page(request: Request, user: User = Depends(require("audit"))) -> Response:
    with governed(request, user, "auth list", {"active": False, "as_json": False}) as call:
        docs = auth_api.listing(call.archive)
        members = roster_api.roster(call.archive)
        return call.page("gov_auth.j2", {"docs": docs, "members": members}, records=len(docs))


@router.post("/governance/auth")
def auth_add(request: Request, document: Annotated[UploadFile, File()], subject: Annotated[list[str], Form()],
             purpose: Annotated[str, Form()], expires: Annotated[str, Form()], granted_by: Annotated[str, Form()],
             scope: Annotated[str | None, Form()] = None, user: User = Depends(require("govern"))) -> Response:
    scopes = [line.strip() for line in (scope or "").splitlines() if line.strip()]
    api.auth_add(request, document, subject, purpose, expires, granted_by, scopes, user)
    return _back("/governance/auth")


@router.post("/governance/auth/{auth_id}/revoke")
def auth_revoke(request: Request, auth_id: int, reason: Annotated[str, Form()],
                user: User = Depends(require("govern"))) -> Response:
    api.auth_revoke(request, auth_id, reason, user)
    return _back("/governance/auth")


@router.get("/governance/audit")
def audit_page(request: Request, since: str | None = None, until: str | None = None, operator: str | None = None,
               command: str | None = None, user: User = Depends(require("audit"))) -> Response:
    since, until, operator, command = (v.strip() or None if v else None for v in (since, until, operator, command))
    params = {"since": since, "until": until, "operator_filter": operator, "command_filter": command, "as_json": False}
    with governed(request, user, "audit", params) as call:
        rows = audit_api.filtered(call.archive, since=since, until=until, operator=operator, command=command)
        filters = {"since": since, "until": until, "operator": operator, "command": command}
        return call.page("gov_audit.j2", {"rows": rows[::-1], "filters": filters}, records=len(rows))


@router.get("/governance/holds")
def holds_page(request: Request, user: User = Depends(require("audit"))) -> Response:
    with governed(request, user, "hold list", {"include_released": True, "as_json": False}) as call:
        rows = holds_api.holds(call.archive, True)
        return call.page("gov_holds.j2", {"rows": rows}, records=len(rows))


@router.post("/governance/holds")
def hold_add(request: Request, reason: Annotated[str, Form()], conversation: Annotated[str | None, Form()] = None,
             person: Annotated[str | None, Form()] = None, user: User = Depends(require("govern"))) -> Response:
    api.hold_add(request, reason, conversation, person, user)
    return _back("/governance/holds")


@router.post("/governance/holds/{hold_id}/release")
def hold_release(request: Request, hold_id: int, reason: Annotated[str | None, Form()] = None,
                 user: User = Depends(require("govern"))) -> Response:
    api.hold_release(request, hold_id, reason, user)
    return _back("/governance/holds")


def _retention(request: Request, user: User, result: dict | None) -> Response:
    with governed(request, user, "retention show", {"as_json": False}) as call:
        return call.page("gov_retention.j2", {"rules": retention_api.rules(call.archive), "result": result})


@router.get("/governance/retention")
def retention_page(request: Request, user: User = Depends(require("audit"))) -> Response:
    return _retention(request, user, None)


@router.post("/governance/retention")
def retention_set(request: Request, selector: Annotated[str | None, Form()] = None,
                  keep: Annotated[str | None, Form()] = None, file: Annotated[UploadFile | None, File()] = None,
                  user: User = Depends(require("govern"))) -> Response:
    api.retention_set(request, selector, keep, file, user)
    return _back("/governance/retention")


@router.post("/governance/retention/apply")
def retention_apply(request: Request, as_of: Annotated[str | None, Form()] = None,
                    dry_run: Annotated[bool, Form()] = True, confirm: Annotated[str | None, Form()] = None,
                    user: User = Depends(require("audit"))) -> Response:
    """A dry run shows its plan; a real run needs the confirm box (``confirm=purge``) and ``govern``."""
    result = orjson.loads(api.retention_apply(request, as_of, dry_run, confirm, user).body)
    return _retention(request, user, result)
