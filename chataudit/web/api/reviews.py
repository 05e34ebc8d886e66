"""Peer review and self-scoring over HTTP: the same JSON as `chataudit review … --json`, from the same
functions (:mod:`chataudit.reviews`), under the logged-in user's name.

Permissions: ``review`` — list one's own tasks and reviews, show them, score (a task, a session, or
one's own as self-scoring), contest a review of one's own session; ``review_manage`` — every review,
assign, calibrate, settle, the calibration and the report. The rules themselves (nobody reviews their
own session, blind review, one contest) are the package's, as on the command line. State changes are
POST with a JSON body (CSRF checked for cookie sessions)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from ...reviews import assignment, calibration, disputes, report as report_api, scoring, sessions
from .. import roles
from ..accounts import User
from ..governed import governed
from ..security import require

router = APIRouter(tags=["reviews"])


class ScoreBody(BaseModel):
    review: int | None = None
    session: str | None = None
    self_scoring: bool = Field(False, alias="self")
    scores: dict[str, Any] = Field(default_factory=dict)
    critical: list[str] = Field(default_factory=list)
    comments: list[dict[str, Any]] = Field(default_factory=list)
    note: str | None = None


class AssignBody(BaseModel):
    week: str
    per_agent: int = 3
    rule: str = "random"
    reviewers: list[str]
    seed: int | None = None
    blind: bool = False
    self_scoring: bool = False


class SettleBody(BaseModel):
    outcome: str
    reason: str
    scores: dict[str, Any] | None = None
    critical: list[str] = Field(default_factory=list)


class CalibrateBody(BaseModel):
    session: str
    reviewers: list[str]


def manager(user: User) -> bool:
    return roles.allowed(user.role, "review_manage")


def _own_or_managed(call: Any, user: User, review_id: int) -> None:
    """Without review_manage, a user reaches only their own tasks and the reviews of their own sessions."""
    if manager(user):
        return
    row = scoring.review_row(call.archive, review_id)
    facts = sessions.stored(call.archive, row["session"])
    names = sessions.identities(call.archive, user.operator)
    if row["reviewer"] not in names and not sessions.is_agent_of(call.archive, user.operator, facts):
        raise HTTPException(403, f"review {review_id} is neither yours nor of your session (needs review_manage)")


# ---- reads ------------------------------------------------------------------------------------------------

@router.get("/reviews", summary="`chataudit review list [--mine] [--status S] [--kind K] --json`",
            description="Without `review_manage` the listing is always `--mine`.")
def review_list(request: Request, mine: bool = False, status: str | None = None, kind: str | None = None,
                user: User = Depends(require("review"))) -> Response:
    mine = mine or not manager(user)
    with governed(request, user, "review list", {"mine": mine, "status": status, "kind": kind, "as_json": True}) as call:
        rows = scoring.listing(call.archive, viewer=user.operator, mine=mine, status=status, kind=kind)
        return call.json(rows, records=len(rows))


@router.get("/reviews/calibration", summary="`chataudit review calibration --json`")
def review_calibration(request: Request, user: User = Depends(require("review_manage"))) -> Response:
    with governed(request, user, "review calibration", {"as_json": True}) as call:
        return call.json(calibration.agreement(call.archive))


@router.get("/reviews/report", summary="`chataudit review report [--since] [--until] [--tz] --json`")
def review_report(request: Request, since: str | None = None, until: str | None = None, tz: str | None = None,
                  user: User = Depends(require("review_manage"))) -> Response:
    params = {"since": since, "until": until, "tz": tz, "as_json": True}
    with governed(request, user, "review report", params) as call:
        return call.json(report_api.report(call.archive, since=since, until=until, tz=tz))


def show_value(call: Any, user: User, ref: str) -> dict[str, Any]:
    if str(ref).strip().isdigit():
        _own_or_managed(call, user, int(ref))
    return scoring.show(call.archive, ref, viewer=user.operator, redact_policy=call.redact_policy(None))


@router.get("/reviews/{ref:path}", summary="`chataudit review show REVIEW|SESSION --json`")
def review_show(request: Request, ref: str, user: User = Depends(require("review"))) -> Response:
    with governed(request, user, "review show", {"ref": ref, "as_json": True}) as call:
        return call.json(show_value(call, user, ref))


# ---- changes ------------------------------------------------------------------------------------------------
# Each ``*_value(call, user, …)`` is the change itself, shared by the endpoint and the page's form.

def score_params(body: ScoreBody) -> dict[str, Any]:
    return {"review_id": body.review, "session_ref": body.session, "self_scoring": body.self_scoring, "as_json": True}


def score_value(call: Any, user: User, body: ScoreBody) -> dict[str, Any]:
    return scoring.score(call.archive, operator=user.operator, params=score_params(body) | {"via": "web"},
                         review_id=body.review, session_ref=body.session, self_scoring=body.self_scoring,
                         scores=body.scores, critical=body.critical, comments=body.comments, note=body.note)


@router.post("/reviews/score", summary="`chataudit review score [REVIEW] [--session S] [--self] … --json`",
             description="Body: {review | session, self, scores: {speed: 0-10, …}, critical: […], "
                         "comments: [{message, text}], note}.")
def review_score(request: Request, body: ScoreBody = Body(...), user: User = Depends(require("review"))) -> Response:
    with governed(request, user, "review score", score_params(body)) as call:
        return call.json(score_value(call, user, body))


def contest_value(call: Any, user: User, review_id: int, reason: str) -> dict[str, Any]:
    params = {"review_id": review_id, "reason": reason, "as_json": True, "via": "web"}
    return disputes.contest(call.archive, review_id, reason, operator=user.operator, params=params)


@router.post("/reviews/{review_id}/contest", summary="`chataudit review contest REVIEW --reason R --json`")
def review_contest(request: Request, review_id: int, reason: str = Body(..., embed=True),
                   user: User = Depends(require("review"))) -> Response:
    with governed(request, user, "review contest", {"review_id": review_id, "as_json": True}) as call:
        return call.json(contest_value(call, user, review_id, reason))


def settle_value(call: Any, user: User, review_id: int, body: SettleBody) -> dict[str, Any]:
    params = {"review_id": review_id, "outcome": body.outcome, "reason": body.reason, "as_json": True, "via": "web"}
    return disputes.settle(call.archive, review_id, body.outcome, body.reason, operator=user.operator, params=params,
                           scores=body.scores, critical=body.critical)


@router.post("/reviews/{review_id}/settle", summary="`chataudit review settle REVIEW --outcome O --reason R … --json`")
def review_settle(request: Request, review_id: int, body: SettleBody = Body(...),
                  user: User = Depends(require("review_manage"))) -> Response:
    with governed(request, user, "review settle", {"review_id": review_id, "as_json": True}) as call:
        return call.json(settle_value(call, user, review_id, body))


def assign_value(call: Any, user: User, body: AssignBody) -> dict[str, Any]:
    return assignment.assign(call.archive, week=body.week, per_agent=body.per_agent, rule=body.rule,
                             reviewers=body.reviewers, seed=body.seed, blind=body.blind,
                             self_scoring=body.self_scoring, operator=user.operator,
                             params=body.model_dump() | {"as_json": True, "via": "web"})


@router.post("/reviews/assign", summary="`chataudit review assign --week W … --json`")
def review_assign(request: Request, body: AssignBody = Body(...),
                  user: User = Depends(require("review_manage"))) -> Response:
    with governed(request, user, "review assign", body.model_dump() | {"as_json": True}) as call:
        return call.json(assign_value(call, user, body))


def calibrate_value(call: Any, user: User, body: CalibrateBody) -> dict[str, Any]:
    params = {"session_ref": body.session, "reviewers": body.reviewers, "as_json": True, "via": "web"}
    return calibration.calibrate(call.archive, body.session, body.reviewers, operator=user.operator, params=params)


@router.post("/reviews/calibrate", summary="`chataudit review calibrate SESSION --reviewer R … --json`")
def review_calibrate(request: Request, body: CalibrateBody = Body(...),
                     user: User = Depends(require("review_manage"))) -> Response:
    with governed(request, user, "review calibrate", {"session_ref": body.session, "as_json": True}) as call:
        return call.json(calibrate_value(call, user, body))
