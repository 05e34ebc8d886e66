"""The supervision review queue over HTTP — each endpoint the same JSON as the CLI command's ``--json``
(`supervise queue|show|assign|close|escalate|report`), built by the same functions of
:mod:`chataudit.supervision`, which record each change's audit entry under the user's name.

Permissions (:mod:`..roles`): ``alerts`` works the items assigned to you (your queue, an item's page,
close and escalate); ``policies`` sees the whole queue and every item, assigns, and reads the report.
A reviewer who sent messages of an item's conversation is refused by the queue's own rule, as on the
command line; ``show`` is a read, checked against the authorizations in enterprise mode.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from ...governance.access import NotAuthorizedError
from ...supervision import queue as queue_api, reports as reports_api
from .. import roles
from ..accounts import User
from ..governed import governed
from ..security import require

router = APIRouter(prefix="/supervision", tags=["supervision"])


def sees_all(user: User) -> bool:
    return roles.allowed(user.role, "policies")


def check_item_access(user: User, item: dict[str, Any]) -> None:
    """Someone with ``alerts`` only works the items assigned to them (or that they escalated)."""
    if not sees_all(user) and user.operator not in (item["reviewer"], item["first_reviewer"]):
        raise NotAuthorizedError(f"supervision item {item['id']} is not assigned to {user.operator}")


def queue_rows(call: Any, user: User, *, mine: bool, reviewer: str | None, status: str, overdue: bool,
               sla: str | None) -> list[dict[str, Any]]:
    """`supervise queue --json` for this user (``alerts`` only: always their own items)."""
    if mine or not sees_all(user):
        reviewer = user.operator
    return queue_api.items(call.archive, reviewer=reviewer, status=status, overdue=overdue, sla=sla)


def queue_params(mine: bool, reviewer: str | None, status: str, overdue: bool, sla: str | None) -> dict[str, Any]:
    return {"mine": mine, "reviewer": reviewer, "status": status, "overdue": overdue, "sla": sla, "as_json": True}


@router.get("/queue", summary="`chataudit supervise queue [--mine] [--reviewer R] [--status S] [--overdue] --json`",
            description="With `alerts` only, the items assigned to you (as --mine).")
def queue(request: Request, mine: bool = False, reviewer: str | None = None, status: str = "open",
          overdue: bool = False, sla: str | None = None, user: User = Depends(require("alerts"))) -> Response:
    with governed(request, user, "supervise queue", queue_params(mine, reviewer, status, overdue, sla)) as call:
        rows = queue_rows(call, user, mine=mine, reviewer=reviewer, status=status, overdue=overdue, sla=sla)
        return call.json(rows, records=len(rows))


def show_params(item_id: int, context: int, sla: str | None, redact_policy: str | None) -> dict[str, Any]:
    return {"item_id": item_id, "context": context, "sla": sla, "redact_policy": redact_policy, "as_json": True}


def item_doc(call: Any, user: User, item_id: int, context: int, sla: str | None, redact: bool) -> dict[str, Any]:
    check_item_access(user, queue_api.item(call.archive, item_id, sla))
    return queue_api.show(call.archive, item_id, context=context, sla=sla,
                          redact_policy=call.redact_policy("default" if redact else None))


@router.get("/items/{item_id}", summary="`chataudit supervise show ITEM [--context N] [--redact] --json`")
def show(request: Request, item_id: int, context: int = 2, sla: str | None = None, redact: bool = False,
         user: User = Depends(require("alerts"))) -> Response:
    policy = roles.redact_policy(user.role, "default" if redact else None)
    with governed(request, user, "supervise show", show_params(item_id, context, sla, policy)) as call:
        doc = item_doc(call, user, item_id, context, sla, redact)
        return call.json(doc, records=len(doc["alerts"]))


@router.post("/assign", summary="`chataudit supervise assign [ITEM…] --to R | --round-robin R1,R2 | "
                                "--team-reviewers TEAM=R1,R2 --json`",
             description="Form fields: `item` (repeat), and one of `to`, `round_robin` (R1,R2…) or "
                         "`team_reviewers` (repeat, TEAM=R1,R2).")
def assign(request: Request, item: Annotated[list[int] | None, Form()] = None,
           to: Annotated[str | None, Form()] = None, round_robin: Annotated[str | None, Form()] = None,
           team_reviewers: Annotated[list[str] | None, Form()] = None,
           user: User = Depends(require("policies"))) -> Response:
    to = (to or "").strip() or None
    round_robin = (round_robin or "").strip() or None
    teams = [t for t in team_reviewers or [] if t.strip()]
    params = {"item_ids": item or [], "to": to, "round_robin": round_robin, "team_reviewers": teams, "as_json": True}
    with governed(request, user, "supervise assign", params) as call:
        result = queue_api.assign(
            call.archive, item or None, to=to,
            round_robin=[r for r in round_robin.split(",") if r.strip()] if round_robin else None,
            team_reviewers=queue_api.parse_team_reviewers(teams) if teams else None,
            operator=user.operator, params=params)
        return call.json(result)


def _own_item(call: Any, user: User, item_id: int) -> None:
    """``alerts`` only: the item must be assigned to you (an unassigned one is taken by `policies`)."""
    current = queue_api.item(call.archive, item_id)
    if not sees_all(user) and current["reviewer"] != user.operator:
        raise NotAuthorizedError(f"supervision item {item_id} is not assigned to {user.operator}")


@router.post("/items/{item_id}/close", summary="`chataudit supervise close ITEM --disposition D --reason R "
                                               "[--to R2] --json`")
def close(request: Request, item_id: int, disposition: Annotated[str, Form()], reason: Annotated[str, Form()],
          to: Annotated[str | None, Form()] = None, user: User = Depends(require("alerts"))) -> Response:
    to = (to or "").strip() or None
    params = {"item_id": item_id, "disposition": disposition, "reason": reason, "to": to, "as_json": True}
    with governed(request, user, "supervise close", params) as call:
        _own_item(call, user, item_id)
        return call.json(queue_api.close(call.archive, item_id, disposition, reason, operator=user.operator,
                                         params=params, to=to))


@router.post("/items/{item_id}/escalate", summary="`chataudit supervise escalate ITEM --reason R [--to R2] --json`")
def escalate(request: Request, item_id: int, reason: Annotated[str, Form()],
             to: Annotated[str | None, Form()] = None, user: User = Depends(require("alerts"))) -> Response:
    to = (to or "").strip() or None
    params = {"item_id": item_id, "reason": reason, "to": to, "as_json": True}
    with governed(request, user, "supervise escalate", params) as call:
        _own_item(call, user, item_id)
        return call.json(queue_api.escalate(call.archive, item_id, reason, operator=user.operator, params=params,
                                            to=to))


def report_params(by: str, period: str, since: str | None, until: str | None, tz: str | None,
                  sla: str | None) -> dict[str, Any]:
    return {"by": by, "period": period, "since": since, "until": until, "tz": tz, "sla": sla, "as_json": True}


@router.get("/report", summary="`chataudit supervise report [--by B] [--period P] [--since] [--until] --json`")
def report(request: Request, by: str = "policy", period: str = "week", since: str | None = None,
           until: str | None = None, tz: str | None = None, sla: str | None = None,
           user: User = Depends(require("policies"))) -> Response:
    with governed(request, user, "supervise report", report_params(by, period, since, until, tz, sla)) as call:
        return call.json(reports_api.report(call.archive, by=by, period=period, since=since, until=until, tz=tz,
                                            sla=sla))
