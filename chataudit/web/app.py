"""The ASGI application: ``create_app(config)`` assembles the API routers, the pages, the static
files (vendored, nothing from a CDN), the error handlers and the security headers."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Request
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from .. import __version__
from . import accounts, api, pages, pages_compare, pages_evidence, pages_governance, pages_quality, problems
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


def create_app(config: ServerConfig) -> FastAPI:
    app = FastAPI(title="chataudit", version=__version__, docs_url=None, redoc_url=None,
                  openapi_url=None,  # served below, behind the login like everything with data
                  description="The chataudit archive over HTTP: every endpoint returns what the CLI's `--json` "
                              "prints for the same request. Authenticate with `Authorization: Bearer TOKEN`.")
    app.state.config = config
    app.state.limiter = LoginLimiter(config.login_attempts, config.login_window_s)
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
    app.add_middleware(BaseHTTPMiddleware, dispatch=_token_login)
    app.add_middleware(BaseHTTPMiddleware, dispatch=_security_headers)
    if config.allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=config.allowed_hosts)
    return app


async def _token_login(request: Request, call_next) -> Response:
    """Jupyter-style: ``GET /any/page?token=TOKEN`` with the owner's token logs the browser in and
    redirects to the same address without the token (so it stays out of history and logs)."""
    token = request.query_params.get("token")
    if request.method != "GET" or token is None or request.url.path.startswith("/api/v1/"):
        return await call_next(request)
    if not is_owner_token(request, token):
        return RedirectResponse("/login", status_code=303)
    with request.app.state.config.open_archive() as archive:
        session_id, _ = accounts.open_session(archive, owner(request))
    rest = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])
    response = RedirectResponse(request.url.path + (f"?{rest}" if rest else ""), status_code=303)
    set_session_cookie(response, request, session_id)
    return response


async def _security_headers(request: Request, call_next) -> Response:
    response = await call_next(request)
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if not request.url.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")
    if request.app.state.config.tls:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response
