"""Review work for a week: N sessions per agent, picked at random (seeded, the seed recorded) or by a
rule, handed to reviewers round robin — never a reviewer's own session.

The sessions are the quality pipeline's for that ISO week (Monday 00:00 to the next Monday, in the
archive's zone), with its automatic score, sensitive-word count and resolution; the rules:

* ``random``: a seeded uniform sample of the agent's sessions (the seed is in the audit entry, so the
  pick can be repeated and checked);
* ``lowest``: the lowest automatic scores first;
* ``sensitive``: sessions with sensitive words, the most first;
* ``unresolved``: sessions the pipeline did not find resolved (unanswered, complaining, repeating,
  no confirmation), oldest first.

A session that already has a peer review is not picked again.
"""

from __future__ import annotations

import random
import re
import secrets
from datetime import date, datetime, timedelta
from typing import Any

from ..errors import ChatAuditError
from ..governance import audit, clock
from ..model import utc_ms, zone
from ..store import Archive
from . import scoring, sessions
from .trail import ASSIGN

RULES = ("random", "lowest", "sensitive", "unresolved")


def week_bounds(archive: Archive, week: str) -> tuple[str, int, int]:
    """``2026-W11`` or any date in the week → (ISO week name, since ms, until ms) in the archive's zone."""
    text = week.strip()
    match = re.fullmatch(r"(\d{4})-?W(\d{1,2})", text, re.IGNORECASE)
    try:
        monday = (date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1) if match
                  else date.fromisoformat(text.replace("/", "-")))
    except ValueError:
        raise ChatAuditError(f"--week {week!r}: give an ISO week such as 2026-W11 or a date in it") from None
    monday -= timedelta(days=monday.weekday())
    tz = zone(sessions.zone_name(archive))
    start = datetime(monday.year, monday.month, monday.day, tzinfo=tz)
    year, number, _ = monday.isocalendar()
    return f"{year}-W{number:02d}", utc_ms(start), utc_ms(start + timedelta(days=7))


def pick(rows: list[dict[str, Any]], rule: str, count: int, rng: random.Random) -> list[dict[str, Any]]:
    """``count`` of the agent's session rows by ``rule`` (rows in timeline order)."""
    if rule == "random":
        return sorted(rng.sample(rows, min(count, len(rows))), key=lambda r: (r["start_ms"], r["conversation"]))
    if rule == "lowest":
        ordered = sorted(rows, key=lambda r: (r["score"] is None, r["score"] or 0, r["start_ms"]))
    elif rule == "sensitive":
        ordered = sorted((r for r in rows if r["sensitive"]), key=lambda r: (-r["sensitive"], r["start_ms"]))
    else:
        ordered = [r for r in rows if r["resolution_reason"] not in (None, "resolved")]
    return ordered[:count]


