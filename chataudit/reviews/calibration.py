"""Calibration: one session that several reviewers score blind, and how well they agree.

Agreement is Krippendorff's alpha with the interval metric, per dimension, over every calibration
session (the units) and every reviewer who scored it (the coders; missing scores allowed). It is
computed here in a few lines of plain Python — the maintained ``krippendorff`` package needs NumPy,
which chataudit does not otherwise carry — and tested against the published worked example
(Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability": interval α = 0.849).
"""

from __future__ import annotations

from itertools import combinations
from typing import Any, Callable, Sequence

from ..errors import ChatAuditError
from ..governance import audit, clock
from ..quality.score import DIMENSIONS
from ..store import Archive
from . import scoring, sessions
from .trail import CALIBRATE


def interval(a: float, b: float) -> float:
    return (a - b) ** 2


def nominal(a: float, b: float) -> float:
    return 0.0 if a == b else 1.0


def alpha(units: Sequence[Sequence[float | None]], metric: Callable[[float, float], float] = interval) -> float | None:
    """Krippendorff's alpha of ``units`` (each: the values its coders gave, None for a missing one).
    None when it is undefined: fewer than two pairable values, or no variation at all."""
    pairable = [[v for v in unit if v is not None] for unit in units]
    pairable = [unit for unit in pairable if len(unit) >= 2]
    values = [v for unit in pairable for v in unit]
    n = len(values)
    if n < 2:
        return None
    observed = sum(2 * sum(metric(a, b) for a, b in combinations(unit, 2)) / (len(unit) - 1)
                   for unit in pairable) / n
    expected = 2 * sum(metric(a, b) for a, b in combinations(values, 2)) / (n * (n - 1))
    if expected == 0:
        return None
    return 1 - observed / expected


def calibrate(archive: Archive, session_ref: str, reviewers: list[str], *, operator: str,
              params: dict[str, Any]) -> dict[str, Any]:
    """A calibration of one session: a blind calibration review for each reviewer (never its agent)."""
    reviewers = list(dict.fromkeys(sessions.canonical(archive, r.strip()) for r in reviewers if r.strip()))
    if len(reviewers) < 2:
        raise ChatAuditError("a calibration needs at least two --reviewer")
    facts = sessions.locate(archive, session_ref)
    for reviewer in reviewers:
        if sessions.is_agent_of(archive, reviewer, facts):
            raise ChatAuditError(f"{reviewer} is an agent of this session: nobody reviews their own session")
    now = clock.iso()
    db = archive.db
    with audit.transaction(db):
        anchors = []
        session_id = sessions.anchor(archive, facts)
        if facts.get("id") is None:
            anchors.append(sessions.anchor_facts(facts, session_id))
        calibration_id = db.execute("INSERT INTO review_calibrations (session, created_at, created_by) VALUES (?, ?, ?)",
                                    (session_id, now, operator)).lastrowid
        created = []
        for reviewer in reviewers:
            review_id = db.execute(
                "INSERT INTO reviews (session, kind, reviewer, blind, calibration, created_at, created_by)"
                " VALUES (?, 'calibration', ?, 1, ?, ?, ?)", (session_id, reviewer, calibration_id, now, operator)).lastrowid
            created.append({"review": review_id, "session": session_id, "kind": "calibration", "reviewer": reviewer,
                            "blind": True, "assignment": None, "calibration": calibration_id, "created_at": now,
                            "created_by": operator})
        entry = audit.record(archive, operator=operator, command=CALIBRATE, params=params, facts={
            "calibration": calibration_id, "session": session_id, "reviewers": reviewers, "anchors": anchors,
            "created_reviews": created})
    return {"calibration": calibration_id, "session": sessions.anchor_text(facts["conversation"],
            facts["first_message"], facts["last_message"]), "reviewers": reviewers,
            "reviews": scoring.listing(archive, session_id=session_id, kind="calibration")[-len(created):],
            "audit_entry": entry}


def agreement(archive: Archive) -> dict[str, Any]:
    """`review calibration --json`: every calibration with its submitted scores, and alpha per dimension
    (and of the totals) over all of them."""
    reviews = scoring.listing(archive, kind="calibration")
    by_calibration: dict[int, list[dict[str, Any]]] = {}
    for review in reviews:
        by_calibration.setdefault(review["calibration"], []).append(review)
    reviewers = sorted({r["reviewer"] for r in reviews})
    calibrations = []
    units: dict[str, list[list[float | None]]] = {d: [] for d in (*DIMENSIONS, "total")}
    for calibration_id, group in sorted(by_calibration.items()):
        done = {r["reviewer"]: r for r in group if r["submitted_at"]}
        calibrations.append({
            "calibration": calibration_id, "session": group[0]["session"], "reviewers": [r["reviewer"] for r in group],
            "submitted": len(done), "scores": {name: r["scores"] for name, r in sorted(done.items())},
            "totals": {name: r["total"] for name, r in sorted(done.items())}})
        for dimension in DIMENSIONS:
            units[dimension].append([done[name]["scores"][dimension] if name in done else None for name in reviewers])
        units["total"].append([done[name]["total"] if name in done else None for name in reviewers])
    figures = {d: alpha(u) for d, u in units.items()}
    return {"calibrations": calibrations, "reviewers": reviewers, "metric": "interval",
            "alpha": {d: None if figures[d] is None else round(figures[d], 4) for d in DIMENSIONS},
            "alpha_total": None if figures["total"] is None else round(figures["total"], 4),
            "units": sum(1 for c in calibrations if c["submitted"] >= 2)}
