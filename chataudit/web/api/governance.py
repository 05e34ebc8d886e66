"""Governance over HTTP (enterprise mode): mode, roster, authorizations and their scans, the audit
trail, legal holds, retention rules and runs — each the same JSON as the CLI command's ``--json``.

The rules (who may leave enterprise mode, holds as audited ledger facts, what a retention run may
purge) are :mod:`chataudit.governance`'s: every change here calls the same function the CLI calls,
under the logged-in user's name, and that function records its own audit entry exactly as for the
CLI. State changes are POST (CSRF checked for cookie sessions) and need the ``govern`` permission.
"""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Iterator

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from starlette.responses import Response

from ...errors import ChatAuditError
from ...governance import audit as audit_api, auth as auth_api, holds as holds_api, mode as mode_api
from ...governance import retention as retention_api, roster as roster_api
from ..accounts import User
from ..governed import governed
from ..security import require
from ..uploads import save_uploads

router = APIRouter(tags=["governance"])


@contextmanager
def uploaded(request: Request, upload: UploadFile) -> Iterator[Path]:
    """One uploaded file saved under its bare name in a private folder, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="upload-", dir=request.app.state.config.uploads))
    try:
        (path,) = save_uploads([upload], folder, request.app.state.config.max_upload_bytes)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ---- mode and roster --------------------------------------------------------------------------------

@router.get("/mode", summary="`chataudit mode --json`")
def mode(request: Request, user: User = Depends(require("list"))) -> Response:
    with governed(request, user, "mode", {"as_json": True}) as call:
        return call.json(mode_api.status(call.archive))


@router.post("/mode", summary="`chataudit init --mode M [--reason R]`: {mode, previous, admin, audit_entry}",
             description="Anyone with `govern` may switch to enterprise mode (the first becomes the archive's admin); "
                         "only that admin may leave it, with a reason — the rule of `chataudit.governance.mode`.")
def mode_set(request: Request, mode: Annotated[str, Form()], reason: Annotated[str | None, Form()] = None,
             user: User = Depends(require("govern"))) -> Response:
    reason = reason or None
    with governed(request, user, "init", {}) as call:
        return call.json(mode_api.set_mode(call.archive, mode, operator=user.operator, reason=reason,
                                           params={"key_path": None, "mode": mode, "reason": reason, "as_json": True}))


@router.get("/roster", summary="`chataudit roster show --json`")
def roster_show(request: Request, user: User = Depends(require("audit"))) -> Response:
    with governed(request, user, "roster show", {"as_json": True}) as call:
        rows = roster_api.roster(call.archive)
        return call.json(rows, records=len(rows))


@router.post("/roster", summary="`chataudit roster set FILE --json` (upload the CSV as `file`)")
def roster_set(request: Request, file: Annotated[UploadFile, File()], user: User = Depends(require("govern"))) -> Response:
    with governed(request, user, "roster set", {}) as call, uploaded(request, file) as path:
        result = roster_api.set_roster(call.archive, path, operator=user.operator,
                                       params={"path": path.name, "as_json": True})
        return call.json(result)


# ---- authorizations ---------------------------------------------------------------------------------

@router.get("/auth", summary="`chataudit auth list [--active] --json`")
def auth_list(request: Request, active: bool = False, user: User = Depends(require("audit"))) -> Response:
    with governed(request, user, "auth list", {"active": active, "as_json": True}) as call:
        docs = auth_api.listing(call.archive, active=active)
        return call.json(docs, records=len(docs))


@router.post("/auth", summary="`chataudit auth add … --json` (the signed scan as `document`)")
def auth_add(request: Request, document: Annotated[UploadFile, File()], subject: Annotated[list[str], Form()],
             purpose: Annotated[str, Form()], expires: Annotated[str, Form()], granted_by: Annotated[str, Form()],
             scope: Annotated[list[str] | None, Form()] = None, user: User = Depends(require("govern"))) -> Response:
    scopes = [s for s in scope or [] if s.strip()]
    with governed(request, user, "auth add", {}) as call, uploaded(request, document) as path:
        params = {"subjects": subject, "document": path.name, "purpose": purpose, "expires": expires,
                  "granted_by": granted_by, "scopes": scopes, "as_json": True}
        added = auth_api.add(call.archive, subjects=subject, document=path, purpose=purpose, expires=expires,
                             granted_by=granted_by, scopes=scopes, operator=user.operator, params=params)
        return call.json(auth_api.as_json(call.archive, added))


@router.post("/auth/{auth_id}/revoke", summary="`chataudit auth revoke ID --reason R --json`")
def auth_revoke(request: Request, auth_id: int, reason: Annotated[str, Form()],
                user: User = Depends(require("govern"))) -> Response:
    with governed(request, user, "auth revoke", {}) as call:
        revoked = auth_api.revoke(call.archive, auth_id, reason, operator=user.operator,
                                  params={"auth_id": auth_id, "reason": reason, "as_json": True})
        return call.json(auth_api.as_json(call.archive, revoked))


@router.get("/auth/{auth_id}/document", summary="`chataudit auth document ID` (the stored scan, SHA-256 checked)")
def auth_document(request: Request, auth_id: int, user: User = Depends(require("audit"))) -> Response:
    with governed(request, user, "auth document", {"auth_id": auth_id, "out": None}) as call:
        name, data = auth_api.checked_document(call.archive, auth_id)
        call._sent(data, 1)
        return Response(data, media_type="application/octet-stream",
                        headers={"Content-Disposition": _attachment(name)})


def _attachment(name: str) -> str:
    from urllib.parse import quote

    return f"attachment; filename*=UTF-8''{quote(name, safe='')}"


# ---- the audit trail --------------------------------------------------------------------------------

@router.get("/audit", summary="`chataudit audit --json` (same filters)")
def audit(request: Request, since: str | None = None, until: str | None = None, operator: str | None = None,
          command: str | None = None, user: User = Depends(require("audit"))) -> Response:
    params = {"since": since, "until": until, "operator_filter": operator, "command_filter": command, "as_json": True}
    with governed(request, user, "audit", params) as call:
        rows = audit_api.filtered(call.archive, since=since, until=until, operator=operator, command=command)
        return call.json(rows, records=len(rows))


# ---- holds ------------------------------------------------------------------------------------------

@router.get("/holds", summary="`chataudit hold list [--all] --json`")
def hold_list(request: Request, all: bool = False, user: User = Depends(require("audit"))) -> Response:
    with governed(request, user, "hold list", {"include_released": all, "as_json": True}) as call:
        rows = holds_api.holds(call.archive, all)
        return call.json(rows, records=len(rows))


@router.post("/holds", summary="`chataudit hold add --conversation C | --person P --reason R --json`")
def hold_add(request: Request, reason: Annotated[str, Form()], conversation: Annotated[str | None, Form()] = None,
             person: Annotated[str | None, Form()] = None, user: User = Depends(require("govern"))) -> Response:
    conversation, person = conversation or None, person or None
    params = {"conversation_ref": conversation, "person_ref": person, "reason": reason, "as_json": True}
    with governed(request, user, "hold add", {}) as call:
        return call.json(holds_api.add_hold(call.archive, conversation=conversation, person=person, reason=reason,
                                            operator=user.operator, params=params))


@router.post("/holds/{hold_id}/release", summary="`chataudit hold release ID [--reason R] --json`")
def hold_release(request: Request, hold_id: int, reason: Annotated[str | None, Form()] = None,
                 user: User = Depends(require("govern"))) -> Response:
    reason = reason or None
    with governed(request, user, "hold release", {}) as call:
        return call.json(holds_api.release_hold(call.archive, hold_id, reason, operator=user.operator,
                                                params={"hold_id": hold_id, "reason": reason, "as_json": True}))


# ---- retention --------------------------------------------------------------------------------------

@router.get("/retention", summary="`chataudit retention show --json`")
def retention_show(request: Request, user: User = Depends(require("audit"))) -> Response:
    with governed(request, user, "retention show", {"as_json": True}) as call:
        return call.json(retention_api.rules(call.archive))


@router.post("/retention", summary="`chataudit retention set SELECTOR KEEP --json`, or `--file` (upload as `file`)")
def retention_set(request: Request, selector: Annotated[str | None, Form()] = None,
                  keep: Annotated[str | None, Form()] = None, file: Annotated[UploadFile | None, File()] = None,
                  user: User = Depends(require("govern"))) -> Response:
    selector, keep = selector or None, keep or None
    if file is not None and not file.filename:
        file = None
    if (file is None) == (selector is None):
        raise ChatAuditError("give SELECTOR KEEP or --file FILE")
    if selector and not keep:
        raise ChatAuditError("give how long to keep: a duration like 2y, 18m, 6w, 90d, or keep")
    with governed(request, user, "retention set", {}) as call:
        if file is None:
            new_rules, name = {selector: keep}, None
        else:
            with uploaded(request, file) as path:
                new_rules, name = retention_api.load_rules_file(path), path.name
        current = retention_api.set_rules(call.archive, new_rules, replace=name is not None, operator=user.operator,
                                          params={"selector": selector, "keep": keep, "rules_file": name,
                                                  "as_json": True})
        return call.json(current)


@router.post("/retention/apply", summary="`chataudit retention apply [--dry-run] [--as-of T] --json`",
             description="A dry run unless `dry_run=false` *and* `confirm=purge` (and the `govern` permission): "
                         "a real run purges messages (tombstones stay in the ledger).")
def retention_apply(request: Request, as_of: Annotated[str | None, Form()] = None,
                    dry_run: Annotated[bool, Form()] = True, confirm: Annotated[str | None, Form()] = None,
                    user: User = Depends(require("audit"))) -> Response:
    from ..roles import allowed

    as_of = as_of or None
    if not dry_run:
        if not allowed(user.role, "govern"):
            from fastapi import HTTPException

            raise HTTPException(403, f"the role {user.role!r} may not govern (a real retention run purges messages)")
        if confirm != "purge":
            raise ChatAuditError("a real retention run purges messages: send confirm=purge (or dry_run=true to preview)")
    with governed(request, user, "retention apply", {}) as call:
        result = retention_api.apply(call.archive, as_of=as_of, dry_run=dry_run, operator=user.operator,
                                     params={"dry_run": dry_run, "as_of": as_of, "as_json": True})
        return call.json(result, records=len(result["purge"]))
