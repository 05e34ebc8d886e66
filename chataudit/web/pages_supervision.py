"""The supervision pages: the review queue (filters, "mine", overdue marked, assignment for ``policies``),
an item (each alert's hit highlighted in its context, close / escalate / assign forms, the item's
history) and the supervision report with its charts.

A form posts here and is handled by the API endpoint's own function (:mod:`.api.supervision`), so a
change from a page is the same call, with the same audit entry and the same refusals, as from the API
or the CLI; the page then shows the new state."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from ..supervision import queue as queue_api, reports as reports_api
from . import pages, roles
from .accounts import User
from .api import supervision as api
from .governed import governed
from .security import require

router = APIRouter(include_in_schema=False)
pages.NAV.insert(len(pages.NAV) - 1, ("/supervision", "sup.nav", "alerts"))
pages.NAV.insert(len(pages.NAV) - 1, ("/supervision/report", "sup.report_nav", "policies"))


def _back(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def _blank(value: str | None) -> str | None:
    return (value or "").strip() or None


@router.get("/supervision")
def queue_page(request: Request, mine: bool = False, reviewer: str | None = None, status: str = "open",
               overdue: bool = False, user: User = Depends(require("alerts"))) -> Response:
    reviewer = _blank(reviewer)
    with governed(request, user, "supervise queue", api.queue_params(mine, reviewer, status, overdue, None)) as call:
        rows = api.queue_rows(call, user, mine=mine, reviewer=reviewer, status=status, overdue=overdue, sla=None)
        filters = {"mine": mine, "reviewer": reviewer, "status": status, "overdue": overdue}
        return call.page("sup_queue.j2", {"rows": rows, "filters": filters, "statuses": queue_api.STATUSES,
                                          "sees_all": api.sees_all(user)}, records=len(rows))


@router.post("/supervision/assign")
def assign_many(request: Request, round_robin: Annotated[str | None, Form()] = None,
                team_reviewers: Annotated[str | None, Form()] = None,
                user: User = Depends(require("policies"))) -> Response:
    teams = [line.strip() for line in (team_reviewers or "").splitlines() if line.strip()]
    api.assign(request, None, None, None if teams else round_robin, teams or None, user)
    return _back("/supervision")


@router.get("/supervision/items/{item_id}")
def item_page(request: Request, item_id: int, redact: bool = False, context: int = 2,
              user: User = Depends(require("alerts"))) -> Response:
    policy = roles.redact_policy(user.role, "default" if redact else None)
    with governed(request, user, "supervise show", api.show_params(item_id, context, None, policy)) as call:
        doc = api.item_doc(call, user, item_id, context, None, redact)
        item = doc["item"]
        mine = item["reviewer"] in (None, user.operator) if api.sees_all(user) else item["reviewer"] == user.operator
        mine = mine and not (item["status"] == "escalated" and item["first_reviewer"] == user.operator)
        return call.page("sup_item.j2", {
            "doc": doc, "item": item, "redact": policy is not None, "context": context,
            "may_work": item["status"] != "closed" and mine and not item["tampered"],
            "dispositions": queue_api.FINAL_DISPOSITIONS if item["status"] == "escalated" else queue_api.DISPOSITIONS,
        }, records=len(doc["alerts"]))


@router.post("/supervision/items/{item_id}/close")
def item_close(request: Request, item_id: int, disposition: Annotated[str, Form()], reason: Annotated[str, Form()],
               to: Annotated[str | None, Form()] = None, user: User = Depends(require("alerts"))) -> Response:
    api.close(request, item_id, disposition, reason, to, user)
    return _back(f"/supervision/items/{item_id}")


@router.post("/supervision/items/{item_id}/escalate")
def item_escalate(request: Request, item_id: int, reason: Annotated[str, Form()],
                  to: Annotated[str | None, Form()] = None, user: User = Depends(require("alerts"))) -> Response:
    api.escalate(request, item_id, reason, to, user)
    return _back(f"/supervision/items/{item_id}")


@router.post("/supervision/items/{item_id}/assign")
def item_assign(request: Request, item_id: int, to: Annotated[str, Form()],
                user: User = Depends(require("policies"))) -> Response:
    api.assign(request, [item_id], to, None, None, user)
    return _back(f"/supervision/items/{item_id}")


def charts(doc: dict) -> dict:
    """Small series for the report's charts: hits per period stacked by group, and the
    false-positive rate of the rules that have closed alerts."""
    periods = sorted({h["period"] for h in doc["hits"]})
    groups = sorted({h["group"] for h in doc["hits"]})
    counts = {(h["period"], h["group"]): h["alerts"] for h in doc["hits"]}
    rated = [t for t in doc["terms"] if t["false_positive_rate"] is not None][:20]
    return {"hits": {"x": periods, "series": [{"name": g, "data": [counts.get((p, g), 0) for p in periods]}
                                              for g in groups]},
            "false_positives": {"x": [t["rule"] for t in rated],
                                "data": [round(t["false_positive_rate"] * 100, 1) for t in rated]}}


@router.get("/supervision/report")
def report_page(request: Request, by: str = "policy", period: str = "week", since: str | None = None,
                until: str | None = None, user: User = Depends(require("policies"))) -> Response:
    since, until = _blank(since), _blank(until)
    with governed(request, user, "supervise report", api.report_params(by, period, since, until, None, None)) as call:
        doc = reports_api.report(call.archive, by=by, period=period, since=since, until=until)
        return call.page("sup_report.j2", {"r": doc, "charts": orjson.dumps(charts(doc)).decode(),
                                           "groupings": reports_api.GROUPINGS, "periods": reports_api.PERIODS})
