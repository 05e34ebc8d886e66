"""Legal holds: what a hold covers is not purged until it is released.

A hold is a fact of the audit trail, not a row: ``hold add`` and ``hold release`` each write an
audit entry (a signed ledger leaf) that records the whole hold or release, in the transaction that
writes the row. The ``governance_holds`` table is a copy for listing and for the store's backstop
trigger; :func:`discrepancies` compares it with the entries (``verify`` reports each difference),
and a retention run takes the holds from the entries alone, after checking them against the signed
ledger (:func:`verified_holds`), so a row edited behind the tool's back lifts nothing.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..errors import ChatAuditError
from ..store import Archive
from . import audit, clock

HOLD_COMMAND, RELEASE_COMMAND = "hold add", "hold release"
HOLD_KEYS = ("id", "kind", "target", "conversation", "reason", "placed_by", "placed_at", "released_at",
             "released_by", "release_reason")
# what `hold add` records of the row (entries written before 0.x recorded only conversation and identities)
RECORD_FIELDS = ("kind", "target", "conversation", "reason", "placed_by", "placed_at")
# what `hold release` records, under the entry's fact names
RELEASE_FACTS = {"released_at": "released_at", "released_by": "released_by", "release_reason": "reason"}


# ---- placing and releasing ---------------------------------------------------------------------------

def add_hold(archive: Archive, *, conversation: str | None, person: str | None, reason: str, operator: str,
             params: dict[str, Any]) -> dict[str, Any]:
    """Place a hold on a conversation or a person's timeline; its audit entry records all of it."""
    from ..people import resolve_person

    if bool(conversation) == bool(person):
        raise ChatAuditError("a hold covers exactly one --conversation or --person")
    if not reason.strip():
        raise ChatAuditError("a hold needs its --reason (the matter it is kept for)")
    db = archive.db
    identities: list[tuple[str, str]] = []
    conversation_id = None
    if conversation:
        conversation_id = archive.resolve_conversation(conversation)["id"]
    else:
        _, identities = resolve_person(archive, person)  # type: ignore[arg-type]
    record = {"kind": "conversation" if conversation else "person", "target": conversation or person,
              "conversation": conversation_id, "reason": reason, "placed_by": operator, "placed_at": clock.iso()}
    identities = sorted(set(identities))
    with audit.transaction(db):
        hold_id = db.execute(f"INSERT INTO governance_holds ({', '.join(RECORD_FIELDS)}) VALUES (?, ?, ?, ?, ?, ?)",
                             tuple(record[f] for f in RECORD_FIELDS)).lastrowid
        db.executemany("INSERT INTO governance_hold_identities (hold, platform, sender_key) VALUES (?, ?, ?)",
                       [(hold_id, p, k) for p, k in identities])
        audit.record(archive, operator=operator, command=HOLD_COMMAND, params=params,
                     facts={"hold": hold_id, **record, "identities": [f"{p}:{k}" for p, k in identities]})
    return hold(archive, hold_id)


def release_hold(archive: Archive, hold_id: int, reason: str | None, *, operator: str,
                 params: dict[str, Any]) -> dict[str, Any]:
    """Release a hold: its audit entry first (the table's trigger refuses a release without one)."""
    current = hold(archive, hold_id)
    if current["tampered"]:
        raise ChatAuditError(f"hold {hold_id} cannot be released: {current['tampered']} (run `chataudit verify`)")
    if current["released_at"]:
        raise ChatAuditError(f"hold {hold_id} was already released on {current['released_at']}")
    released_at = clock.iso()
    with audit.transaction(archive.db):
        audit.record(archive, operator=operator, command=RELEASE_COMMAND, params=params,
                     facts={"hold": hold_id, "reason": reason, "released_at": released_at, "released_by": operator})
        archive.db.execute("UPDATE governance_holds SET released_at = ?, released_by = ?, release_reason = ?"
                           " WHERE id = ?", (released_at, operator, reason, hold_id))
    return hold(archive, hold_id)


# ---- the holds as the audit trail records them ---------------------------------------------------------

def recorded(archive: Archive, entries: set[int] | None = None) -> dict[int, dict[str, Any]]:
    """hold id → the hold as its audit entries record it (only ``entries`` when given): the facts of
    its ``hold add`` entry (``entry``; None when no entry records it) and ``release``: the facts of
    its ``hold release`` entry, or None."""
    found: dict[int, dict[str, Any]] = {}
    for entry_id, command, facts_text in archive.db.execute(
            "SELECT id, command, facts FROM governance_audit WHERE command IN (?, ?) AND json_valid(facts)"
            " ORDER BY id", (HOLD_COMMAND, RELEASE_COMMAND)).fetchall():
        if entries is not None and entry_id not in entries:
            continue
        facts = orjson.loads(facts_text)
        hold_id = facts.get("hold")
        if not isinstance(hold_id, int):
            continue
        event = found.setdefault(hold_id, {"id": hold_id, "entry": None, "facts": {}, "release": None})
        if command == HOLD_COMMAND:
            event.update(entry=entry_id, facts=facts)
        else:
            event["release"] = {"entry": entry_id, **facts}
    return found


