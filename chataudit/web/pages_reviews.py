"""The review pages: "My reviews" (my tasks, my self-scoring, the reviews of my sessions), the
scoring page (the session's transcript, comments on its messages, the five dimensions; blind mode
honoured), and the Reviews report (four scores per agent with their gaps, calibration agreement,
open disputes to settle, assigning and calibrating).

Every form posts here and runs the API's own function (:mod:`.api.reviews`) in a governed call, so a
score from the page is the same change, with the same audit entry, as from the API or the CLI. A
refused change (your own session, a second contest…) shows its one-line reason on the page."""

from __future__ import annotations

from typing import Any, Callable

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from ..errors import ChatAuditError
from ..quality.score import DIMENSION_LABELS, DIMENSIONS
from ..reviews import calibration, report as report_api, scoring, sessions
from . import pages
from .accounts import User
from .api import reviews as api
from .governed import governed
from .security import require

router = APIRouter(include_in_schema=False)
pages.NAV.append(("/reviews", "reviews.nav", "review"))


def _back(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


@router.get("/reviews")
def my_reviews(request: Request, user: User = Depends(require("review"))) -> Response:
    with governed(request, user, "review list", {"mine": True, "status": None, "kind": None, "as_json": False}) as call:
        rows = scoring.listing(call.archive, viewer=user.operator, mine=True)
        names = sessions.identities(call.archive, user.operator)
        tasks = [r for r in rows if r["reviewer"] in names and r["status"] == "assigned"]
        done = [r for r in rows if r["reviewer"] in names and r["status"] != "assigned"]
        about_me = [r for r in rows if r["reviewer"] not in names and r["kind"] != "self"]
        return call.page("reviews.j2", {"tasks": tasks, "done": done, "about_me": about_me}, records=len(rows))


def _form_list(form: Any, name: str) -> list[str]:
    return [str(v) for v in form.getlist(name) if str(v).strip()]


def _review_page(request: Request, user: User, ref: str, error: str | None = None, status: int = 200) -> Response:
    with governed(request, user, "review show", {"ref": ref, "as_json": False}) as call:
        doc = api.show_value(call, user, ref)
        review = doc["review"]
        names = sessions.identities(call.archive, user.operator)
        agent = bool(names & (set(doc["session"]["agents"]) | set(doc["session"]["agent_names"])))
        comments: dict[int, list[dict[str, Any]]] = {}
        for each in ([review] if review else []) + doc["reviews"]:
            for comment in each["comments"]:
                comments.setdefault(comment["message"], []).append({"by": each["reviewer"], "text": comment["text"]})
        context = {"doc": doc, "review": review, "comments": comments, "error": error, "ref": ref,
                   "can_score": review is not None and review["status"] == "assigned" and review["reviewer"] in names,
                   "can_contest": review is not None and agent and review["kind"] != "self"
                   and review["status"] == "submitted",
                   "can_settle": review is not None and review["status"] == "contested" and api.manager(user)
                   and not agent and review["reviewer"] not in names,
                   "dimensions": [(d, DIMENSION_LABELS[d]) for d in DIMENSIONS]}
        if error:
            call.failed(error)
        response = call.page("review.j2", context, records=len(doc["transcript"]))
        response.status_code = status
        return response


@router.get("/reviews/report")
def report_page(request: Request, since: str | None = None, until: str | None = None,
                user: User = Depends(require("review_manage"))) -> Response:
    since, until = since or None, until or None
    with governed(request, user, "review report", {"since": since, "until": until, "tz": None, "as_json": False}) as call:
        value = report_api.report(call.archive, since=since, until=until)
        agreement = calibration.agreement(call.archive)
        return call.page("reviews_report.j2", {"r": value, "agreement": agreement, "since": since, "until": until,
                                               "dimensions": [(d, DIMENSION_LABELS[d]) for d in DIMENSIONS],
                                               "rules": ("random", "lowest", "sensitive", "unresolved"),
                                               "error": request.query_params.get("error")},
                         records=len(value["agents"]))


async def _form_then(request: Request, work: Callable[[Any], Response]) -> Response:
    """Read the posted form (its field names vary: comment_<message id>), then run the blocking
    archive work off the event loop."""
    form = await request.form()
    return await run_in_threadpool(work, form)


@router.post("/reviews/assign")
async def assign(request: Request, user: User = Depends(require("review_manage"))) -> Response:
    return await _form_then(request, lambda form: _assign(request, user, form))


def _assign(request: Request, user: User, form: Any) -> Response:
    try:
        body = api.AssignBody(week=str(form.get("week") or ""), per_agent=int(form.get("per_agent") or 3),
                              rule=str(form.get("rule") or "random"),
                              reviewers=[r.strip() for r in str(form.get("reviewers") or "").replace("，", ",").split(",")
                                         if r.strip()],
                              seed=int(form["seed"]) if str(form.get("seed") or "").strip() else None,
                              blind=bool(form.get("blind")), self_scoring=bool(form.get("self_scoring")))
        with governed(request, user, "review assign", body.model_dump() | {"as_json": False}) as call:
            api.assign_value(call, user, body)
    except (ChatAuditError, ValueError) as error:
        return _back(f"/reviews/report?error={_quote(str(error))}")
    return _back("/reviews/report")


@router.post("/reviews/calibrate")
async def calibrate(request: Request, user: User = Depends(require("review_manage"))) -> Response:
    return await _form_then(request, lambda form: _calibrate(request, user, form))


def _calibrate(request: Request, user: User, form: Any) -> Response:
    body = api.CalibrateBody(session=str(form.get("session") or ""),
                             reviewers=[r.strip() for r in str(form.get("reviewers") or "").replace("，", ",").split(",")
                                        if r.strip()])
    try:
        with governed(request, user, "review calibrate", {"session_ref": body.session, "as_json": False}) as call:
            api.calibrate_value(call, user, body)
    except ChatAuditError as error:
        return _back(f"/reviews/report?error={_quote(str(error))}")
    return _back("/reviews/report")


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text[:300], safe="")


