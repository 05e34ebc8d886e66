"""The quality dashboard (a team lead's page): the filters of `chataudit quality`, the report run as
a background job (`quality-report`), and its result shown as tiles, ECharts charts and tables. Every
figure links to the sessions behind it, and each session to its conversation at its first message.

The page reads only the job's stored result — the same value `quality --json` prints, already
de-identified when the job ran with --redact (always, for a reviewer)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from starlette.responses import RedirectResponse, Response

from ..errors import ChatAuditError
from ..quality.config import DEFAULT_NEW_DAYS
from .accounts import User
from .api.quality import QualityRequest, start_quality_job, stored_folder
from .pages import _page
from .security import require

router = APIRouter(include_in_schema=False)
SHOWN_SESSIONS = 200
DIMENSIONS = ("speed", "professionalism", "resolution", "experience", "emotion")
SERIES = ("conversations", "sessions", "first_response_mean_s", "resolution_rate", "satisfied_rate", "responses",
          "mean_response_s", "score", "before")


def pct(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.0%}" if signed else f"{value:.0%}"


def _report(request: Request, job_id: int, user: User) -> tuple[dict[str, Any], dict[str, Any] | None]:
    job = request.app.state.jobs.get(job_id, user)  # another user's job is "no job N"
    if job["kind"] != "quality-report":
        raise ChatAuditError(f"no quality report {job_id}")
    return job, job["result"] if job["state"] == "done" else None


@router.get("/quality")
def dashboard(request: Request, job: Annotated[int | None, Query()] = None,
              user: User = Depends(require("quality"))) -> Response:
    context: dict[str, Any] = {"job": None, "r": None, "charts": None, "redact": False, "files": _stored(request),
                               "recent": _recent(request, user),
                               "new_days": DEFAULT_NEW_DAYS, "dimensions": DIMENSIONS}
    if job is not None:
        from ..quality.score import fmt_s
        from .i18n import language, translator

        t = translator(language(request))
        labels = {name: t(f"quality.series.{name}") for name in SERIES}
        context.update(fmt_s=fmt_s, pct=pct, labels=orjson.dumps(labels).decode())
        found, result = _report(request, job, user)
        context.update(job=found, r=result, redact=_redact(request, user),
                       charts=orjson.dumps(charts(result)).decode() if result else None)
    return _page(request, "quality.j2", context)


def _recent(request: Request, user: User) -> list[dict[str, Any]]:
    """The user's last reports, without their results (a 1M-message report's result is tens of MB:
    JobRunner.list would read them all)."""
    from .jobs import JobRunner

    with request.app.state.config.open_archive() as archive:
        rows = archive.db.execute("SELECT id, operator, state, created_at FROM web_jobs WHERE kind = 'quality-report'"
                                  " ORDER BY id DESC LIMIT 200").fetchall()
    return [{"id": row[0], "state": row[2], "created_at": row[3]} for row in rows if JobRunner._visible(row[1], user)][:10]


def _stored(request: Request) -> list[str]:
    return sorted(p.name for p in stored_folder(request.app.state.config).iterdir() if p.is_file())


@router.post("/quality")
def start(request: Request, since: Annotated[str, Form()] = "", until: Annotated[str, Form()] = "",
          compare_to: Annotated[str, Form()] = "", platform: Annotated[str, Form()] = "",
          conversation: Annotated[str, Form()] = "", agent: Annotated[str, Form()] = "",
          team: Annotated[str, Form()] = "", tz: Annotated[str, Form()] = "", session_gap: Annotated[str, Form()] = "2h",
          sla: Annotated[str, Form()] = "", new_days: Annotated[int, Form(ge=1, le=3650)] = DEFAULT_NEW_DAYS,
          hours: Annotated[str, Form()] = "", top: Annotated[int, Form(ge=1, le=100)] = 10,
          no_nlp: Annotated[bool, Form()] = False, redact: Annotated[bool, Form()] = False,
          stored_roster: Annotated[str, Form()] = "", stored_scripts: Annotated[str, Form()] = "",
          stored_taxonomy: Annotated[str, Form()] = "", stored_lexicon: Annotated[str, Form()] = "",
          stored_scorecard: Annotated[str, Form()] = "",
          roster: Annotated[UploadFile | None, File()] = None, scripts: Annotated[UploadFile | None, File()] = None,
          taxonomy: Annotated[UploadFile | None, File()] = None, lexicon: Annotated[UploadFile | None, File()] = None,
          scorecard: Annotated[UploadFile | None, File()] = None,
          user: User = Depends(require("quality"))) -> Response:
    """The filter form: repeatable options are comma-separated here (platform, conversation, agent, sla)."""
    def many(text: str) -> list[str]:
        return [part.strip() for part in text.replace("，", ",").split(",") if part.strip()]

    stored = {"roster": stored_roster, "scripts": stored_scripts, "taxonomy": stored_taxonomy,
              "lexicon": stored_lexicon, "scorecard": stored_scorecard}
    query = QualityRequest(since.strip() or None, until.strip() or None, compare_to.strip() or None,
                           list(dict.fromkeys(many(platform))), many(conversation), many(agent), team.strip() or None,
                           tz.strip() or None, session_gap.strip() or "2h", many(sla), new_days, hours.strip() or None,
                           top, no_nlp, redact, {k: v for k, v in stored.items() if v})
    parts = {"roster": roster, "scripts": scripts, "taxonomy": taxonomy, "lexicon": lexicon, "scorecard": scorecard}
    job_id = start_quality_job(request, user, query, parts)
    return RedirectResponse(f"/quality?job={job_id}" + ("&redact=true" if redact else ""), status_code=303)


@router.get("/quality/jobs/{job_id}/status")
def status(request: Request, job_id: int, user: User = Depends(require("quality"))) -> Response:
    """The htmx partial the page polls while the report runs; once it has finished, the page reloads."""
    job, _ = _report(request, job_id, user)
    response = _page(request, "_quality_job.j2", {"job": job})
    if job["state"] in ("done", "failed", "cancelled"):
        response.headers["HX-Refresh"] = "true"
    return response


@router.get("/quality/jobs/{job_id}/sessions")
def sessions(request: Request, job_id: int, user: User = Depends(require("quality"))) -> Response:
    """The sessions behind a figure: ``ids``, ``list`` (a list the report names, by place), or a slice of all sessions by
    ``day``, ``week``, ``hour``, ``weekday``, ``agent``, ``cohort``, ``topic``, ``unresolved``,
    ``over_sla``, ``critical``; sorted by ``sort`` (a session column, largest first)."""
    job, result = _report(request, job_id, user)
    if result is None:
        raise ChatAuditError(f"no result yet for quality report {job_id}")
    rows, total = select_sessions(result, request.query_params)
    partial = request.headers.get("HX-Request") == "true"
    return _page(request, "_quality_sessions.j2" if partial else "quality_sessions.j2",
                 {"job": job, "rows": rows, "total": total, "shown": SHOWN_SESSIONS, "redact": _redact(request, user),
                  "what": _describe(request.query_params)})


def _redact(request: Request, user: User) -> bool:
    """Transcript links keep the report's --redact (carried in the page's address; a reviewer's is
    always on, and the conversation page enforces it whatever the link says)."""
    from . import roles

    return request.query_params.get("redact") == "true" or roles.redact_policy(user.role, None) is not None


def _describe(params: Any) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items() if k not in ("lang", "redact"))[:200]


LISTS = {"suggestion": ("suggestions", "sessions"), "script": ("scripts", "missed_sessions"),
         "topic": ("topics", "sessions"), "slow": ("by_agent", "slow_sessions")}


def listed(result: dict[str, Any], ref: str) -> set[str]:
    """The session ids a figure of the report names (``suggestion:0``: the first suggestion's): the
    page links to them by place, not by id (a 1M-message report names tens of thousands)."""
    kind, _, index = ref.partition(":")
    if kind not in LISTS or not index.isdigit():
        raise ChatAuditError(f"list {ref!r}: use suggestion:N, script:N, topic:N or slow:N")
    figure, key = LISTS[kind]
    items = result.get(figure) or []
    if int(index) >= len(items):
        raise ChatAuditError(f"no {kind} {index} in this report")
    return set(items[int(index)].get(key) or [])


def select_sessions(result: dict[str, Any], params: Any) -> tuple[list[dict[str, Any]], int]:
    rows = result.get("session_rows") or []
    if params.get("ids"):
        wanted = set(params["ids"].split(","))
        rows = [r for r in rows if r["session"] in wanted]
    if params.get("list"):
        wanted = listed(result, params["list"])
        rows = [r for r in rows if r["session"] in wanted]
    if params.get("day"):
        rows = [r for r in rows if r["start"][:10] == params["day"]]
    if params.get("week"):
        monday = date.fromisoformat(params["week"])
        rows = [r for r in rows if 0 <= (date.fromisoformat(r["start"][:10]) - monday).days < 7]
    if params.get("hour"):
        rows = [r for r in rows if int(r["start"][11:13]) == int(params["hour"])]
    if params.get("weekday"):
        rows = [r for r in rows if date.fromisoformat(r["start"][:10]).weekday() == int(params["weekday"])]
    if params.get("agent"):
        rows = [r for r in rows if params["agent"] in (r.get("agents") or [])]
    if params.get("cohort"):
        members = {a["agent"] for a in result.get("by_agent", []) if a.get("cohort") == params["cohort"]}
        rows = [r for r in rows if members & set(r.get("agents") or [])]
    if params.get("topic"):
        rows = [r for r in rows if r.get("topic") == params["topic"]]
    if params.get("unresolved"):
        rows = [r for r in rows if r.get("resolved") is False]
    if params.get("over_sla"):
        line = (result.get("sla") or {}).get("service", {}).get("target_s") or 0
        rows = [r for r in rows if (r.get("first_response_s") or 0) > line or r.get("unanswered")]
    if params.get("critical"):
        rows = [r for r in rows if r.get("critical")]
    sort = params.get("sort")
    if sort in ("first_response_s", "mean_response_s", "messages", "unanswered", "typos", "sensitive"):
        rows = sorted(rows, key=lambda r: -(r.get(sort) or 0))
    elif sort == "score":
        rows = sorted(rows, key=lambda r: r.get("score") if r.get("score") is not None else 101)
    return rows[:SHOWN_SESSIONS], len(rows)


@router.get("/quality/open")
def open_session(request: Request, conversation: int, start_ms: int, redact: bool = False,
                 user: User = Depends(require("quality"))) -> Response:
    """A session's transcript: its conversation's page at the session's first message."""
    with request.app.state.config.open_archive() as archive:
        row = archive.db.execute("SELECT id FROM messages WHERE conversation = ? AND sent_at_ms >= ?"
                                 " ORDER BY sent_at_ms, id LIMIT 1", (conversation, start_ms)).fetchone()
    if row is None:
        raise ChatAuditError(f"no message in conversation {conversation} from {start_ms}")
    suffix = "&redact=true" if redact else ""
    return RedirectResponse(f"/conversations/{conversation}?at={row[0]}{suffix}#m{row[0]}", status_code=303)


def charts(r: dict[str, Any]) -> dict[str, Any]:
    """What quality.js draws: small series only (never the session rows), each point's drill-down
    query (the sessions route's parameters)."""
    trends = r.get("trends") or {}

    def trend(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
        return {"x": [row["start"] for row in rows], "drill": [{key: row["start"]} for row in rows],
                "series": [
                    {"name": "conversations", "type": "bar", "data": [row["conversations"] for row in rows]},
                    {"name": "sessions", "type": "bar", "data": [row["sessions"] for row in rows]},
                    {"name": "first_response_mean_s", "type": "line", "axis": 1,
                     "data": [row["first_response_mean_s"] for row in rows]},
                    {"name": "resolution_rate", "type": "line", "axis": 2, "data": [row["resolution_rate"] for row in rows]},
                    {"name": "satisfied_rate", "type": "line", "axis": 2, "data": [row["satisfied_rate"] for row in rows]}]}

    hours = r.get("by_hour") or []
    weekdays = r.get("by_weekday") or []
    agents = r.get("by_agent") or []
    scores = r.get("scores") or {}
    before = {f["key"].rsplit(".", 1)[1]: f["before"] for f in (r.get("compare") or {}).get("figures", [])
              if f["key"].startswith("scores.dimensions.")}
    return {
        "trend_day": trend(trends.get("day", []), "day"),
        "trend_week": trend(trends.get("week", []), "week"),
        "by_hour": {"x": [h["hour"] for h in hours], "drill": [{"hour": h["hour"]} for h in hours], "series": [
            {"name": "responses", "type": "bar", "data": [h["responses"] for h in hours]},
            {"name": "mean_response_s", "type": "line", "axis": 1, "data": [h["mean_response_s"] for h in hours]}]},
        "by_weekday": {"x": [w["name"] for w in weekdays], "drill": [{"weekday": w["weekday"]} for w in weekdays],
                       "series": [
            {"name": "responses", "type": "bar", "data": [w["responses"] for w in weekdays]},
            {"name": "mean_response_s", "type": "line", "axis": 1, "data": [w["mean_response_s"] for w in weekdays]}]},
        "by_agent": {"x": [a["name"] or a["agent"] for a in agents], "drill": [{"agent": a["agent"]} for a in agents],
                     "series": [
            {"name": "mean_response_s", "type": "bar", "data": [a["mean_response_s"] for a in agents]},
            {"name": "score", "type": "line", "axis": 1, "data": [a["score"] for a in agents]}]},
        "scores": {"radar": [{"name": scores.get("labels", {}).get(d, d), "key": d, "max": 100} for d in DIMENSIONS],
                   "series": [{"name": "score", "data": [(scores.get("dimensions") or {}).get(d) for d in DIMENSIONS]}]
                   + ([{"name": "before", "data": [before.get(d) for d in DIMENSIONS]}] if before else []),
                   "drill": [{"sort": "score"}]},
    }
