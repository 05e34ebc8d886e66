"""Users, API tokens and login sessions of the web app, stored in the archive (migration 0014).

Passwords are argon2id hashes (argon2-cffi's defaults, RFC 9106's second recommended profile); API
tokens and session ids are random 256-bit values stored only as SHA-256 digests, so the archive file
gives none of them away.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..errors import ChatAuditError
from ..store import Archive
from .roles import ROLES

SESSION_TTL_MS = 12 * 3600 * 1000
MIN_PASSWORD = 8
_hasher = PasswordHasher()  # argon2id


@dataclass(frozen=True)
class User:
    """Who a request comes from. ``id`` is None for the owner who started `serve` (the token)."""

    id: int | None
    name: str
    role: str
    operator: str  # the name the audit trail records


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ChatAuditError(f"unknown role {role!r} (one of: {', '.join(ROLES)})")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ChatAuditError(f"the password is too short (at least {MIN_PASSWORD} characters)")


def check_new_user(archive: Archive, name: str, role: str) -> None:
    """Raise unless ``name`` may be added with ``role``."""
    _check_role(role)
    if not name.strip() or name != name.strip():
        raise ChatAuditError(f"a user name may not be empty or start or end with spaces: {name!r}")
    if archive.db.execute("SELECT 1 FROM web_users WHERE name = ?", (name,)).fetchone():
        raise ChatAuditError(f"user {name!r} exists already (see `chataudit user list`)")


def add_user(archive: Archive, name: str, role: str, password: str) -> dict[str, Any]:
    check_new_user(archive, name, role)
    _check_password(password)
    archive.db.execute("INSERT INTO web_users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
                       (name, role, _hasher.hash(password), _now()))
    return _user_row(archive, name)


def _user_row(archive: Archive, name: str) -> dict[str, Any]:
    row = archive.db.execute("SELECT id, name, role, created_at, disabled_at,"
                             " (SELECT count(*) FROM web_tokens t WHERE t.user = u.id) AS tokens"
                             " FROM web_users u WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise ChatAuditError(f"no user {name!r} (see `chataudit user list`)")
    return dict(row)


def list_user(archive: Archive, name: str) -> dict[str, Any]:
    """One user's row of `user list` (raises naming `user list` when there is none)."""
    return _user_row(archive, name)


def list_users(archive: Archive) -> list[dict[str, Any]]:
    """`user list --json`: id, name, role, created_at, disabled_at, tokens."""
    return [dict(row) for row in archive.db.execute(
        "SELECT id, name, role, created_at, disabled_at,"
        " (SELECT count(*) FROM web_tokens t WHERE t.user = u.id) AS tokens FROM web_users u ORDER BY id")]


def has_users(archive: Archive) -> bool:
    return archive.db.execute("SELECT 1 FROM web_users LIMIT 1").fetchone() is not None


def disable_user(archive: Archive, name: str) -> dict[str, Any]:
    """Disable an account: its sessions and tokens stop working at once."""
    user = _user_row(archive, name)
    with _transaction(archive):
        archive.db.execute("UPDATE web_users SET disabled_at = coalesce(disabled_at, ?) WHERE id = ?", (_now(), user["id"]))
        _revoke(archive, user["id"])
    return _user_row(archive, name)


def reset_user(archive: Archive, name: str, password: str) -> dict[str, Any]:
    """A new password; every session and API token of the user is revoked, and the account enabled."""
    _check_password(password)
    user = _user_row(archive, name)
    with _transaction(archive):
        archive.db.execute("UPDATE web_users SET password_hash = ?, disabled_at = NULL WHERE id = ?",
                           (_hasher.hash(password), user["id"]))
        _revoke(archive, user["id"])
    return _user_row(archive, name)


def new_token(archive: Archive, name: str) -> str:
    """A new API token for a user (shown once; only its digest is kept)."""
    user = _user_row(archive, name)
    if user["disabled_at"]:
        raise ChatAuditError(f"user {name!r} is disabled (`chataudit user reset {name}` enables it)")
    token = new_secret()
    archive.db.execute("INSERT INTO web_tokens (user, token_sha256, created_at) VALUES (?, ?, ?)",
                       (user["id"], digest(token), _now()))
    return token


def _revoke(archive: Archive, user_id: int) -> None:
    archive.db.execute("DELETE FROM web_sessions WHERE user = ?", (user_id,))
    archive.db.execute("DELETE FROM web_tokens WHERE user = ?", (user_id,))


class _transaction:
    def __init__(self, archive: Archive):
        self.db = archive.db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: Any, *rest: Any) -> None:
        self.db.execute("ROLLBACK" if kind else "COMMIT")


def _as_user(row: Any) -> User:
    return User(row["id"], row["name"], row["role"], row["name"])


def check_password(archive: Archive, name: str, password: str) -> User | None:
    """The user whose name and password these are, or None (unknown, disabled or wrong)."""
    row = archive.db.execute("SELECT id, name, role, password_hash FROM web_users WHERE name = ? AND disabled_at IS NULL",
                             (name,)).fetchone()
    if row is None:
        _hasher.hash(password)  # the same work as a wrong password, so timing tells no names
        return None
    try:
        _hasher.verify(row["password_hash"], password)
    except (VerificationError, InvalidHashError):
        return None
    return _as_user(row)


def user_of_token(archive: Archive, token: str) -> User | None:
    row = archive.db.execute("SELECT u.id, u.name, u.role FROM web_tokens t JOIN web_users u ON u.id = t.user"
                             " WHERE t.token_sha256 = ? AND u.disabled_at IS NULL", (digest(token),)).fetchone()
    return _as_user(row) if row else None


def open_session(archive: Archive, user: User) -> tuple[str, str]:
    """A new login session: (session id for the cookie, its CSRF token)."""
    session_id, csrf = new_secret(), new_secret()
    now = int(time.time() * 1000)
    archive.db.execute("DELETE FROM web_sessions WHERE expires_at_ms < ?", (now,))
    archive.db.execute("INSERT INTO web_sessions (id_sha256, user, operator, role, csrf, expires_at_ms) VALUES (?, ?, ?, ?, ?, ?)",
                       (digest(session_id), user.id, user.operator, user.role, csrf, now + SESSION_TTL_MS))
    return session_id, csrf


def session_of(archive: Archive, session_id: str) -> Session | None:
    row = archive.db.execute(
        "SELECT s.user, s.operator, s.role, s.csrf, u.name FROM web_sessions s LEFT JOIN web_users u ON u.id = s.user"
        " WHERE s.id_sha256 = ? AND s.expires_at_ms > ? AND (s.user IS NULL OR u.disabled_at IS NULL)",
        (digest(session_id), int(time.time() * 1000))).fetchone()
    if row is None or (row["user"] is not None and row["name"] is None):
        return None
    return Session(User(row["user"], row["name"] or row["operator"], row["role"], row["operator"]), row["csrf"])


def close_session(archive: Archive, session_id: str) -> None:
    archive.db.execute("DELETE FROM web_sessions WHERE id_sha256 = ?", (digest(session_id),))
