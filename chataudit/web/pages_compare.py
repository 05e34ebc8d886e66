"""Pages of the copies and the people in them: Compare (two or more copies side by side), Check
(signs that one copy was edited) and People (identities, links, one person's timeline across
platforms). Each runs as the governed call of its CLI command and calls the same function as the
API endpoint (:mod:`.api.compare`, :mod:`.api.people`)."""

from __future__ import annotations

import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from starlette.responses import RedirectResponse, Response

from .. import compare as compare_api, people as people_api, queries
from ..errors import ChatAuditError
from . import roles
from .accounts import User
from .api.compare import params_of, run_compare, uploaded
from .governed import Call, governed
from .security import require

router = APIRouter(include_in_schema=False)
PERSON_PAGE = 500  # messages of a person's timeline per page


def _choices(call: Call, policy: str | None) -> dict[str, Any]:
    """What a copy may be: the archive's source labels and conversations (names hidden when redacted)."""
    labels = sorted({s["label"] for s in queries.sources(call.archive) if s["label"]})
    conversations = [{"id": c["id"], "platform": c["platform"], "title": c["title"] or c["native_id"],
                      "message_count": c["message_count"]} for c in queries.conversations(call.archive)]
    if policy:
        labels = []  # labels often name a person's phone
        conversations = [{**c, "title": f"{c['platform']} #{c['id']}"} for c in conversations]
    return {"labels": labels, "conversations": conversations}


def _result(comparison: compare_api.Comparison) -> dict[str, Any]:
    """The report, and the rows the page lays side by side (all of them: the toggle hides the same)."""
    from ..render.compare_html import write_compare

    html = io.StringIO()
    write_compare(comparison, html)
    rows = list(comparison.timeline(-1)) if comparison.alignment is not None else None
    return {"report": comparison.report, "rows": rows, "different": compare_api.is_different(comparison.report),
            "html_report": html.getvalue()}


@router.get("/compare")
def compare_page(request: Request, copies: Annotated[list[str], Query(alias="copy")] = [],  # noqa: B006
                 tolerance: float = compare_api.DEFAULT_TOLERANCE_S, redact: bool = False,
                 user: User = Depends(require("read"))) -> Response:
    policy = "default" if redact else None
    copies = [c for c in copies if c.strip()]
    # the empty form only lists what may be compared (as `sources` does); a comparison is a `compare`
    command, params = ("compare", params_of(copies, tolerance, None, policy, False)) if copies else \
        ("sources", {"as_json": False})
    with governed(request, user, command, params) as call:
        policy = call.redact_policy(policy)
        context = {**_choices(call, policy), "chosen": copies, "tolerance": tolerance, "redact": bool(policy),
                   "result": None, "error": None}
        if copies:
            try:
                context["result"] = _result(run_compare(call, copies, [], None, tolerance=tolerance, tz=None,
                                                        keep=False, policy=policy))
            except ChatAuditError as error:
                context["error"] = str(error)
        return call.page("compare.j2", context, records=len(copies))


@router.post("/compare")
def compare_form(request: Request, copies: Annotated[list[str], Form(alias="copy")] = [],  # noqa: B006
                 files: Annotated[list[UploadFile], File()] = [],  # noqa: B006
                 tolerance: Annotated[float, Form()] = compare_api.DEFAULT_TOLERANCE_S,
                 tz: Annotated[str, Form()] = "", keep: Annotated[bool, Form()] = False,
                 redact: Annotated[bool, Form()] = False, user: User = Depends(require("read"))) -> Response:
    if keep and not roles.allowed(user.role, "import"):
        raise HTTPException(403, f"the role {user.role!r} may not import (keep): compare without keeping the files")
    policy = "default" if redact else None
    copies = [c for c in copies if c.strip()]
    with uploaded(request, files) as (base, paths):
        with governed(request, user, "compare", params_of(copies + paths, tolerance, tz or None, policy, keep)) as call:
            policy = call.redact_policy(policy)
            context = {**_choices(call, policy), "chosen": copies, "tolerance": tolerance, "redact": bool(policy),
                       "result": None, "error": None}
            try:
                context["result"] = _result(run_compare(call, copies, paths, base, tolerance=tolerance,
                                                        tz=tz or None, keep=keep, policy=policy))
            except ChatAuditError as error:
                context["error"] = str(error)
            return call.page("compare.j2", context, records=len(copies) + len(paths))


