"""Disputes: an agent contests a review of their own session once, with a reason; a lead settles it.

A settlement either upholds the review or amends it with new scores; the reviewer's original scores
stay as submitted (the table's trigger refuses to rewrite them) and the amended ones sit beside them,
so the report uses the final scores while the record keeps both. Each step writes its audit entry
first, in the same transaction, with every fact of the row it changes.
"""

from __future__ import annotations

from typing import Any

from ..errors import ChatAuditError
from ..governance import audit, clock
from ..store import Archive
from . import scoring, sessions
from .trail import CONTEST, SETTLE

OUTCOMES = ("upheld", "amended")


def _checked(archive: Archive, review_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    row = scoring.review_row(archive, review_id)
    tampered = scoring.get(archive, review_id)["tampered"]
    if tampered:
        raise ChatAuditError(f"review {review_id} cannot be changed: {tampered} (run `chataudit verify`)")
    return row, sessions.stored(archive, row["session"])


def contest(archive: Archive, review_id: int, reason: str, *, operator: str, params: dict[str, Any]) -> dict[str, Any]:
    """The agent of the session contests a submitted peer (or calibration) review, once."""
    if not (reason or "").strip():
        raise ChatAuditError("a contest needs its --reason")
    row, facts = _checked(archive, review_id)
    if row["kind"] == "self":
        raise ChatAuditError(f"review {review_id} is a self-scoring: there is nothing to contest")
    if not row["submitted_at"]:
        raise ChatAuditError(f"review {review_id} is not submitted yet: there is nothing to contest")
    if row["contested_at"]:
        raise ChatAuditError(f"review {review_id} was already contested on {row['contested_at']} by "
                             f"{row['contested_by']}: a review is contested once")
    if not sessions.is_agent_of(archive, operator, facts):
        raise ChatAuditError(f"{operator} is not an agent of this session: only its agent may contest review {review_id}")
    at = clock.iso()
    with audit.transaction(archive.db):
        audit.record(archive, operator=operator, command=CONTEST, params=params,
                     facts={"review": review_id, "contested_at": at, "contested_by": operator, "reason": reason.strip()})
        archive.db.execute("UPDATE reviews SET contested_at = ?, contested_by = ?, contest_reason = ? WHERE id = ?",
                           (at, operator, reason.strip(), review_id))
    return scoring.get(archive, review_id, operator)


def settle(archive: Archive, review_id: int, outcome: str, reason: str, *, operator: str, params: dict[str, Any],
           scores: dict[str, Any] | None = None, critical: list[Any] = ()) -> dict[str, Any]:
    """A lead settles a contested review: ``upheld`` (as reviewed) or ``amended`` with new scores."""
    if outcome not in OUTCOMES:
        raise ChatAuditError(f"--outcome {outcome!r}: give upheld or amended")
    if not (reason or "").strip():
        raise ChatAuditError("a settlement needs its --reason")
    row, facts = _checked(archive, review_id)
    if row["settled_at"]:
        raise ChatAuditError(f"review {review_id} was already settled on {row['settled_at']} ({row['outcome']})")
    if not row["contested_at"]:
        raise ChatAuditError(f"review {review_id} is not contested: there is nothing to settle")
    names = sessions.identities(archive, operator)
    if sessions.is_agent_of(archive, operator, facts) or row["reviewer"] in names:
        raise ChatAuditError(f"{operator} is a party to review {review_id} (its agent or its reviewer): "
                             "another lead settles it")
    amended = amended_total = None
    if outcome == "amended":
        if not scores:
            raise ChatAuditError("an amended settlement needs the new scores")
        amended = scoring.parse_scores(scores)
        amended_total = scoring.total(amended, scoring.parse_critical(list(critical)))
    elif scores:
        raise ChatAuditError("an upheld review keeps its scores: give new scores only with --outcome amended")
    at = clock.iso()
    with audit.transaction(archive.db):
        audit.record(archive, operator=operator, command=SETTLE, params=params,
                     facts={"review": review_id, "settled_at": at, "settled_by": operator, "outcome": outcome,
                            "reason": reason.strip(), "amended_scores": amended, "amended_total": amended_total})
        archive.db.execute("UPDATE reviews SET settled_at = ?, settled_by = ?, outcome = ?, settle_reason = ?,"
                           " amended_scores = ?, amended_total = ? WHERE id = ?",
                           (at, operator, outcome, reason.strip(), None if amended is None else scoring._dumps(amended),
                            amended_total, review_id))
    return scoring.get(archive, review_id, operator)
