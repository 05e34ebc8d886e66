"""The Evidence pages: build a package (a background job with live progress, then its download) and
verify an uploaded one point by point. Both call what the API calls (:mod:`.api.evidence`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from starlette.responses import RedirectResponse, Response

from .. import queries
from .accounts import User
from .api.evidence import start_export, verified
from .governed import governed
from .pages import _page
from .security import require

router = APIRouter(include_in_schema=False)

WITHHOLD_FIELDS = ("text", "sender_id", "sender_name", "sender", "extras", "attachments")


@router.get("/evidence")
def evidence_page(request: Request, conversation: str = "", user: User = Depends(require("evidence"))) -> Response:
    with governed(request, user, "conversations", {"as_json": False}) as call:
        rows = queries.conversations(call.archive)
        return call.page("evidence.j2", {"conversations": rows, "chosen": conversation, "fields": WITHHOLD_FIELDS},
                         records=len(rows))


@router.post("/evidence")
def evidence_build(request: Request, conversation: Annotated[str, Form()], since: Annotated[str | None, Form()] = None,
                   until: Annotated[str | None, Form()] = None, tz: Annotated[str | None, Form()] = None,
                   withhold_all: Annotated[list[str] | None, Form()] = None,
                   withhold: Annotated[str | None, Form()] = None, redact: Annotated[bool, Form()] = False,
                   pdf: Annotated[bool, Form()] = False, attach: Annotated[list[UploadFile] | None, File()] = None,
                   statements: Annotated[list[UploadFile] | None, File()] = None,
                   user: User = Depends(require("evidence"))) -> Response:
    """The form: fields withheld from every message (checkboxes) and FIELD:IDS lines, as --withhold."""
    chosen = [f"{name}:all" for name in withhold_all or [] if name in WITHHOLD_FIELDS]
    chosen += [line.strip() for line in (withhold or "").splitlines() if line.strip()]
    job_id = start_export(request, user, conversation=conversation, since=since, until=until, tz=tz, withhold=chosen,
                          redact=redact, pdf=pdf, attach=attach or [], statements=statements or [])
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


@router.get("/evidence/verify")
def verify_page(request: Request, user: User = Depends(require("verify"))) -> Response:
    return _page(request, "evidence_verify.j2", {"report": None, "name": None})


@router.post("/evidence/verify")
def verify_upload(request: Request, package: Annotated[UploadFile, File()], pubkey: Annotated[str | None, Form()] = None,
                  allow_unsigned: Annotated[bool, Form()] = False, user: User = Depends(require("verify"))) -> Response:
    with governed(request, user, "evidence verify", {}) as call:
        from ..evidence.verify import summary_lines

        report = verified(request, package, pubkey, allow_unsigned)
        return call.page("evidence_verify.j2", {"report": report, "lines": summary_lines(report), "name": package.filename,
                                                "pubkey_given": bool(pubkey and pubkey.strip())})