@router.get("/check")
def check_page(request: Request, source: str = "", redact: bool = False,
               user: User = Depends(require("read"))) -> Response:
    from .. import check as check_api

    policy = "default" if redact else None
    command, params = ("check", {"source": source, "tz": None, "as_json": False}) if source.strip() else \
        ("sources", {"as_json": False})  # the empty form lists what may be checked
    with governed(request, user, command, params) as call:
        policy = call.redact_policy(policy)
        context = {**_choices(call, policy), "sources": [] if policy else queries.sources(call.archive),
                   "source": source, "redact": bool(policy), "report": None}
        if source.strip():
            check_api.resolve_scope(call.archive, source)  # only what the archive holds: no path on the server
            report = check_api.check(call.archive, source)
            context["report"] = queries.redact_report(report, policy)
        return call.page("check.j2", context, records=(context["report"] or {}).get("scope", {}).get("messages", 0))


@router.get("/people")
def people_page(request: Request, redact: bool = False, user: User = Depends(require("list"))) -> Response:
    policy = "default" if redact else None
    with governed(request, user, "people", {"as_json": False}) as call:
        policy = call.redact_policy(policy)
        listing = queries.redact_report(queries.people(call.archive), policy)
        return call.page("people.j2", {**listing, "redact": bool(policy)}, records=len(listing["identities"]))


@router.post("/people/link")
def people_link_form(request: Request, identities: Annotated[list[str], Form(alias="identity")] = [],  # noqa: B006
                     name: Annotated[str, Form()] = "", user: User = Depends(require("people"))) -> Response:
    with governed(request, user, "people link", {"identities": tuple(identities), "name": name or None}) as call:
        if not identities:
            raise ChatAuditError("tick the identities to link")
        person = people_api.link(call.archive, identities, name or None)
    return RedirectResponse(f"/person?p={person}", status_code=303)


@router.post("/people/unlink")
def people_unlink_form(request: Request, identities: Annotated[list[str], Form(alias="identity")] = [],  # noqa: B006
                       user: User = Depends(require("people"))) -> Response:
    with governed(request, user, "people unlink", {"identities": tuple(identities)}) as call:
        people_api.unlink(call.archive, identities)
    return RedirectResponse("/people", status_code=303)


@router.get("/person")
def person_page(request: Request, p: str, since: str = "", until: str = "", redact: bool = False,
                user: User = Depends(require("read"))) -> Response:
    """One timeline across platforms, as `messages --person`: the first PERSON_PAGE messages of the
    period asked for (a longer one is narrowed with its from/until)."""
    policy = "default" if redact else None
    params = {"conversation_ref": None, "person_ref": p, "since": since or None, "until": until or None, "tz": None,
              "redact_policy": policy, "as_json": False}
    with governed(request, user, "messages", params) as call:
        policy = call.redact_policy(policy)
        person_id, identities = people_api.resolve_person(call.archive, p)
        rows: list[dict[str, Any]] = []
        more = False
        for row in queries.person_messages(call.archive, p, since=since or None, until=until or None,
                                           redact_policy=policy):
            if len(rows) == PERSON_PAGE:
                more = True
                break
            rows.append(row)
        shown = p if not policy else f"person {person_id}" if person_id is not None else "(redacted)"
        platforms = sorted({row["platform"] for row in rows})
        return call.page("person.j2", {"person": shown, "ref": p, "identities": [] if policy else identities,
                                       "rows": rows, "platforms": platforms, "since": since, "until": until,
                                       "redact": bool(policy), "redact_asked": redact, "more": more},
                         records=len(rows))
