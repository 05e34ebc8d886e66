"""The ASGI application: ``create_app(config)`` assembles the API routers, the pages, the static
files (vendored, nothing from a CDN), the error handlers and the security headers."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Request
from starlette.datastructures import MutableHeaders
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from ..store import db_location
from . import accounts, api, pages, pages_compare, pages_evidence, pages_governance, pages_quality, problems
from . import pages_reviews, pages_supervision, pages_supervision_policies
from .config import ServerConfig
from .accounts import User
from .security import LoginLimiter, authenticated, is_owner_token, owner, set_session_cookie

STATIC = Path(__file__).parent / "static"

# Scripts only from this server (no inline script, so injected markup cannot run); styles may be
# inline (Swagger UI sets some); frames refused.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


# Routers of HTML pages, in order: a capability's pages module adds its router here.
PAGE_ROUTERS = [pages.router, pages_compare.router, pages_quality.router, pages_evidence.router,
                pages_governance.router]
PAGE_ROUTERS += [pages_reviews.router, pages_supervision.router, pages_supervision_policies.router]


def create_app(config: ServerConfig) -> FastAPI:
    app = FastAPI(title="chataudit", version=__version__, docs_url=None, redoc_url=None,
                  openapi_url=None,  # served below, behind the login like everything with data
                  description="The chataudit archive over HTTP: every endpoint returns what the CLI's `--json` "
                              "prints for the same request. Authenticate with `Authorization: Bearer TOKEN`.")
    app.state.config = config
    app.state.limiter = LoginLimiter(config.login_attempts, config.login_window_s, config.open_archive)
    problems.install(app)
    app.include_router(api.router())
    for router in PAGE_ROUTERS:
        app.include_router(router)
    from . import jobs

    app.state.jobs = jobs.JobRunner(config)

    @app.get(f"{api.PREFIX}/openapi.json", include_in_schema=False)
    def openapi(user: User = Depends(authenticated)) -> JSONResponse:
        return JSONResponse(app.openapi())

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.router.on_startup.append(partial(_limit_threads, config.threads))
    app.add_middleware(_TokenLogin)
    app.add_middleware(_SecurityHeaders, tls=config.tls)
    if config.allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=config.allowed_hosts)
    return app


CONFIG_ENV = "CHATAUDIT_SERVE_CONFIG"


def app_from_environment() -> FastAPI:
    """The factory each `serve --workers N` process calls (uvicorn starts workers from an import
    string): the settings `serve` fixed, as JSON in ``$CHATAUDIT_SERVE_CONFIG`` (the environment a
    process inherits is readable only by its user, as the token in ``$CHATAUDIT_TOKEN`` is)."""
    import orjson

    settings = orjson.loads(os.environ[CONFIG_ENV])
    return create_app(ServerConfig(**{**settings, "db": db_location(settings["db"])}))


async def _limit_threads(threads: int) -> None:
    """At most ``threads`` requests run at once (anyio's default is 40: under load they only queue
    for the interpreter, and a search's p95 at 20 clients doubled)."""
    import anyio.to_thread

    anyio.to_thread.current_default_thread_limiter().total_tokens = threads


class _TokenLogin:
    """Jupyter-style: ``GET /any/page?token=TOKEN`` with the owner's token logs the browser in and
    redirects to the same address without the token (so it stays out of history and logs).

    Plain ASGI (as both middlewares here): starlette's BaseHTTPMiddleware costs a task group and a
    body stream per request, a good part of a search's time."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"].startswith("/api/v1/"):
            return await self.app(scope, receive, send)
        request = Request(scope, receive)
        token = request.query_params.get("token")
        if token is None:
            return await self.app(scope, receive, send)
        await _token_login(request, token)(scope, receive, send)


def _token_login(request: Request, token: str) -> Response:
    if not is_owner_token(request, token):
        return RedirectResponse("/login", status_code=303)
    with request.app.state.config.open_archive() as archive:
        session_id, _ = accounts.open_session(archive, owner(request))
    rest = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])
    response = RedirectResponse(request.url.path + (f"?{rest}" if rest else ""), status_code=303)
    set_session_cookie(response, request, session_id)
    return response


class _SecurityHeaders:
    """The headers every answer carries (set only where the answer did not set its own)."""

    def __init__(self, app: ASGIApp, tls: bool):
        self.app = app
        self.tls = tls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CSP)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                headers.setdefault("X-Frame-Options", "DENY")
                if not static:
                    headers.setdefault("Cache-Control", "no-store")
                if self.tls:
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000")
            await send(message)

        await self.app(scope, receive, send_with_headers)
