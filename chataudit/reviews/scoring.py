"""Scoring a session: a reviewer's peer review, or the agent's own self-scoring.

A score is five dimensions of the scorecard (响应速度 speed, 专业度 professionalism, 问题解决率
resolution, 用户体验 experience, 情绪管理 emotion), each 0–10 — the user's "打分 out of 10" — with the
scorecard's critical items (any one zeroes the total, as the automatic score does) and comments
anchored to message ids of the session. The total weighs the dimensions as the scorecard does.

Rules: nobody peer-reviews a session they are an agent of; self-scoring is of one's own sessions
only; a review is submitted once (the audit entry first, then the row: the table's trigger refuses
the row change without it). A blind review hides the other reviews of the session and its automatic
score from its reviewer until they submit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from ..errors import ChatAuditError
from ..governance import audit, clock
from ..quality.score import DIMENSION_LABELS, DIMENSIONS
from ..store import Archive
from . import sessions

SCORE_COMMAND = "review score"
KINDS = ("peer", "self", "calibration")
STATUSES = ("assigned", "submitted", "contested", "settled")
REVIEW_KEYS = ("id", "session", "session_id", "conversation", "agents", "agent_names", "kind", "reviewer", "blind",
               "status", "assignment", "calibration", "created_at", "created_by", "scores", "total", "critical",
               "comments", "note", "submitted_at", "contest", "settlement", "final_scores", "final_total", "hidden",
               "tampered")
COLUMNS = ("id", "session", "kind", "reviewer", "blind", "assignment", "calibration", "created_at", "created_by",
           "scores", "total", "critical", "comments", "note", "submitted_at", "contested_at", "contested_by",
           "contest_reason", "settled_at", "settled_by", "outcome", "settle_reason", "amended_scores", "amended_total")
SCALE = 10


# ---- what a score is ---------------------------------------------------------------------------------------

def scorecard() -> dict[str, Any]:
    from ..quality.config import load_scorecard

    return load_scorecard(None)


def critical_items() -> list[str]:
    return [str(item) for item in scorecard().get("critical") or []]


def parse_scores(values: dict[str, Any], where: str = "scores") -> dict[str, float]:
    """The five dimensions, each a number 0–10 (keys: speed… or their Chinese labels)."""
    by_label = {label: key for key, label in DIMENSION_LABELS.items()}
    scores: dict[str, float] = {}
    for name, value in values.items():
        key = by_label.get(str(name), str(name))
        if key not in DIMENSIONS:
            raise ChatAuditError(f"{where}: unknown dimension {name!r} (give {', '.join(DIMENSIONS)})")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ChatAuditError(f"{where}: {key} {value!r} is not a number 0-10") from None
        if not 0 <= number <= SCALE or number != number:
            raise ChatAuditError(f"{where}: {key} {value!r} is not a number 0-10")
        scores[key] = round(number, 2)
    missing = [d for d in DIMENSIONS if d not in scores]
    if missing:
        raise ChatAuditError(f"{where}: every dimension needs a score 0-10; missing {', '.join(missing)}")
    return {d: scores[d] for d in DIMENSIONS}


def total(scores: dict[str, float], critical: list[str]) -> float:
    """Weighted as the scorecard weighs the automatic score; a critical item makes it 0."""
    if critical:
        return 0.0
    weights = scorecard()["weights"]
    used = [(float(weights[d]), scores[d]) for d in DIMENSIONS if weights.get(d)]
    return round(sum(w * v for w, v in used) / sum(w for w, _ in used), 2) if used else 0.0


def read_score_file(path: str | Path) -> dict[str, Any]:
    """A small JSON or YAML file: {scores: {…}, critical: […], comments: [{message, text}], note} — or
    just the five dimensions at the top level."""
    from ..quality.config import load_yaml, read_text

    text = read_text(path)
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        doc = load_yaml(text, str(path))
    if not isinstance(doc, dict):
        raise ChatAuditError(f"{path}: expected a mapping with scores (speed, professionalism, …)")
    if "scores" not in doc:
        doc = {"scores": {k: v for k, v in doc.items() if k not in ("critical", "comments", "note")},
               **{k: doc[k] for k in ("critical", "comments", "note") if k in doc}}
    return doc


def parse_critical(items: list[Any], where: str = "critical") -> list[str]:
    known = critical_items()
    found = []
    for item in items or []:
        if str(item) not in known:
            raise ChatAuditError(f"{where}: {item!r} is not a critical item of the scorecard ({', '.join(known)})")
        if str(item) not in found:
            found.append(str(item))
    return found


def parse_comments(archive: Archive, facts: dict[str, Any], comments: list[Any],
                   where: str = "comments") -> list[dict[str, Any]]:
    """Comments anchored to messages of the session: ``{message, text}`` or ``"ID:text"``."""
    if not comments:
        return []
    inside = sessions.message_ids(archive, facts)
    found = []
    for comment in comments:
        if isinstance(comment, str):
            head, sep, text = comment.partition(":")
            if not sep or not head.strip().isdigit():
                raise ChatAuditError(f"{where}: {comment!r}: give MESSAGE_ID:text")
            comment = {"message": int(head), "text": text}
        if not isinstance(comment, dict) or "message" not in comment:
            raise ChatAuditError(f"{where}: each comment needs its message id and text")
        try:
            message = int(comment["message"])
        except (TypeError, ValueError):
            raise ChatAuditError(f"{where}: message {comment['message']!r} is not a message id") from None
        text = str(comment.get("text") or "").strip()
        if not text:
            raise ChatAuditError(f"{where}: the comment on message {message} is empty")
        if message not in inside:
            raise ChatAuditError(f"{where}: message {message} is not in session "
                                 f"{sessions.anchor_text(facts['conversation'], facts['first_message'], facts['last_message'])}")
        found.append({"message": message, "text": text})
    return found


# ---- the rows ---------------------------------------------------------------------------------------------

def _rows(archive: Archive, where: str = "1", params: tuple = ()) -> list[dict[str, Any]]:
    return [dict(zip(COLUMNS, row)) for row in archive.db.execute(
        f"SELECT {', '.join('r.' + c for c in COLUMNS)} FROM reviews r WHERE {where} ORDER BY r.id", params)]


def status_of(row: dict[str, Any]) -> str:
    if row["settled_at"]:
        return "settled"
    if row["contested_at"]:
        return "contested"
    return "submitted" if row["submitted_at"] else "assigned"


def as_json(row: dict[str, Any], session: dict[str, Any], tampered: str | None = None) -> dict[str, Any]:
    """A review as every `review … --json` gives it (keys: REVIEW_KEYS, README)."""
    loads = sessions._json
    scores = loads(row["scores"]) if row["scores"] else None
    amended = loads(row["amended_scores"]) if row["amended_scores"] else None
    return {
        "id": row["id"],
        "session": sessions.anchor_text(session["conversation"], session["first_message"], session["last_message"]),
        "session_id": row["session"], "conversation": session["conversation"], "agents": session["agents"],
        "agent_names": session["agent_names"], "kind": row["kind"], "reviewer": row["reviewer"],
        "blind": bool(row["blind"]), "status": status_of(row), "assignment": row["assignment"],
        "calibration": row["calibration"], "created_at": row["created_at"], "created_by": row["created_by"],
        "scores": scores, "total": row["total"], "critical": loads(row["critical"]) if row["critical"] else [],
        "comments": loads(row["comments"]) if row["comments"] else [], "note": row["note"],
        "submitted_at": row["submitted_at"],
        "contest": None if not row["contested_at"] else {
            "at": row["contested_at"], "by": row["contested_by"], "reason": row["contest_reason"]},
        "settlement": None if not row["settled_at"] else {
            "at": row["settled_at"], "by": row["settled_by"], "outcome": row["outcome"], "reason": row["settle_reason"],
            "scores": amended, "total": row["amended_total"]},
        "final_scores": amended if row["outcome"] == "amended" else scores,
        "final_total": row["amended_total"] if row["outcome"] == "amended" else row["total"],
        "hidden": False, "tampered": tampered,
    }


def _hide(review: dict[str, Any]) -> dict[str, Any]:
    return review | {"scores": None, "total": None, "critical": [], "comments": [], "note": None, "settlement": None,
                     "final_scores": None, "final_total": None, "hidden": True}


def blind_sessions(archive: Archive, viewer: str) -> set[int]:
    """Sessions on which ``viewer`` holds a blind review not yet submitted."""
    names = sessions.identities(archive, viewer)
    marks = ",".join("?" * len(names))
    return {row[0] for row in archive.db.execute(
        f"SELECT session FROM reviews WHERE blind AND submitted_at IS NULL AND reviewer IN ({marks})", tuple(names))}


def listing(archive: Archive, *, viewer: str | None = None, mine: bool = False, status: str | None = None,
            kind: str | None = None, session_id: int | None = None) -> list[dict[str, Any]]:
    """`review list --json`: reviews oldest first; ``mine``: the viewer's tasks (as reviewer) and the
    reviews of the viewer's own sessions. Scores a blind viewer may not see yet are hidden."""
    from .trail import differences

    if status is not None and status not in STATUSES:
        raise ChatAuditError(f"--status {status!r}: give one of {', '.join(STATUSES)}")
    if kind is not None and kind not in KINDS:
        raise ChatAuditError(f"--kind {kind!r}: give one of {', '.join(KINDS)}")
    rows = _rows(archive, "r.session = ?", (session_id,)) if session_id is not None else _rows(archive)
    cache: dict[int, dict[str, Any]] = {}
    names = sessions.identities(archive, viewer) if viewer else set()
    hidden = blind_sessions(archive, viewer) if viewer else set()
    tampered = differences(archive)
    found = []
    for row in rows:
        session = cache.get(row["session"]) or cache.setdefault(row["session"], sessions.stored(archive, row["session"]))
        review = as_json(row, session, tampered.get(row["id"]))
        if mine and row["reviewer"] not in names and not names & (set(session["agents"]) | set(session["agent_names"])):
            continue
        if status is not None and review["status"] != status:
            continue
        if kind is not None and review["kind"] != kind:
            continue
        if row["session"] in hidden and row["reviewer"] not in names:
            review = _hide(review)
        found.append(review)
    return found


