"""The review tables checked against the audit entries that record them (what `verify` reports).

Each state change — an assignment (``review assign``), a calibration (``review calibrate``), a score
(``review score``), a contest and a settlement — writes its audit entry (a signed ledger leaf) in the
transaction that writes the rows, with every fact of the rows it writes. :func:`discrepancies`
rebuilds the rows from the entries and names each row that differs: a score rewritten with one
UPDATE after its trigger was dropped, a review inserted or deleted behind the tool's back, an anchor
moved to other messages. What it cannot catch: an entry forged together with a re-signed ledger by
someone holding the signing key (the ledger's own threat model).
"""

from __future__ import annotations

from typing import Any

import orjson

from ..store import Archive
from . import sessions

ASSIGN, CALIBRATE, SCORE, CONTEST, SETTLE = ("review assign", "review calibrate", "review score", "review contest",
                                             "review settle")
COMMANDS = (ASSIGN, CALIBRATE, SCORE, CONTEST, SETTLE)
CREATED = ("session", "kind", "reviewer", "blind", "assignment", "calibration", "created_at", "created_by")
SUBMITTED = ("scores", "total", "critical", "comments", "note", "submitted_at")
CONTESTED = {"contested_at": "contested_at", "contested_by": "contested_by", "contest_reason": "reason"}
SETTLED = {"settled_at": "settled_at", "settled_by": "settled_by", "outcome": "outcome", "settle_reason": "reason",
           "amended_scores": "amended_scores", "amended_total": "amended_total"}
JSON_FIELDS = {"scores", "critical", "comments", "amended_scores"}


def recorded(archive: Archive) -> tuple[dict[int, dict[str, Any]], dict[int, dict[str, Any]]]:
    """(review id → its fields as the entries record them, session id → its anchor as recorded)."""
    reviews: dict[int, dict[str, Any]] = {}
    anchors: dict[int, dict[str, Any]] = {}
    for entry_id, command, text in archive.db.execute(
            f"SELECT id, command, facts FROM governance_audit WHERE command IN ({','.join('?' * len(COMMANDS))})"
            " AND outcome = 'ok' AND json_valid(facts) ORDER BY id", COMMANDS):
        facts = orjson.loads(text)
        for anchor in facts.get("anchors") or ([facts["anchor"]] if facts.get("anchor") else []):
            if isinstance(anchor, dict) and isinstance(anchor.get("id"), int):
                anchors[anchor["id"]] = anchor | {"entry": entry_id}
        for created in facts.get("created_reviews") or ([facts["created"]] if facts.get("created") else []):
            if isinstance(created, dict) and isinstance(created.get("review"), int):
                reviews.setdefault(created["review"], {})["created"] = created | {"entry": entry_id}
        review_id = facts.get("review")
        if not isinstance(review_id, int):
            continue
        event = reviews.setdefault(review_id, {})
        if command == SCORE:
            event["submitted"] = facts | {"entry": entry_id}
        elif command == CONTEST:
            event["contested"] = facts | {"entry": entry_id}
        elif command == SETTLE:
            event["settled"] = facts | {"entry": entry_id}
    return reviews, anchors


def _value(column: str, value: Any) -> Any:
    if column in JSON_FIELDS and isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    if column == "blind":
        return bool(value)
    return value


def _review_difference(row: dict[str, Any] | None, event: dict[str, Any] | None, review_id: int) -> str | None:
    created = (event or {}).get("created")
    if row is None:
        if created:
            return (f"`{_command(created)}` created it (audit entry {created['entry']}), but it is missing from the "
                    "reviews table: deleted behind the tool's back")
        return None  # entries about a review never created: nothing in the table to disagree with
    if created is None:
        return "it is in the reviews table, but no audit entry created it: inserted behind the tool's back"
    changed = [c for c in CREATED if c in created and _value(c, row[c]) != created[c]]
    if changed:
        return f"its {_fields(changed)} from what was recorded (audit entry {created['entry']})"
    for stage, columns, marker in (("submitted", {c: c for c in SUBMITTED}, "submitted_at"),
                                   ("contested", CONTESTED, "contested_at"), ("settled", SETTLED, "settled_at")):
        facts = (event or {}).get(stage)
        if facts is None:
            if row[marker] is not None:
                return f"it is marked {stage} ({row[marker]}), but no audit entry records it: {stage} behind the tool's back"
            continue
        if row[marker] is None:
            return f"the audit trail records it {stage} (entry {facts['entry']}), but its row says it is not"
        changed = [c for c, fact in columns.items() if _value(c, row[c]) != facts.get(fact)]
        if changed:
            return f"its {_fields(changed)} from what `review {_verb(stage)}` recorded (audit entry {facts['entry']})"
    return None


def _fields(changed: list[str]) -> str:
    return f"{', '.join(changed)} {'differs' if len(changed) == 1 else 'differ'}"


def _command(created: dict[str, Any]) -> str:
    return ASSIGN if created.get("assignment") else CALIBRATE if created.get("calibration") else SCORE


def _verb(stage: str) -> str:
    return {"submitted": "score", "contested": "contest", "settled": "settle"}[stage]


def differences(archive: Archive) -> dict[int, str]:
    """review id → why its row disagrees with the audit trail (only the reviews that do)."""
    from .scoring import _rows

    rows = {row["id"]: row for row in _rows(archive)}
    events, _ = recorded(archive)
    found = {}
    for review_id in sorted(set(rows) | set(events)):
        why = _review_difference(rows.get(review_id), events.get(review_id), review_id)
        if why:
            found[review_id] = why
    return found


def discrepancies(archive: Archive) -> list[str]:
    """Every difference between the review tables and the audit entries that record them."""
    found = [f"review {review_id}: {why}" for review_id, why in differences(archive).items()]
    _, anchors = recorded(archive)
    stored = {row[0] for row in archive.db.execute("SELECT id FROM review_sessions")}
    for session_id in sorted(stored | set(anchors)):
        anchor = anchors.get(session_id)
        if session_id not in stored:
            found.append(f"review session {session_id}: anchored by audit entry {anchor['entry']}, but missing from "  # type: ignore[index]
                         "review_sessions: deleted behind the tool's back")
            continue
        if anchor is None:
            found.append(f"review session {session_id}: in review_sessions, but no audit entry anchored it")
            continue
        facts = sessions.stored(archive, session_id)
        changed = [c for c in sessions.ANCHOR_COLUMNS if facts[c] != anchor.get(c)]
        if changed:
            found.append(f"review session {session_id}: its {_fields(changed)} from what audit entry "
                         f"{anchor['entry']} anchored")
    return found
