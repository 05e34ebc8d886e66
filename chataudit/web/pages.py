"""The HTML pages (Jinja2 + htmx). Each page is a route here that runs as a governed call — the
same command name and parameters as the CLI command that shows the same data — and renders one
template of templates/. Text is escaped by Jinja2 (autoescape on for every template), so message text
holding ``<script>`` or links shows as text."""

from __future__ import annotations

import secrets
from itertools import groupby
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from jinja2 import Environment, FileSystemLoader
from starlette.responses import HTMLResponse, RedirectResponse, Response

from .. import queries
from . import accounts, i18n, roles
from .accounts import User
from .governed import governed
from .security import (CSRF_FIELD, LOGIN_CSRF_COOKIE, SESSION_COOKIE, authenticated, is_owner_token, require,
                       set_session_cookie)

TEMPLATES = Path(__file__).parent / "templates"
_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Environment(Environment):
    """``row.text`` on a dict reads its key without first failing ``getattr`` (Jinja's order): the
    same answer — a name dict has as an attribute still goes to Jinja — without an exception per
    field (a 200-message page reads thousands)."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


_env = _Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, trim_blocks=True, lstrip_blocks=True)

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 200

# The main navigation: (path, message key, permission). A capability's pages module appends its own
# entry (``pages.NAV.append(("/quality", "quality", "read"))``) and its router to app.PAGE_ROUTERS.
NAV: list[tuple[str, str, str]] = [("/search", "search", "read"), ("/conversations", "conversations", "list"),
                                   ("/compare", "compare.nav", "read"), ("/people", "person.nav", "read"),
                                   ("/quality", "quality.nav", "quality"), ("/evidence", "evidence.nav", "evidence"),
                                   ("/evidence/verify", "evidence.verify_title", "verify"),
                                   ("/governance", "gov.title", "audit"),
                                   ("/import", "import", "import")]


def render(request: Request, name: str, context: dict[str, Any]) -> str:
    """A template with what every page needs: the translator, the user, the CSRF token, the language."""
    lang = i18n.language(request)
    user = getattr(request.state, "user", None)
    return _env.get_template(name).render(
        request=request, t=i18n.translator(lang), lang=lang, user=user, csrf=getattr(request.state, "csrf", None),
        nav=[(path, key) for path, key, permission in NAV if user is not None and roles.allowed(user.role, permission)],
        can=(lambda permission: user is not None and roles.allowed(user.role, permission)), **context)


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    return html_response(request, render(request, name, context), status)


def html_response(request: Request, body: str | bytes, status: int = 200) -> HTMLResponse:
    """A rendered page; a language chosen with ?lang= is remembered in a cookie."""
    response = HTMLResponse(body, status_code=status)
    if request.query_params.get("lang") in i18n.LANGUAGES:
        response.set_cookie(i18n.LANG_COOKIE, request.query_params["lang"], samesite="strict", httponly=True)
    return response


# ---- login ------------------------------------------------------------------------------------

@router.get("/login")
def login_page(request: Request, next: str = "/search") -> HTMLResponse:
    csrf = secrets.token_urlsafe(24)
    with request.app.state.config.open_archive() as archive:
        team = accounts.has_users(archive)
    response = _page(request, "login.j2", {"next": _local(next), "login_csrf": csrf, "team": team, "error": None})
    response.set_cookie(LOGIN_CSRF_COOKIE, csrf, httponly=True, samesite="strict",
                        secure=request.app.state.config.tls, path="/login")
    return response


def _local(target: str) -> str:
    """Only a path on this server (no //host, no scheme): a login never redirects elsewhere."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/search"


@router.post("/login")
def login(request: Request, name: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
          token: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/search",
          csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "") -> Response:
    """Double-submit CSRF (the form's token must equal its cookie), then rate-limited credentials."""
    t = i18n.translator(i18n.language(request))
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not cookie or not secrets.compare_digest(cookie, csrf_token):
        return Response("CSRF token missing or wrong: reload the login page", status_code=403, media_type="text/plain")
    limiter = request.app.state.limiter
    keys = [f"client:{request.client.host if request.client else '?'}"] + ([f"name:{name}"] if name else [])
    wait = limiter.retry_after(keys)
    context = {"next": _local(next), "login_csrf": csrf_token, "team": True}
    if wait:
        return _page(request, "login.j2", {**context, "error": t("login_limited", seconds=wait)}, status=429)
    with request.app.state.config.open_archive() as archive:
        user = None
        if token:
            user = _owner(request) if is_owner_token(request, token) else accounts.user_of_token(archive, token)
        elif name:
            user = accounts.check_password(archive, name, password)
        if user is None:
            limiter.failed(keys)
            return _page(request, "login.j2", {**context, "error": t("login_failed")}, status=401)
        limiter.succeeded(keys[:1])
        session_id, _ = accounts.open_session(archive, user)
    response = RedirectResponse(_local(next), status_code=303)
    set_session_cookie(response, request, session_id)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


def _owner(request: Request) -> User:
    from .security import owner

    return owner(request)


@router.post("/logout")
def logout(request: Request, user: User = Depends(authenticated)) -> Response:
    with request.app.state.config.open_archive() as archive:
        accounts.close_session(archive, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/")
def home(request: Request) -> Response:
    return RedirectResponse("/search", status_code=303)


# ---- archive pages ----------------------------------------------------------------------------

@router.get("/conversations")
def conversations_page(request: Request, user: User = Depends(require("list"))) -> Response:
    with governed(request, user, "conversations", {"as_json": False}) as call:
        rows = queries.conversations(call.archive)
        return call.page("conversations.j2", {"conversations": rows}, records=len(rows))


SEARCH_FILTERS = ("platform", "sender", "conversation", "since", "until")


def _filters(request: Request) -> dict[str, str | None]:
    """The search page's filters, as `search`'s options (empty fields are no filter)."""
    return {name: (request.query_params.get(name) or "").strip() or None for name in SEARCH_FILTERS}


@router.get("/search")
def search_page(request: Request, q: str = "", redact: bool = False, user: User = Depends(require("read"))) -> Response:
    from .. import formats

    filters = _filters(request)
    hits = _hits(request, user, q, redact, filters) if q.strip() else None
    platforms = sorted({module.PLATFORM for module in formats.registry().values()})
    return _page(request, "search.j2", {"q": q, "redact": redact, "hits": hits, "filters": filters,
                                        "platforms": platforms})


@router.get("/search/hits")
def search_hits(request: Request, q: str = "", redact: bool = False, user: User = Depends(require("read"))) -> Response:
    """The htmx partial the search box fetches as you type."""
    hits = _hits(request, user, q, redact, _filters(request)) if q.strip() else None
    return _page(request, "_hits.j2", {"q": q, "redact": redact, "hits": hits})


def _hits(request: Request, user: User, q: str, redact: bool, filters: dict[str, str | None]) -> dict[str, Any]:
    policy = "default" if redact else None
    params = {"query": q, "platform": filters["platform"], "sender": filters["sender"],
              "conversation_ref": filters["conversation"], "since": filters["since"], "until": filters["until"],
              "tz": None, "limit": 50, "redact_policy": policy, "as_json": False}
    with governed(request, user, "search", params) as call:
        try:
            rows = queries.search(call.archive, q, platform=filters["platform"], sender=filters["sender"],
                                  conversation_ref=filters["conversation"], since=filters["since"],
                                  until=filters["until"], limit=50, redact_policy=call.redact_policy(policy))
        except Exception as error:  # a query that only excludes, an unbalanced quote: say so in place
            from ..errors import ChatAuditError

            if not isinstance(error, (ChatAuditError, ValueError)):
                raise
            call.failed(str(error))
            return {"rows": [], "error": str(error), "redacted": bool(call.redact_policy(policy))}
        call.records += len(rows)
        return {"rows": rows, "error": None, "redacted": bool(call.redact_policy(policy))}


@router.get("/conversations/{conversation}")
def conversation_page(request: Request, conversation: str, redact: bool = False,
                      before: Annotated[int | None, Query()] = None, after: Annotated[int | None, Query()] = None,
                      at: Annotated[int | None, Query()] = None,
                      date: Annotated[str | None, Query(description="Jump to the first message on or after this date.")] = None,
                      user: User = Depends(require("read"))) -> Response:
    policy = "default" if redact else None
    params = {"conversation_ref": conversation, "person_ref": None, "since": None, "until": None, "tz": None,
              "redact_policy": policy, "as_json": False}
    with governed(request, user, "messages", params) as call:
        policy = call.redact_policy(policy)
        archive = call.archive
        found = dict(archive.resolve_conversation(conversation))
        if date:
            since_ms, _ = queries.time_window(archive, date, None, None)
            first = next(iter(queries.timeline(archive, found["id"], since_ms, None, limit=1)), None)
            at = first["id"] if first else None
            before = None if first else before
        rows = queries.timeline_page(archive, found["id"], before=before, after=after, at=at, size=PAGE_SIZE)
        transform = queries.redactor_for(policy, archive, found["id"])
        if transform:
            rows = [transform(row) for row in rows]
            found.update(title="(redacted)", native_id="(redacted)")
        first, last = (rows[0]["id"], rows[-1]["id"]) if rows else (None, None)
        more_before = first is not None and bool(queries.timeline_page(archive, found["id"], before=first, size=1))
        more_after = last is not None and bool(list(queries.timeline(archive, found["id"], after=last, limit=1)))
        days = [(day, list(group)) for day, group in groupby(rows, key=lambda row: row["sent_at"][:10])]
        return call.page("conversation.j2", {
            "conversation": found, "days": days, "redact": bool(policy), "redact_asked": redact, "at": at, "date": date,
            "older": first if more_before else None, "newer": last if more_after else None}, records=len(rows))


@router.get("/messages/{message_id}")
def message_page(request: Request, message_id: int, redact: bool = False, user: User = Depends(require("read"))) -> Response:
    """A message, its hashes and the sources that hold it; its inclusion proof follows (see below)."""
    policy = "default" if redact else None
    with governed(request, user, "proof", {"message_id": message_id, "as_json": False}) as call:
        policy = call.redact_policy(policy)
        archive = call.archive
        row = next(iter(archive.select_messages("m.id = ?", [message_id])), None)
        if row is None:
            from ..errors import ChatAuditError

            raise ChatAuditError(f"no message {message_id}")
        transform = queries.redactor_for(policy, archive, row["conversation"])
        if transform:
            row = transform(row)
        seen = [dict(r) for r in archive.db.execute(
            "SELECT s.id, s.label, s.format, s.sha256, si.position FROM sightings si JOIN sources s ON s.id = si.source"
            " WHERE si.message = ? ORDER BY s.id", (message_id,))]
        if policy:
            seen = [{**s, "label": None} for s in seen]  # labels often name a person's phone
        return call.page("message.j2", {"message": row, "seen": seen, "redact": bool(policy),
                                        "redact_asked": redact}, records=1)


@router.get("/messages/{message_id}/proof")
def message_proof(request: Request, message_id: int, redact: bool = False, user: User = Depends(require("read"))) -> Response:
    """The inclusion proof, fetched by the message page after it shows: computing it costs time in
    proportion to the ledger's size, so the page does not wait for it."""
    from ..errors import ChatAuditError
    from ..ledger.log import Ledger

    with governed(request, user, "proof", {"message_id": message_id, "as_json": False}) as call:
        try:
            (result,) = Ledger(call.archive).proofs([message_id])
            proof = result.as_dict()
            if call.redact_policy("default" if redact else None):
                from .api.ledger import withhold_plain_text

                proof = withhold_plain_text(proof)
        except ChatAuditError as error:
            proof = {"error": str(error)}
        return call.page("_proof.j2", {"proof": proof}, records=1)


@router.get("/manifest.webmanifest")
def manifest(request: Request) -> Response:
    import orjson

    t = i18n.translator(i18n.language(request))
    body = {"name": "chataudit", "short_name": "chataudit", "start_url": "/search", "scope": "/",
            "display": "standalone", "background_color": "#ffffff", "theme_color": "#1f6f5c",
            "description": t("search"),
            "icons": [{"src": "/static/icon.svg", "sizes": "any", "type": "image/svg+xml", "purpose": "any maskable"},
                      {"src": "/static/icon-192.png", "sizes": "192x192", "type": "image/png"},
                      {"src": "/static/icon-512.png", "sizes": "512x512", "type": "image/png"}]}
    return Response(orjson.dumps(body), media_type="application/manifest+json")


@router.get("/api/docs")
def api_docs(request: Request, user: User = Depends(authenticated)) -> HTMLResponse:
    """Swagger UI from the vendored copy (no CDN); it reads /api/v1/openapi.json."""
    return _page(request, "api_docs.j2", {})


# ---- import and jobs --------------------------------------------------------------------------

@router.get("/import")
def import_page(request: Request, user: User = Depends(require("import"))) -> Response:
    return _page(request, "import.j2", {"jobs": request.app.state.jobs.list(user)})


@router.post("/import")
def import_form(request: Request, files: Annotated[list[UploadFile], File()],
                label: Annotated[str | None, Form()] = None, tz: Annotated[str | None, Form()] = None,
                user: User = Depends(require("import"))) -> Response:
    from .api.jobs import start_import

    job_id = start_import(request, user, files, label, tz, None)
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


@router.get("/jobs/{job_id}")
def job_page(request: Request, job_id: int, user: User = Depends(require("jobs"))) -> Response:
    return _page(request, "job.j2", {"job": request.app.state.jobs.get(job_id, user)})


@router.get("/jobs/{job_id}/status")
def job_status(request: Request, job_id: int, user: User = Depends(require("jobs"))) -> Response:
    """The htmx partial the job page polls each second until the job finishes."""
    return _page(request, "_job.j2", {"job": request.app.state.jobs.get(job_id, user)})


@router.post("/jobs/{job_id}/cancel")
def job_cancel(request: Request, job_id: int, user: User = Depends(require("jobs"))) -> Response:
    request.app.state.jobs.cancel(job_id, user)
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)