def review_row(archive: Archive, review_id: int) -> dict[str, Any]:
    rows = _rows(archive, "r.id = ?", (review_id,))
    if not rows:
        raise ChatAuditError(f"no review {review_id} (see `chataudit review list`)")
    return rows[0]


def get(archive: Archive, review_id: int, viewer: str | None = None) -> dict[str, Any]:
    found = [r for r in listing(archive, viewer=viewer, session_id=review_row(archive, review_id)["session"])
             if r["id"] == review_id]
    return found[0]


def show(archive: Archive, ref: str, *, viewer: str, redact_policy: str | None = None) -> dict[str, Any]:
    """`review show REVIEW|SESSION --json`: the review (None for a session), the session with its
    automatic score, its transcript, and its reviews — the automatic score and the other reviews hidden
    from a blind reviewer until they submit (``hidden`` true)."""
    text = str(ref).strip()
    review = None
    if text.isdigit():
        review = get(archive, int(text), viewer)
        facts = sessions.stored(archive, review["session_id"])
    else:
        facts = sessions.locate(archive, text)
    blind = facts.get("id") is not None and facts["id"] in blind_sessions(archive, viewer)
    reviews = listing(archive, viewer=viewer, session_id=facts["id"]) if facts.get("id") else []
    return {"review": review, "session": sessions.as_json(archive, facts, with_auto=not blind),
            "transcript": sessions.transcript(archive, facts, redact_policy),
            "reviews": [r for r in reviews if review is None or r["id"] != review["id"]],
            "hidden": blind, "dimensions": dict(DIMENSION_LABELS), "critical_items": critical_items(),
            "scale": SCALE}


