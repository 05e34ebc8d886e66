"""Who a request comes from, and the checks every request passes: login (session cookie, the
owner's token, a user's API token), CSRF on state-changing calls, login rate limiting, role limits.

Everything here runs as FastAPI dependencies (:func:`require`), so an endpoint states what it needs
in its signature and cannot forget the check.
"""

from __future__ import annotations

import hmac
import time
from typing import Any, Callable

from fastapi import Depends, HTTPException, Request
from starlette.responses import Response

from . import accounts, roles
from .accounts import User

SESSION_COOKIE = "chataudit_session"
LOGIN_CSRF_COOKIE = "chataudit_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def owner(request: Request) -> User:
    config = request.app.state.config
    return User(None, config.owner, "admin", config.owner)


def is_owner_token(request: Request, token: str) -> bool:
    return bool(token) and hmac.compare_digest(token.encode(), request.app.state.config.token.encode())


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def authenticated(request: Request) -> User:
    """The user of this request, or 401. A cookie session's state-changing call must carry its CSRF
    token (header or form field); a Bearer call carries no cookie, so it needs none."""
    if hasattr(request.state, "user"):
        return request.state.user
    token = _bearer(request)
    if token is not None:
        if is_owner_token(request, token):
            user = owner(request)
        else:
            with request.app.state.config.open_archive() as archive:
                user = accounts.user_of_token(archive, token)
        if user is None:
            raise HTTPException(401, "the API token is not valid (revoked, or its user disabled)",
                                headers={"WWW-Authenticate": "Bearer"})
        request.state.user, request.state.csrf = user, None
        return user
    session_id = request.cookies.get(SESSION_COOKIE)
    session = None
    if session_id:
        with request.app.state.config.open_archive() as archive:
            session = accounts.session_of(archive, session_id)
    if session is None:
        raise HTTPException(401, "log in first (the login page, `?token=` from `chataudit serve`, "
                                 "or `Authorization: Bearer TOKEN`)", headers={"WWW-Authenticate": "Bearer"})
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER)
        if sent is None and "form" in request.headers.get("content-type", ""):
            sent = (await request.form()).get(CSRF_FIELD)
        if not sent or not hmac.compare_digest(str(sent).encode(), session.csrf.encode()):
            raise HTTPException(403, f"CSRF token missing or wrong (send the page's token as {CSRF_HEADER})")
    request.state.user, request.state.csrf = session.user, session.csrf
    return session.user


def require(permission: str) -> Callable[..., User]:
    """A dependency: the logged-in user, who must hold ``permission`` (see :mod:`.roles`)."""

    async def check(user: User = Depends(authenticated)) -> User:
        if not roles.allowed(user.role, permission):
            raise HTTPException(403, f"the role {user.role!r} may not {permission} (see `chataudit user list`)")
        return user

    check.__name__ = f"require_{permission}"
    return check


def set_session_cookie(response: Response, request: Request, session_id: str) -> None:
    response.set_cookie(SESSION_COOKIE, session_id, httponly=True, samesite="strict",
                        secure=request.app.state.config.tls, max_age=accounts.SESSION_TTL_MS // 1000, path="/")


class LoginLimiter:
    """At most ``attempts`` failed logins per client address and per user name in ``window_s``
    seconds; a success clears the client's count. The failures are rows of the archive's
    ``web_login_failures``, so every `serve --workers` process counts the same attempts."""

    def __init__(self, attempts: int, window_s: float, open_archive: Callable[[], Any]):
        self.attempts, self.window_s = attempts, window_s
        self.open_archive = open_archive

    def retry_after(self, keys: list[str]) -> int:
        """Seconds to wait before another try (0: go ahead)."""
        now = _now_ms()
        with self.open_archive() as archive:
            rows = archive.db.execute(
                f"SELECT COUNT(*), MIN(at_ms) FROM web_login_failures WHERE key IN ({', '.join('?' * len(keys))})"
                " AND at_ms > ? GROUP BY key", (*keys, now - int(self.window_s * 1000))).fetchall()
        waits = [int((first + self.window_s * 1000 - now) / 1000) + 1 for count, first in rows
                 if count >= self.attempts]
        return max(waits, default=0)

    def failed(self, keys: list[str]) -> None:
        now = _now_ms()
        with self.open_archive() as archive:
            db = archive.db
            db.execute("BEGIN IMMEDIATE")
            try:  # the expired rows go as new ones come: the table stays as small as the window
                db.execute("DELETE FROM web_login_failures WHERE at_ms <= ?", (now - int(self.window_s * 1000),))
                db.executemany("INSERT INTO web_login_failures (key, at_ms) VALUES (?, ?)", [(k, now) for k in keys])
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def succeeded(self, keys: list[str]) -> None:
        with self.open_archive() as archive:
            archive.db.execute(f"DELETE FROM web_login_failures WHERE key IN ({', '.join('?' * len(keys))})", keys)


def _now_ms() -> int:
    return int(time.time() * 1000)
