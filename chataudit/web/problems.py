"""Errors as RFC 9457 problem details (``application/problem+json``), worded as the CLI words them."""

from __future__ import annotations

from urllib.parse import urlencode
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response

from ..errors import ChatAuditError
from ..governance.access import NotAuthorizedError, NotRecordedError
from ..store import DATABASE_ERRORS, database_error_line

PROBLEM = "application/problem+json"
TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
          409: "Conflict", 413: "Content Too Large", 422: "Unprocessable Content", 429: "Too Many Requests",
          500: "Internal Server Error", 503: "Service Unavailable"}


def problem(status: int, detail: str, *, headers: dict[str, str] | None = None, request: Request | None = None,
            **extra: Any) -> Response:
    """The problem document; a browser asking for a page gets the same words as a page."""
    if request is not None and _wants_html(request):
        from .pages import render

        html = render(request, "error.j2", {"status": status, "title": TITLES.get(status, "Error"), "detail": detail})
        return Response(html, status_code=status, media_type="text/html", headers=headers)
    body = {"type": "about:blank", "title": TITLES.get(status, "Error"), "status": status, "detail": detail, **extra}
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM, headers=headers)


def status_of(error: ChatAuditError) -> int:
    if isinstance(error, NotAuthorizedError):
        return 403
    if isinstance(error, NotRecordedError):
        return 503
    return 404 if str(error).startswith("no ") else 400


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/v1/") and "text/html" in request.headers.get("accept", "")


def install(app: FastAPI) -> None:
    """Every error the app raises becomes a problem document; an unauthenticated page visit goes to login."""

    @app.exception_handler(ChatAuditError)
    async def chataudit_error(request: Request, error: ChatAuditError) -> Response:
        return problem(status_of(error), str(error), request=request)

    @app.exception_handler(ValueError)
    async def value_error(request: Request, error: ValueError) -> Response:
        return problem(400, str(error), request=request)

    async def database_error(request: Request, error: Exception) -> Response:
        line = database_error_line(request.app.state.config.db, error)
        return problem(503, line or "the archive could not be read", request=request)

    for error_class in DATABASE_ERRORS:  # plain SQLite's and SQLCipher's (an encrypted archive)
        app.add_exception_handler(error_class, database_error)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        if error.status_code == 401 and _wants_html(request):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)
        return problem(error.status_code, str(error.detail), headers=getattr(error, "headers", None), request=request)

    @app.exception_handler(Exception)
    async def bug(request: Request, error: Exception) -> Response:
        # a bug: the traceback goes to the server's log (uvicorn), never to the client
        return problem(500, "internal error (a bug in chataudit: the server's log has the details)", request=request)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> Response:
        lines = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()]
        return problem(422, "; ".join(lines), request=request)
