"""Personal data found in the archive (`chataudit pii scan --json`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ... import queries
from ..accounts import User
from ..governed import governed
from ..security import require
from .archive import Redact

router = APIRouter(tags=["privacy"])


@router.get("/pii/scan", summary="`chataudit pii scan --json`",
            description="Incremental as the CLI's: only messages new since the last scan are read. With `redact` "
                        "(always for a reviewer) each finding's `value` is what the policy makes of it.")
def pii_scan(request: Request, conversation: str | None = None, person: str | None = None, types: str | None = None,
             redact: Redact = False, user: User = Depends(require("read"))) -> Response:
    policy = "default" if redact else None
    params = {"conversation_ref": conversation, "person_ref": person, "types": types, "as_json": True}
    with governed(request, user, "pii scan", params) as call:
        result = queries.pii_scan(call.archive, conversation_ref=conversation, person_ref=person, types=types,
                                  redact_policy=call.redact_policy(policy))
        return call.json(result, records=len(result["findings"]))