def _rows(archive: Archive) -> dict[int, dict[str, Any]]:
    rows = {row[0]: dict(zip(HOLD_KEYS, row)) for row in archive.db.execute(
        f"SELECT {', '.join(HOLD_KEYS)} FROM governance_holds ORDER BY id")}
    for row in rows.values():
        row["identities"] = []
    for hold_id, platform, key in archive.db.execute(
            "SELECT hold, platform, sender_key FROM governance_hold_identities ORDER BY hold, platform, sender_key"):
        if hold_id in rows:
            rows[hold_id]["identities"].append(f"{platform}:{key}")
    return rows


def _difference(row: dict[str, Any] | None, event: dict[str, Any] | None) -> str | None:
    """Why a hold's row does not match its audit entries, or None."""
    if event is None or event["entry"] is None:
        if row is None:  # a release entry of a hold that was never placed
            return f"the audit trail records the release of hold {event['id']} (entry {event['release']['entry']}), " \
                   "which no `hold add` entry placed"  # type: ignore[index]
        return ("it is in the holds table, but no `hold add` entry of the audit trail records it: placed behind the "
                "tool's back")
    facts, entry = event["facts"], event["entry"]
    if row is None:
        return (f"`hold add` placed it (audit entry {entry}: {facts.get('kind', 'hold')} {facts.get('target', '')}, "
                f"{facts.get('reason', '')}), but it is missing from the holds table: deleted behind the tool's back")
    changed = [f for f in RECORD_FIELDS if f in facts and row[f] != facts[f]]
    if sorted(facts.get("identities") or []) != sorted(row["identities"]):
        changed.append("identities")
    if changed:
        return f"its {', '.join(changed)} differ from what `hold add` recorded (audit entry {entry})"
    release = event["release"]
    if release is None:
        if row["released_at"] is not None:
            return (f"it is marked released ({row['released_at']} by {row['released_by']}), but no `hold release` "
                    "entry of the audit trail records it: released behind the tool's back")
        return None
    if row["released_at"] is None:
        return f"the audit trail records its release (entry {release['entry']}), but its row says it is in force"
    changed = [column for column, fact in RELEASE_FACTS.items() if fact in release and row[column] != release[fact]]
    if changed:
        return f"its {', '.join(changed)} differ from what `hold release` recorded (audit entry {release['entry']})"
    return None


def discrepancies(archive: Archive, entries: set[int] | None = None) -> list[str]:
    """Every difference between the holds table and the holds the audit trail records."""
    rows, events = _rows(archive), recorded(archive, entries)
    found = []
    for hold_id in sorted(set(rows) | set(events)):
        why = _difference(rows.get(hold_id), events.get(hold_id))
        if why:
            found.append(f"hold {hold_id}: {why}")
    return found


def verified_holds(archive: Archive, key_path: str | None = None) -> list[dict[str, Any]]:
    """The holds in force, from the audit entries of the signed ledger: refused (ChatAuditError naming
    each problem) when the trail does not verify or the holds table disagrees with it, because then
    nobody can say what is held."""
    from .integrity import trail_problems

    problems, verified = trail_problems(archive, key_path)
    problems += discrepancies(archive, verified)
    if problems:
        shown = "; ".join(problems[:5]) + (f"; … and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise ChatAuditError(f"the legal holds cannot be verified, so nothing is purged: {shown} "
                             "(run `chataudit verify`)")
    rows = _rows(archive)
    active = []
    for event in recorded(archive, verified).values():
        if event["entry"] is None or event["release"] is not None:
            continue
        facts, row = event["facts"], rows[event["id"]]
        active.append({"id": event["id"], "identities": list(facts.get("identities") or []),
                       **{f: facts.get(f, row[f]) for f in RECORD_FIELDS}})
    return sorted(active, key=lambda h: h["id"])


# ---- listing -------------------------------------------------------------------------------------------------

def holds(archive: Archive, include_released: bool = False) -> list[dict[str, Any]]:
    """Holds as the table lists them, each with ``tampered``: why its row disagrees with the audit
    trail (None when it agrees)."""
    rows, events = _rows(archive), recorded(archive)
    found = []
    for hold_id, row in rows.items():
        if row["released_at"] is not None and not include_released:
            continue
        found.append(row | {"active": row["released_at"] is None,
                            "tampered": _difference(row, events.get(hold_id))})
    return found


def hold(archive: Archive, hold_id: int) -> dict[str, Any]:
    found = [h for h in holds(archive, include_released=True) if h["id"] == hold_id]
    if not found:
        raise ChatAuditError(f"no hold {hold_id} (see `chataudit hold list`)")
    return found[0]