@router.get("/reviews/{review_id:int}")
def review_page(request: Request, review_id: int, user: User = Depends(require("review"))) -> Response:
    return _review_page(request, user, str(review_id))


def _scores(form: Any) -> dict[str, Any]:
    return {d: form.get(d) for d in DIMENSIONS if str(form.get(d) or "").strip() != ""}


@router.post("/reviews/{review_id:int}/score")
async def score(request: Request, review_id: int, user: User = Depends(require("review"))) -> Response:
    return await _form_then(request, lambda form: _score(request, user, review_id, form))


def _score(request: Request, user: User, review_id: int, form: Any) -> Response:
    comments = [{"message": int(key.split("_", 1)[1]), "text": str(value)} for key, value in form.multi_items()
                if key.startswith("comment_") and key.split("_", 1)[1].isdigit() and str(value).strip()]
    body = api.ScoreBody(review=review_id, scores=_scores(form), critical=_form_list(form, "critical"),
                         comments=comments, note=str(form.get("note") or "").strip() or None)
    try:
        with governed(request, user, "review score", api.score_params(body)) as call:
            api.score_value(call, user, body)
    except ChatAuditError as error:
        return _review_page(request, user, str(review_id), str(error), 400)
    return _back(f"/reviews/{review_id}")


@router.post("/reviews/{review_id:int}/contest")
async def contest(request: Request, review_id: int, user: User = Depends(require("review"))) -> Response:
    return await _form_then(request, lambda form: _contest(request, user, review_id, form))


def _contest(request: Request, user: User, review_id: int, form: Any) -> Response:
    try:
        with governed(request, user, "review contest", {"review_id": review_id, "as_json": False}) as call:
            api.contest_value(call, user, review_id, str(form.get("reason") or ""))
    except ChatAuditError as error:
        return _review_page(request, user, str(review_id), str(error), 400)
    return _back(f"/reviews/{review_id}")


@router.post("/reviews/{review_id:int}/settle")
async def settle(request: Request, review_id: int, user: User = Depends(require("review_manage"))) -> Response:
    return await _form_then(request, lambda form: _settle(request, user, review_id, form))


def _settle(request: Request, user: User, review_id: int, form: Any) -> Response:
    outcome = str(form.get("outcome") or "")
    body = api.SettleBody(outcome=outcome, reason=str(form.get("reason") or ""),
                          scores=_scores(form) if outcome == "amended" else None,
                          critical=_form_list(form, "critical"))
    try:
        with governed(request, user, "review settle", {"review_id": review_id, "as_json": False}) as call:
            api.settle_value(call, user, review_id, body)
    except ChatAuditError as error:
        return _review_page(request, user, str(review_id), str(error), 400)
    return _back(f"/reviews/{review_id}")

