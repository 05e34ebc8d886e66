"""Authenticity signals of one copy (`chataudit check SOURCE --json`); findings are 200, not errors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from ... import check as check_api, queries
from ...errors import ChatAuditError
from ..accounts import User
from ..governed import governed
from ..security import require

router = APIRouter(tags=["check"])


@router.get("/check", summary="`chataudit check SOURCE --json`",
            description="SOURCE is a source (id, SHA-256 or 8+ hex digits, path or label as `sources` lists them) "
                        "or a conversation (`conversation:ID` or anything `conversations` accepts). Always 200: "
                        "`verdict` is \"no anomaly found\" or \"anomalies found\" (the CLI exits 1 on the latter).")
def check(request: Request, source: Annotated[str, Query(min_length=1)], tz: str | None = None,
          redact: bool = False, user: User = Depends(require("read"))) -> Response:
    policy = "default" if redact else None
    with governed(request, user, "check", {"source": source, "tz": tz, "as_json": True}) as call:
        try:
            check_api.resolve_scope(call.archive, source)
        except ChatAuditError:
            if Path(source.strip() or ".").exists():  # the CLI would read a file there; the server does not
                raise ChatAuditError(f"no source {source!r} in the archive (see `chataudit sources`)") from None
            raise
        report = check_api.check(call.archive, source, tz=tz)
        return call.json(queries.redact_report(report, call.redact_policy(policy)),
                         records=report["scope"]["messages"])