def assign(archive: Archive, *, week: str, per_agent: int, rule: str, reviewers: list[str], operator: str,
           params: dict[str, Any], seed: int | None = None, blind: bool = False,
           self_scoring: bool = False) -> dict[str, Any]:
    """Pick and assign the week's review work in one transaction, with one audit entry recording it all."""
    if rule not in RULES:
        raise ChatAuditError(f"--rule {rule!r}: give one of {', '.join(RULES)}")
    if not 1 <= per_agent <= 100:
        raise ChatAuditError(f"--per-agent {per_agent}: give 1 to 100")
    reviewers = list(dict.fromkeys(sessions.canonical(archive, r.strip()) for r in reviewers if r.strip()))
    if not reviewers:
        raise ChatAuditError("give at least one --reviewer")
    name, since_ms, until_ms = week_bounds(archive, week)
    if rule == "random" and seed is None:
        seed = secrets.randbits(31)
    rng = random.Random(seed)
    report = sessions.pipeline(archive, since_ms=since_ms, until_ms=until_ms)
    reviewed = {(r[0], r[1], r[2]) for r in archive.db.execute(
        "SELECT s.conversation, s.first_message, s.last_message FROM review_sessions s"
        " WHERE EXISTS (SELECT 1 FROM reviews r WHERE r.session = s.id AND r.kind = 'peer')")}
    rows = [r for r in report["session_rows"] if r["first_message"] is not None
            and (r["conversation"], r["first_message"], r["last_message"]) not in reviewed]
    taken: set[tuple[int, int]] = set()
    picked: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (agent, session row)
    for agent in report["by_agent"]:
        mine = [r for r in rows if agent["agent"] in r["agent_keys"]
                and (r["conversation"], r["first_message"]) not in taken]
        for row in pick(mine, rule, per_agent, rng):
            taken.add((row["conversation"], row["first_message"]))
            picked.append((agent, row))
    reviewer_names = {r: sessions.identities(archive, r) for r in reviewers}
    now = clock.iso()
    turn = 0
    plan: list[dict[str, Any]] = []
    unassigned: list[dict[str, Any]] = []
    for agent, row in picked:
        facts = sessions.row_facts(row)
        own = set(facts["agents"]) | set(facts["agent_names"])
        chosen = None
        for step in range(len(reviewers)):
            candidate = reviewers[(turn + step) % len(reviewers)]
            if not reviewer_names[candidate] & own:
                chosen, turn = candidate, (turn + step + 1) % len(reviewers)
                break
        text = sessions.anchor_text(row["conversation"], row["first_message"], row["last_message"])
        if chosen is None:
            unassigned.append({"agent": agent["agent"], "session": text,
                               "why": "every reviewer is an agent of this session"})
        plan.append({"agent": agent["agent"], "facts": facts, "reviewer": chosen, "session": text})
    db = archive.db
    with audit.transaction(db):
        assignment_id = db.execute(
            "INSERT INTO review_assignments (week, rule, per_agent, seed, reviewers, created_at, created_by)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)", (name, rule, per_agent, seed, scoring._dumps(reviewers), now,
                                              operator)).lastrowid
        anchors, created = [], []
        for item in plan:
            new = sessions.locate_stored(archive, item["facts"]) is None
            session_id = sessions.anchor(archive, item["facts"])
            if new:
                anchors.append(sessions.anchor_facts(item["facts"], session_id))
            tasks = [("peer", item["reviewer"], blind)] if item["reviewer"] else []
            if self_scoring:
                tasks.append(("self", item["agent"], False))
            for kind, reviewer, is_blind in tasks:
                if db.execute("SELECT 1 FROM reviews WHERE session = ? AND reviewer = ? AND kind = ? AND calibration"
                              " IS NULL", (session_id, reviewer, kind)).fetchone():
                    continue
                review_id = db.execute(
                    "INSERT INTO reviews (session, kind, reviewer, blind, assignment, created_at, created_by)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)", (session_id, kind, reviewer, int(is_blind), assignment_id, now,
                                                      operator)).lastrowid
                created.append({"review": review_id, "session": session_id, "kind": kind, "reviewer": reviewer,
                                "blind": is_blind, "assignment": assignment_id, "calibration": None,
                                "created_at": now, "created_by": operator})
        entry = audit.record(archive, operator=operator, command=ASSIGN, params=params, facts={
            "assignment": assignment_id, "week": name, "rule": rule, "per_agent": per_agent, "seed": seed,
            "reviewers": reviewers, "blind": blind, "self_scoring": self_scoring, "anchors": anchors,
            "created_reviews": created, "picked": [{"agent": p["agent"], "session": p["session"]} for p in plan],
            "unassigned": unassigned})
    ids = {c["review"] for c in created}
    reviews = [r for r in scoring.listing(archive) if r["id"] in ids]
    return {"assignment": assignment_id, "week": name, "rule": rule, "per_agent": per_agent, "seed": seed,
            "reviewers": reviewers, "blind": blind, "self_scoring": self_scoring,
            "picked": [{"agent": p["agent"], "session": p["session"]} for p in plan],
            "reviews": reviews, "unassigned": unassigned, "audit_entry": entry}
