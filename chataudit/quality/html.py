"""The HTML report: one self-contained page (inline SVG, no script, no external asset), printable."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import IO, Any

from jinja2 import Environment, PackageLoader, select_autoescape

from ..store import Archive
from . import charts
from .score import DIMENSION_LABELS, DIMENSIONS, fmt_s

_env = Environment(loader=PackageLoader("chataudit.render", "templates"),
                   autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
_env.filters["secs"] = fmt_s
_env.filters["pct"] = lambda v: "–" if v is None else f"{v:.0%}"
_env.filters["num"] = lambda v: "–" if v is None else (f"{v:,.1f}" if isinstance(v, float) else f"{v:,}")

MAX_SESSIONS = 300  # sessions shown with their transcript; figures link to them


def referenced_sessions(report: dict[str, Any]) -> list[str]:
    """Sessions the figures point at, most important first, at most MAX_SESSIONS."""
    wanted: list[str] = []
    for s in report["suggestions"]:
        wanted += s["sessions"]
    wanted += [row["session"] for row in report["scores"]["lowest"]]
    wanted += [h["session"] for h in report["sensitive"]["hits"][:40]]
    wanted += [t["session"] for t in report["typos"]["examples"][:20]]
    for script in report["scripts"]:
        wanted += script["missed_sessions"][:15]
    for topic in report["topics"]:
        wanted += topic["sessions"][:5]
    for agent in report["by_agent"]:
        wanted += agent.get("slow_sessions", [])[:5]
    return list(dict.fromkeys(wanted))[:MAX_SESSIONS]


def _trend_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Days for up to five weeks of sessions, else weeks: a chart stays readable on a phone."""
    trends = report.get("trends") or {}
    days = trends.get("day") or []
    return days if len(days) <= 35 else (trends.get("week") or [])


def write_report(report: dict[str, Any], out: IO[str], archive: Archive | None = None,
                 transform: Any = None) -> None:
    """The HTML report; ``transform`` (a redactor's ``message``) is applied to the session transcripts."""
    rows = {r["session"]: r for r in report["session_rows"]}
    shown = [rows[s] for s in referenced_sessions(report) if s in rows]
    transcripts: dict[str, list[dict[str, Any]]] = {}
    if archive is not None:
        for row in shown:
            messages = archive.timeline(row["conversation"], row["start_ms"], row["end_ms"] + 1)
            transcripts[row["session"]] = [transform(m) if transform else m for m in messages]
    target = report["sla"].get("service", {}).get("target_s") or 30
    agents = [a for a in report["by_agent"] if a["responses"] or a["sessions"]]
    agent_items = [{**a, "href": f"#agent-{i}"} for i, a in enumerate(agents)]
    topic_items = [{**t, "href": f"#topic-{i}"} for i, t in enumerate(report["topics"])]
    figures = {
        "distribution": charts.columns(report["distribution"], "label", "count", title="Response-time distribution",
                                       value_fmt=lambda v: f"{v:,}"),
        "heatmap": charts.heatmap(report["heatmap"], title="Mean response by weekday and hour", target=target),
        "heatmap_legend": charts.heatmap_legend(target),
        "hours": charts.hour_line(report["by_hour"], title="Mean first response by hour of day", target=target),
        "agents": charts.bars(agent_items, "name", "mean_response_s", title="Mean response by agent",
                              value_fmt=fmt_s, href_key="href", target=target, target_label=f"target {fmt_s(target)}",
                              color_key="cohort", colors={"new": charts.ORANGE, "veteran": charts.BLUE}),
        "agent_scores": charts.bars(agent_items, "name", "score", title="Mean session score by agent (0–100)",
                                    value_fmt=lambda v: "–" if v is None else f"{v:.0f}", href_key="href",
                                    color=charts.GREEN),
        "topics": charts.bars(topic_items, "topic", "count", title="Top customer questions",
                              value_fmt=lambda v: f"{v:,}", href_key="href", color=charts.ORANGE),
        "sentiment": charts.sentiment_bar(report["sentiment"]["improved"], report["sentiment"]["unchanged"],
                                          report["sentiment"]["worsened"],
                                          title="Customer mood, start to end of a session"),
        "sentiment_legend": charts.sentiment_legend(report["sentiment"]["improved"], report["sentiment"]["unchanged"],
                                                    report["sentiment"]["worsened"]),
        "agent_legend": charts.legend([(charts.ORANGE, "new cohort"), (charts.BLUE, "veterans"),
                                       (charts.RED, "dashed: SLA target")]),
        "dimensions": charts.bars([{"label": DIMENSION_LABELS[d], "value": report["scores"]["dimensions"][d]}
                                   for d in DIMENSIONS], "label", "value", title="Score by dimension (0–100)",
                                  value_fmt=lambda v: "–" if v is None else f"{v:.0f}", color=charts.GREEN),
    }
    trend_rows = _trend_rows(report)
    if trend_rows:
        figures["trend_sessions"] = charts.trend(trend_rows, "sessions", title=f"Sessions per {trend_rows[0]['period']}",
                                                 value_fmt=lambda v: f"{v:g}")
        figures["trend_first"] = charts.trend(trend_rows, "first_response_mean_s",
                                              title=f"Mean first response per {trend_rows[0]['period']}",
                                              value_fmt=lambda v: "0" if not v else fmt_s(v), color=charts.GREEN,
                                              target=target, target_label=f"target {fmt_s(target)}",
                                              nice=charts.nice_seconds)
        figures["trend_resolution"] = charts.trend(trend_rows, "resolution_rate",
                                                   title=f"Resolution rate per {trend_rows[0]['period']}",
                                                   value_fmt=lambda v: f"{v:.0%}", color=charts.ORANGE,
                                                   nice=lambda peak: 1.0)
        if any(row["ratings"] for row in trend_rows):
            figures["trend_satisfaction"] = charts.trend(trend_rows, "satisfied_rate",
                                                         title=f"Satisfied customers per {trend_rows[0]['period']}",
                                                         value_fmt=lambda v: f"{v:.0%}", color=charts.BLUE,
                                                         nice=lambda peak: 1.0)
    template = _env.get_template("quality.html.j2")
    out.write(template.render(
        r=report, figures=figures, agents=agents, trend_rows=trend_rows, shown=shown, transcripts=transcripts,
        shown_ids={row["session"] for row in shown}, labels=DIMENSION_LABELS, dimensions=DIMENSIONS,
        generated=datetime.now(timezone.utc).isoformat(timespec="seconds"), target=target,
    ))
