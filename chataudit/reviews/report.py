"""Four scores per agent and their gaps: self-scoring, peer review, the automatic score and the
customers' own ratings (CSAT, imported with ``quality --ratings``), all on the 0–10 scale.

The automatic score and CSAT come from the quality report of the period (``by_agent[].score``,
0–100, and ``satisfaction.by_agent_mean``, 0–1); self and peer are the final scores (a settled
dispute's amended scores) of the reviews of sessions that start in the period. A gap is the first
minus the second (``self_minus_peer`` > 0: the agent rates their work higher than their peers do).
"""

from __future__ import annotations

from typing import Any

from ..store import Archive
from . import calibration, scoring

PAIRS = (("self", "peer"), ("self", "auto"), ("self", "csat"), ("peer", "auto"), ("peer", "csat"), ("auto", "csat"))
AGENT_KEYS = ("agent", "name", "team", "self", "peer", "auto", "csat", "self_reviews", "peer_reviews", "ratings", "gaps")


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def four_scores(archive: Archive | None, quality: dict[str, Any], since_ms: int | None = None,
                until_ms: int | None = None) -> list[dict[str, Any]]:
    """Per agent of the quality report (and any agent with reviews in the period): the four scores.
    ``archive`` None (a lake's report without its archive): no self or peer reviews."""
    reviews = [] if archive is None else [
        r for r in scoring.listing(archive) if r["final_total"] is not None and r["kind"] in ("self", "peer")]
    starts = {} if archive is None else dict(archive.db.execute("SELECT id, start_ms FROM review_sessions").fetchall())
    reviews = [r for r in reviews if (since_ms is None or starts.get(r["session_id"], 0) >= since_ms)
               and (until_ms is None or starts.get(r["session_id"], 0) < until_ms)]
    satisfaction = quality.get("satisfaction") or {}
    means, counts = satisfaction.get("by_agent_mean") or {}, satisfaction.get("by_agent_count") or {}
    agents = [(a["agent"], a["name"], a["team"], a["score"]) for a in quality.get("by_agent") or []]
    known = {key for key, *_ in agents}
    for review in reviews:
        for key, name in zip(review["agents"], review["agent_names"]):
            if key not in known:
                known.add(key)
                agents.append((key, name, None, None))
    rows = []
    for key, name, team, auto in agents:
        mine = [r for r in reviews if key in r["agents"]]
        by_kind = {kind: [r["final_total"] for r in mine if r["kind"] == kind] for kind in ("self", "peer")}
        row = {"agent": key, "name": name, "team": team, "self": _mean(by_kind["self"]), "peer": _mean(by_kind["peer"]),
               "auto": None if auto is None else round(auto / 10, 2),
               "csat": None if means.get(name) is None else round(means[name] * 10, 2),
               "self_reviews": len(by_kind["self"]), "peer_reviews": len(by_kind["peer"]),
               "ratings": counts.get(name, 0)}
        row["gaps"] = {f"{a}_minus_{b}": None if row[a] is None or row[b] is None else round(row[a] - row[b], 2)
                       for a, b in PAIRS}
        rows.append(row)
    return rows


def report(archive: Archive, *, since: str | None = None, until: str | None = None,
           tz: str | None = None) -> dict[str, Any]:
    """`review report --json`: the four scores per agent with their gaps, calibration agreement,
    disputes (open ones listed) and how many reviews are in each state."""
    from ..queries import time_window
    from . import sessions

    tz_name = sessions.zone_name(archive, tz)  # as `quality` does: one zone for the period and its figures
    since_ms, until_ms = time_window(archive, since, until, tz_name)
    quality = sessions.pipeline(archive, since_ms=since_ms, until_ms=until_ms, tz=tz_name)
    everything = scoring.listing(archive)
    agreement = calibration.agreement(archive)
    contested = [r for r in everything if r["contest"]]
    return {
        "period": {"since": since, "until": until}, "scale": scoring.SCALE,
        "agents": four_scores(archive, quality, since_ms, until_ms),
        "reviews": {status: sum(1 for r in everything if r["status"] == status) for status in scoring.STATUSES},
        "calibration": {"alpha": agreement["alpha"], "alpha_total": agreement["alpha_total"],
                        "units": agreement["units"], "calibrations": len(agreement["calibrations"])},
        "disputes": {"open": [r for r in contested if r["status"] == "contested"],
                     "upheld": sum(1 for r in contested if (r["settlement"] or {}).get("outcome") == "upheld"),
                     "amended": sum(1 for r in contested if (r["settlement"] or {}).get("outcome") == "amended")},
        "tampered": [{"review": r["id"], "why": r["tampered"]} for r in everything if r["tampered"]],
    }