# ---- submitting ---------------------------------------------------------------------------------------------

def score(archive: Archive, *, operator: str, params: dict[str, Any], review_id: int | None = None,
          session_ref: str | None = None, self_scoring: bool = False, scores: dict[str, Any],
          critical: list[Any] = (), comments: list[Any] = (), note: str | None = None) -> dict[str, Any]:
    """Submit a review: an assigned one (``review_id``), or a new one of ``session_ref`` (a peer review,
    or with ``self_scoring`` the operator's own). Its audit entry records every score."""
    if (review_id is None) == (session_ref is None):
        raise ChatAuditError("score either a REVIEW (an assigned task) or --session SESSION")
    checked = parse_scores(scores)
    items = parse_critical(list(critical))
    if review_id is not None:
        row = review_row(archive, review_id)
        facts = sessions.stored(archive, row["session"])
        if row["submitted_at"]:
            raise ChatAuditError(f"review {review_id} was already submitted on {row['submitted_at']}")
        if row["reviewer"] not in sessions.identities(archive, operator):
            raise ChatAuditError(f"review {review_id} is assigned to {row['reviewer']}, not to {operator}")
        kind = row["kind"]
    else:
        facts = sessions.locate(archive, session_ref)  # type: ignore[arg-type]
        kind = "self" if self_scoring else "peer"
    own = sessions.is_agent_of(archive, operator, facts)
    if kind == "self" and not own:
        raise ChatAuditError(f"{operator} is not an agent of this session: self-scoring is of one's own sessions only")
    if kind != "self" and own:
        raise ChatAuditError(f"{operator} is an agent of this session: nobody peer-reviews their own session")
    notes = parse_comments(archive, facts, list(comments))
    submitted_at = clock.iso()
    record = {"scores": checked, "total": total(checked, items), "critical": items, "comments": notes,
              "note": note or None, "submitted_at": submitted_at}
    db = archive.db
    created: dict[str, Any] | None = None
    with audit.transaction(db):
        anchored = facts.get("id") is None
        session_id = sessions.anchor(archive, facts)
        if review_id is None:
            reviewer = sessions.canonical(archive, operator)
            existing = db.execute("SELECT id, submitted_at FROM reviews WHERE session = ? AND reviewer = ? AND kind = ?"
                                  " AND calibration IS NULL", (session_id, reviewer, kind)).fetchone()
            if existing and existing[1]:
                raise ChatAuditError(f"{operator} already submitted a {kind} review of this session (review {existing[0]})")
            if existing:
                review_id = existing[0]
            else:
                review_id = db.execute("INSERT INTO reviews (session, kind, reviewer, blind, created_at, created_by)"
                                       " VALUES (?, ?, ?, 0, ?, ?)", (session_id, kind, reviewer, submitted_at,
                                                                      operator)).lastrowid
                created = {"review": review_id, "session": session_id, "kind": kind, "reviewer": reviewer,
                           "blind": False, "assignment": None, "calibration": None, "created_at": submitted_at,
                           "created_by": operator}
        row = review_row(archive, review_id)
        audit.record(archive, operator=operator, command=SCORE_COMMAND, params=params, facts={
            "review": review_id, "session": session_id, "kind": kind, "reviewer": row["reviewer"],
            **({"created": created} if created else {}),
            **({"anchor": sessions.anchor_facts(facts, session_id)} if anchored else {}),
            **record})
        db.execute("UPDATE reviews SET scores = ?, total = ?, critical = ?, comments = ?, note = ?, submitted_at = ?"
                   " WHERE id = ?", (_dumps(checked), record["total"], _dumps(items), _dumps(notes), record["note"],
                                     submitted_at, review_id))
    return get(archive, review_id, operator)


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()
