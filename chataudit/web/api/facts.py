"""Facts a dispute turns on (`chataudit facts --json`) and statements matched against the chat
(`chataudit match --json`, statement files uploaded)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from starlette.responses import Response

from ... import facts as facts_api, match as match_api, queries
from ...errors import ChatAuditError
from ..accounts import User
from ..governed import governed
from ..security import require
from .archive import Since, Tz, Until
from .compare import uploaded

router = APIRouter(tags=["facts"])


@router.get("/facts", summary="`chataudit facts --json`")
def facts(request: Request, conversation: str | None = None, person: str | None = None, topic: str | None = None,
          type: Annotated[list[str], Query(description=f"Repeatable: {', '.join(facts_api.TYPES)}.")] = [],  # noqa: B006
          since: Since = None, until: Until = None, tz: Tz = None, redact: bool = False,
          user: User = Depends(require("read"))) -> Response:
    unknown = [t for t in type if t not in facts_api.TYPES]
    if unknown:
        raise ChatAuditError(f"--type {unknown[0]!r} is not one of {', '.join(facts_api.TYPES)}")
    policy = "default" if redact else None
    params = {"conversation_ref": conversation, "person": person, "topic": topic, "types": tuple(type),
              "since": since, "until": until, "tz": tz, "as_json": True}
    with governed(request, user, "facts", params) as call:
        found = queries.facts(call.archive, conversation_ref=conversation, person=person, topic=topic, types=type,
                              since=since, until=until, tz=tz)
        return call.json(queries.redact_report(found, call.redact_policy(policy)), records=len(found))


@router.post("/match", summary="`chataudit match --statement FILE… --json` (statement files uploaded)",
             description="Multipart: `files` (WeChat Pay .csv/.xlsx, Alipay .csv, bank CSV; one or more), "
                         "`conversation` or `person`, `window` (hours), `tolerance` (percent), `tz`.")
def match(request: Request, files: Annotated[list[UploadFile], File()],
          conversation: Annotated[str | None, Form()] = None, person: Annotated[str | None, Form()] = None,
          window: Annotated[float, Form()] = match_api.DEFAULT_WINDOW_HOURS,
          tolerance: Annotated[float, Form()] = 0.0, tz: Annotated[str | None, Form()] = None,
          redact: Annotated[bool, Form()] = False, user: User = Depends(require("read"))) -> Response:
    policy = "default" if redact else None
    with uploaded(request, files, "match-") as (base, paths):
        if not paths:
            raise ChatAuditError("no statement file uploaded")
        params = {"statements": tuple(paths), "conversation_ref": conversation or None, "person_ref": person or None,
                  "window_hours": window, "tolerance": tolerance, "tz": tz or None, "as_json": True}
        with governed(request, user, "match", params) as call:
            result = queries.match(call.archive, [Path(p) for p in paths], conversation_ref=conversation or None,
                                   person_ref=person or None, window_hours=window, tolerance=tolerance,
                                   tz=tz or None, base=base)
            return call.json(queries.redact_report(result, call.redact_policy(policy)),
                             records=result["summary"]["claims"])
