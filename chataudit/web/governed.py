"""Every request that reads the archive runs as one governed call, through the same rule the CLI
applies around a command (:func:`chataudit.governance.access.admit` before, ``conclude`` after): in
enterprise mode a read is checked against the written authorizations, and audited reads, listings
and verifications are on the record — under the logged-in user's name — before anything is sent;
the record's output hash is the SHA-256 of the exact response body.

Use it as::

    with governed(request, user, "search", params) as call:
        rows = queries.search(call.archive, ...)
        return call.json(rows, records=len(rows))

``command`` and ``params`` are the CLI command's name and click parameter names (``conversation_ref``,
``since``, ``until``, ``tz``, ``platform``, ``sender`` …), so the scope check reads them as it
reads the CLI's.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import orjson
from fastapi import Request
from starlette.responses import HTMLResponse, Response

from ..governance import access
from ..store import Archive
from . import roles
from .accounts import User


@dataclass
class Call:
    request: Request
    user: User
    archive: Archive
    admission: access.Admission
    records: int = 0
    outputs: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None  # set by failed(): the call answered, but as the CLI would have failed

    def failed(self, detail: str) -> None:
        """Record this call as an error (as the CLI's exit 1) although its page shows the message."""
        self.error = detail

    def redact_policy(self, requested: str | None) -> str | None:
        """The redaction this call runs with (a reviewer's is never off)."""
        return roles.redact_policy(self.user.role, requested)

    def _sent(self, body: bytes, records: int) -> None:
        self.records += records
        self.outputs.append({"to": f"http {self.request.method} {self.request.url.path}", "bytes": len(body),
                             "sha256": hashlib.sha256(body).hexdigest()})

    def json(self, value: Any, *, records: int = 0, headers: dict[str, str] | None = None) -> Response:
        """The response body as the CLI's ``--json`` holds it (same keys and values)."""
        body = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
        self._sent(body, records)
        return Response(body, media_type="application/json", headers=headers)

    def page(self, name: str, context: dict[str, Any], *, records: int = 0) -> HTMLResponse:
        from .pages import html_response, render

        body = render(self.request, name, context).encode()
        self._sent(body, records)
        return html_response(self.request, body)


@contextmanager
def governed(request: Request, user: User, command: str, params: dict[str, Any]) -> Iterator[Call]:
    """Admit the call (or raise: NotAuthorizedError → 403, NotRecordedError → 503), run it, conclude it."""
    with request.app.state.config.open_archive() as archive:
        admission = access.admit(archive, operator=user.operator, command=command, params=params)
        call = Call(request, user, archive, admission)
        try:
            yield call
        except BaseException as error:
            access.conclude(archive, admission, records=call.records, outputs=call.outputs, outcome="error",
                            exit_code=1, detail=str(error) or type(error).__name__)
            raise
        access.conclude(archive, admission, records=call.records, outputs=call.outputs,
                        outcome="error" if call.error else "ok", exit_code=1 if call.error else 0, detail=call.error,
                        facts={"via": "web", "user_role": user.role})
