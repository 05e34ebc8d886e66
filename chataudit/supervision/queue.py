"""The supervision review queue: alerts grouped by conversation into review items, assigned to reviewers,
closed with a disposition and a reason, or escalated to a second reviewer who closes them for good.

Each change is a fact of the audit trail, as legal holds are (:mod:`chataudit.governance.holds`): its
``supervise intake|assign|escalate|close`` entry (a signed ledger leaf) records every item it touches,
under ``facts.items``, in the transaction that writes the rows. :func:`discrepancies` replays those
entries and names every item whose row (or list of alerts) differs — ``verify`` reports each — and the
triggers of migration 0019 refuse the one-statement rewrite of a closed item.

A reviewer never reviews their own messages: a reviewer (an operator name equal to a roster id or
roster name, or a sender id or name as such) who sent any message of the item's conversation is
refused by ``assign`` and ``close`` and skipped by round robin.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Iterable

import orjson

from ..errors import ChatAuditError
from ..governance import audit, clock
from ..governance import roster as roster_api
from ..store import Archive

DISPOSITIONS = ("no issue", "coaching", "escalated", "reported")
FINAL_DISPOSITIONS = ("no issue", "coaching", "reported")  # an escalated item's second reviewer chooses one
STATUSES = ("open", "closed", "all")  # the queue's filter; "open" includes escalated items
DEFAULT_SLA = "48h"

INTAKE, ASSIGN, ESCALATE, CLOSE = "supervise intake", "supervise assign", "supervise escalate", "supervise close"
COMMANDS = (INTAKE, ASSIGN, ESCALATE, CLOSE)

# the columns the audit trail determines, compared by :func:`discrepancies`
STATE_FIELDS = ("conversation", "status", "opened_at", "reviewer", "assigned_at", "first_reviewer", "escalated_at",
                "escalation_reason", "disposition", "reason", "closed_by", "closed_at")
ITEM_KEYS = ("id", "conversation", "conversation_title", "platform", "status", "reviewer", "assigned_at", "opened_at",
             "first_raised_at", "due_at", "overdue", "alerts", "policies", "categories", "first_reviewer",
             "escalated_at", "escalation_reason", "disposition", "reason", "closed_by", "closed_at", "tampered")


# ---- small parts ----------------------------------------------------------------------------------------

def parse_sla(text: str | None) -> timedelta:
    """``48h``, ``2d``, ``90m`` (default :data:`DEFAULT_SLA`): how long an alert may stay open."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([mhd])\s*", text or DEFAULT_SLA)
    if not found or float(found.group(1)) <= 0:
        raise ChatAuditError(f"--sla {text!r} is not a duration like 48h, 2d or 90m")
    return timedelta(**{{"m": "minutes", "h": "hours", "d": "days"}[found.group(2)]: float(found.group(1))})


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _reviewer_name(name: str | None) -> str:
    name = (name or "").strip()
    if not name:
        raise ChatAuditError("a reviewer needs a name (the operator name, e.g. a roster id or roster name)")
    return name


# ---- a reviewer's own messages ------------------------------------------------------------------------

def own_messages(archive: Archive, reviewer: str, conversation: int) -> int:
    """How many messages of ``conversation`` the reviewer sent: as a roster member (by roster id, roster
    name or a linked identity, as enterprise mode marks an employee's messages) or by a sender id or
    name equal to the reviewer's name. Refused when the roster was changed behind the tool's back."""
    rows = roster_api.check_unchanged(archive)
    members = [r for r in rows if reviewer in (r["id"], r["name"]) and r["role"] != "bot"]
    keys = {reviewer} | {r["id"] for r in members} | {r["name"] for r in members}
    marks = ",".join("?" * len(keys))
    condition = f"(m.sender_id IN ({marks}) OR m.sender_name IN ({marks}))"
    params: list[Any] = [*keys, *keys]
    if members:
        roster_api.load_member_keys(archive, members)
        condition = f"({condition} OR {roster_api.MEMBER_OF_MESSAGE} IS NOT NULL)"
    return archive.db.execute(f"SELECT count(*) FROM messages m WHERE m.conversation = ? AND {condition}",
                              [conversation, *params]).fetchone()[0]


def _refuse_own(archive: Archive, reviewer: str, item: dict[str, Any], doing: str) -> None:
    count = own_messages(archive, reviewer, item["conversation"])
    if count:
        raise ChatAuditError(f"{reviewer} cannot {doing} item {item['id']}: they sent {count} message(s) of its "
                             "conversation, and a reviewer never reviews their own messages")


# ---- intake: new alerts become items --------------------------------------------------------------------

def intake(archive: Archive, *, operator: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Take every alert not yet in an item into the queue: it joins its conversation's item that is not
    closed, else opens a new item. One ``supervise intake`` entry records them all; nothing is written
    when there is nothing new. Returns ``{opened, joined, audit_entry}``."""
    db = archive.db
    with audit.transaction(db):
        pending = db.execute(
            "SELECT a.conversation, json_group_array(a.id) FROM (SELECT id, conversation FROM supervision_alerts a"
            " WHERE NOT EXISTS (SELECT 1 FROM supervision_item_alerts ia WHERE ia.alert = a.id) ORDER BY id) a"
            " GROUP BY a.conversation ORDER BY min(a.id)").fetchall()
        if not pending:
            return {"opened": 0, "joined": 0, "audit_entry": None}
        now = clock.iso()
        events: list[dict[str, Any]] = []
        for conversation, alert_json in pending:
            alerts = orjson.loads(alert_json)
            found = db.execute("SELECT id FROM supervision_items WHERE conversation = ? AND status != 'closed'",
                               (conversation,)).fetchone()
            if found:
                events.append({"item": found[0], "conversation": conversation, "opened": False, "alerts": alerts})
                continue
            item_id = db.execute("INSERT INTO supervision_items (conversation, status, opened_at) VALUES (?, 'open', ?)",
                                 (conversation, now)).lastrowid
            events.append({"item": item_id, "conversation": conversation, "opened": True, "opened_at": now,
                           "alerts": alerts})
        db.executemany("INSERT INTO supervision_item_alerts (alert, item) VALUES (?, ?)",
                       [(alert, e["item"]) for e in events for alert in e["alerts"]])
        entry = audit.record(archive, operator=operator, command=INTAKE, params=params or {}, facts={"items": events})
    return {"opened": sum(e["opened"] for e in events), "joined": sum(not e["opened"] for e in events),
            "audit_entry": entry}


# ---- listing --------------------------------------------------------------------------------------------

_ITEM_SELECT = (
    "SELECT i.id, i.conversation, c.title, c.platform, i.status, i.reviewer, i.assigned_at, i.opened_at,"
    " (SELECT min(a.raised_at) FROM supervision_item_alerts ia JOIN supervision_alerts a ON a.id = ia.alert"
    "   WHERE ia.item = i.id),"
    " (SELECT count(*) FROM supervision_item_alerts ia WHERE ia.item = i.id),"
    " (SELECT json_group_array(DISTINCT a.policy) FROM supervision_item_alerts ia JOIN supervision_alerts a"
    "   ON a.id = ia.alert WHERE ia.item = i.id AND a.policy IS NOT NULL),"
    " (SELECT json_group_array(DISTINCT coalesce(a.category, a.kind)) FROM supervision_item_alerts ia"
    "   JOIN supervision_alerts a ON a.id = ia.alert WHERE ia.item = i.id),"
    " i.first_reviewer, i.escalated_at, i.escalation_reason, i.disposition, i.reason, i.closed_by, i.closed_at"
    " FROM supervision_items i JOIN conversations c ON c.id = i.conversation"
)


def items(archive: Archive, *, reviewer: str | None = None, status: str = "open", overdue: bool = False,
          sla: str | None = None, item_id: int | None = None) -> list[dict[str, Any]]:
    """`supervise queue --json`: items oldest first, each with its SLA ``due_at`` (its first alert's
    time plus the SLA), ``overdue`` (not closed and past due) and ``tampered`` (why its row disagrees
    with the audit trail, or None)."""
    if status not in STATUSES:
        raise ChatAuditError(f"--status must be one of {', '.join(STATUSES)}, not {status!r}")
    window = parse_sla(sla)
    where, params = [], []
    if status == "open":
        where.append("i.status != 'closed'")
    elif status == "closed":
        where.append("i.status = 'closed'")
    if reviewer is not None:
        where.append("i.reviewer = ?")
        params.append(reviewer)
    if item_id is not None:
        where.append("i.id = ?")
        params.append(item_id)
    sql = _ITEM_SELECT + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY i.id"
    now = clock.now()
    replayed = recorded(archive)
    found = []
    for row in archive.db.execute(sql, params):
        item = dict(zip(ITEM_KEYS[:4], row[:4]))
        item.update(status=row[4], reviewer=row[5], assigned_at=row[6], opened_at=row[7], first_raised_at=row[8])
        due = _instant(row[8] or row[7]) + window
        item["due_at"] = clock.iso(due)
        item["overdue"] = row[4] != "closed" and now > due
        item.update(alerts=row[9], policies=sorted(orjson.loads(row[10])), categories=sorted(orjson.loads(row[11])))
        item.update(zip(ITEM_KEYS[14:21], row[12:19]))
        item["tampered"] = None
        if overdue and not item["overdue"]:
            continue
        found.append(item)
    ids = [i["id"] for i in found]
    rows = _rows(archive, ids if len(ids) <= 500 else None)  # a long list: all rows (SQLite's bound-parameter limit)
    for item in found:
        item["tampered"] = _difference(rows.get(item["id"]), replayed.get(item["id"]))
    return found


def item(archive: Archive, item_id: int, sla: str | None = None) -> dict[str, Any]:
    found = items(archive, status="all", sla=sla, item_id=item_id)
    if not found:
        raise ChatAuditError(f"no supervision item {item_id} (see `chataudit supervise queue --status all`)")
    return found[0]


def conversation_of(archive: Archive, item_id: int) -> int:
    """The conversation an item reviews (what `supervise show` reads, for enterprise mode's check)."""
    row = archive.db.execute("SELECT conversation FROM supervision_items WHERE id = ?", (item_id,)).fetchone()
    if row is None:
        raise ChatAuditError(f"no supervision item {item_id} (see `chataudit supervise queue --status all`)")
    return row[0]


def _usable(archive: Archive, item_id: int) -> dict[str, Any]:
    current = item(archive, item_id)
    if current["tampered"]:
        raise ChatAuditError(f"supervision item {item_id} cannot be changed: {current['tampered']} "
                             "(run `chataudit verify`)")
    return current


# ---- assigning ------------------------------------------------------------------------------------------

def _eligible(archive: Archive, reviewer: str, current: dict[str, Any]) -> str | None:
    """Why ``reviewer`` may not take the item, or None."""
    if current["status"] == "closed":
        return f"item {current['id']} is closed"
    if current["status"] == "escalated" and reviewer == current["first_reviewer"]:
        return (f"{reviewer} escalated item {current['id']}: an escalated item goes to a second reviewer, "
                "never the first one")
    count = own_messages(archive, reviewer, current["conversation"])
    if count:
        return (f"{reviewer} sent {count} message(s) of item {current['id']}'s conversation, and a reviewer never "
                "reviews their own messages")
    return None


def _assign_event(archive: Archive, current: dict[str, Any], reviewer: str, at: str) -> dict[str, Any]:
    archive.db.execute("UPDATE supervision_items SET reviewer = ?, assigned_at = ? WHERE id = ?",
                       (reviewer, at, current["id"]))
    return {"item": current["id"], "reviewer": reviewer, "assigned_at": at, "previous": current["reviewer"]}


def team_of(archive: Archive, conversation: int) -> str | None:
    """The roster team whose members sent most messages of the conversation (ties: by team name)."""
    rows = roster_api.check_unchanged(archive)
    members = [r for r in rows if r["role"] != "bot" and r["team"]]
    if not members:
        return None
    roster_api.load_member_keys(archive, members)
    teams = {r["id"]: r["team"] for r in members}
    counts: dict[str, int] = {}
    for member, count in archive.db.execute(
            f"SELECT {roster_api.MEMBER_OF_MESSAGE} AS member, count(*) FROM messages m WHERE m.conversation = ?"
            " GROUP BY member", (conversation,)):
        if member in teams:
            counts[teams[member]] = counts.get(teams[member], 0) + count
    return min(counts, key=lambda t: (-counts[t], t)) if counts else None


def parse_team_reviewers(values: Iterable[str]) -> dict[str, list[str]]:
    """``TEAM=R1,R2`` options (or lines) → {team: [reviewers]}."""
    mapping: dict[str, list[str]] = {}
    for value in values:
        team, sep, names = value.partition("=")
        reviewers = [n.strip() for n in names.split(",") if n.strip()]
        if not sep or not team.strip() or not reviewers:
            raise ChatAuditError(f"--team-reviewers {value!r} is not TEAM=REVIEWER[,REVIEWER…]")
        mapping.setdefault(team.strip(), []).extend(reviewers)
    return mapping


def assign(archive: Archive, item_ids: list[int] | None = None, *, to: str | None = None,
           round_robin: list[str] | None = None, team_reviewers: dict[str, list[str]] | None = None,
           operator: str, params: dict[str, Any]) -> dict[str, Any]:
    """Assign items to one named reviewer (``to``), round robin over ``round_robin`` (each item to the
    next reviewer in the list who may take it), or by team (``team_reviewers``: the item's team — see
    :func:`team_of` — to its reviewers, round robin among them). Without ``item_ids``, round robin and
    team assignment take every item not closed and not assigned. A named reviewer who may not take an
    item is refused; round robin and teams skip such items and say why (``skipped``). One ``supervise
    assign`` entry records every assignment. Returns ``{assigned: [...], skipped: [...], audit_entry}``."""
    if sum(x is not None for x in (to, round_robin, team_reviewers)) != 1:
        raise ChatAuditError("assign needs exactly one of --to REVIEWER, --round-robin R1,R2… or --team-reviewers")
    intake(archive, operator=operator, params=params)
    db = archive.db
    with audit.transaction(db):
        if item_ids:
            targets = [_usable(archive, i) for i in item_ids]
        elif to is not None:
            raise ChatAuditError("assign --to needs the ITEM to assign")
        else:
            targets = [i for i in items(archive, status="open") if i["reviewer"] is None]
        now = clock.iso()
        events: list[dict[str, Any]] = []
        skipped = [{"item": i["id"], "why": f"it cannot be changed: {i['tampered']}"} for i in targets if i["tampered"]]
        targets = [i for i in targets if not i["tampered"]]
        if to is not None:
            reviewer = _reviewer_name(to)
            for current in targets:
                why = _eligible(archive, reviewer, current)
                if why:
                    raise ChatAuditError(f"cannot assign item {current['id']} to {reviewer}: {why}")
                events.append(_assign_event(archive, current, reviewer, now))
        else:
            cycles = ({None: [_reviewer_name(r) for r in round_robin or []]} if round_robin is not None
                      else {team: [_reviewer_name(r) for r in names] for team, names in (team_reviewers or {}).items()})
            if not any(cycles.values()):
                raise ChatAuditError("round robin needs at least one reviewer")
            turn: dict[str | None, int] = {key: 0 for key in cycles}
            for current in targets:
                key = None if round_robin is not None else team_of(archive, current["conversation"])
                names = cycles.get(key)
                if not names:
                    skipped.append({"item": current["id"], "why": f"no reviewers are given for team {key!r}"
                                    if key else "its conversation has no roster team"})
                    continue
                chosen, reasons = None, []
                for step in range(len(names)):
                    candidate = names[(turn[key] + step) % len(names)]
                    why = _eligible(archive, candidate, current)
                    if why is None:
                        chosen, turn[key] = candidate, (turn[key] + step + 1) % len(names)
                        break
                    reasons.append(why)
                if chosen is None:
                    skipped.append({"item": current["id"], "why": "; ".join(reasons)})
                    continue
                events.append(_assign_event(archive, current, chosen, now))
        entry = None
        if events:
            entry = audit.record(archive, operator=operator, command=ASSIGN, params=params,
                                 facts={"items": events, "by": operator})
    return {"assigned": events, "skipped": skipped, "audit_entry": entry}


# ---- escalating and closing -----------------------------------------------------------------------------

def _take(archive: Archive, current: dict[str, Any], operator: str, doing: str,
          events: list[dict[str, Any]], at: str) -> None:
    """The operator must be the item's reviewer; an unassigned item is assigned to them first (its own
    ``supervise assign`` entry), when they may take it."""
    if current["reviewer"] not in (None, operator):
        raise ChatAuditError(f"item {current['id']} is assigned to {current['reviewer']}, not {operator}: only its "
                             f"reviewer may {doing} it")
    why = _eligible(archive, operator, current)
    if why:
        raise ChatAuditError(f"{operator} cannot {doing} item {current['id']}: {why}")
    if current["reviewer"] is None:
        events.append(_assign_event(archive, current, operator, at))
        current["reviewer"] = operator


def escalate(archive: Archive, item_id: int, reason: str, *, operator: str, params: dict[str, Any],
             to: str | None = None) -> dict[str, Any]:
    """The first reviewer passes the item to a second reviewer (``to``, or assign one later), who closes
    it for good. The reason is mandatory."""
    if not (reason or "").strip():
        raise ChatAuditError("escalating needs its --reason")
    with audit.transaction(archive.db):
        current = _usable(archive, item_id)
        if current["status"] == "escalated":
            raise ChatAuditError(f"item {item_id} was already escalated by {current['first_reviewer']}: its second "
                                 "reviewer closes it for good (no issue, coaching or reported)")
        if current["status"] == "closed":
            raise ChatAuditError(f"item {item_id} was closed on {current['closed_at']}: it is final")
        now, assigned = clock.iso(), []
        _take(archive, current, operator, "escalate", assigned, now)
        second = _reviewer_name(to) if to is not None else None
        escalated = {**current, "status": "escalated", "first_reviewer": operator}
        if second is not None:
            why = _eligible(archive, second, escalated)
            if why:
                raise ChatAuditError(f"cannot escalate item {item_id} to {second}: {why}")
        if assigned:
            audit.record(archive, operator=operator, command=ASSIGN, params=params,
                         facts={"items": assigned, "by": operator})
        event = {"item": item_id, "escalated_by": operator, "escalated_at": now, "reason": reason,
                 "reviewer": second, "assigned_at": now if second else None}
        entry = audit.record(archive, operator=operator, command=ESCALATE, params=params, facts={"items": [event]})
        archive.db.execute(
            "UPDATE supervision_items SET status = 'escalated', first_reviewer = ?, escalated_at = ?,"
            " escalation_reason = ?, reviewer = ?, assigned_at = ? WHERE id = ?",
            (operator, now, reason, second, event["assigned_at"], item_id))
    return item(archive, item_id) | {"audit_entry": entry}


def close(archive: Archive, item_id: int, disposition: str, reason: str, *, operator: str, params: dict[str, Any],
          to: str | None = None) -> dict[str, Any]:
    """Close an item with a disposition and a mandatory reason, as its reviewer. ``escalated`` is
    :func:`escalate` (``to``: the second reviewer); an escalated item's second reviewer closes it for
    good with ``no issue``, ``coaching`` or ``reported``."""
    if disposition not in DISPOSITIONS:
        raise ChatAuditError(f"--disposition must be one of {', '.join(repr(d) for d in DISPOSITIONS)}, "
                             f"not {disposition!r}")
    if not (reason or "").strip():
        raise ChatAuditError("closing an item needs its --reason")
    if disposition == "escalated":
        return escalate(archive, item_id, reason, operator=operator, params=params, to=to)
    if to is not None:
        raise ChatAuditError("--to names the second reviewer of an escalation (--disposition escalated)")
    with audit.transaction(archive.db):
        current = _usable(archive, item_id)
        if current["status"] == "closed":
            raise ChatAuditError(f"item {item_id} was closed on {current['closed_at']} by {current['closed_by']} "
                                 f"({current['disposition']}): it is final")
        now, assigned = clock.iso(), []
        _take(archive, current, operator, "close", assigned, now)
        if assigned:
            audit.record(archive, operator=operator, command=ASSIGN, params=params,
                         facts={"items": assigned, "by": operator})
        event = {"item": item_id, "disposition": disposition, "reason": reason, "closed_by": operator,
                 "closed_at": now}
        entry = audit.record(archive, operator=operator, command=CLOSE, params=params, facts={"items": [event]})
        archive.db.execute("UPDATE supervision_items SET status = 'closed', disposition = ?, reason = ?,"
                           " closed_by = ?, closed_at = ? WHERE id = ?", (disposition, reason, operator, now, item_id))
    return item(archive, item_id) | {"audit_entry": entry}


# ---- the items as the audit trail records them --------------------------------------------------------

def _entries(archive: Archive, item_id: int | None = None) -> list[tuple[int, str, str, str, dict[str, Any]]]:
    """(entry id, command, at, operator, facts) of the queue's entries, oldest first (only those that
    touch ``item_id`` when given)."""
    marks = ", ".join("?" * len(COMMANDS))
    sql = (f"SELECT a.id, a.command, a.at, a.operator, a.facts FROM governance_audit a WHERE a.command IN ({marks})"
           " AND json_valid(a.facts)")
    params: list[Any] = list(COMMANDS)
    if item_id is not None:
        sql += (" AND EXISTS (SELECT 1 FROM json_each(a.facts, '$.items') j"
                " WHERE json_extract(j.value, '$.item') = ?)")
        params.append(item_id)
    return [(r[0], r[1], r[2], r[3], orjson.loads(r[4])) for r in archive.db.execute(sql + " ORDER BY a.id", params)]


def recorded(archive: Archive, entries: set[int] | None = None) -> dict[int, dict[str, Any]]:
    """item id → its state replayed from the audit entries (only ``entries`` when given): the
    :data:`STATE_FIELDS`, ``alerts`` (a sorted list) and ``opened_entry`` (None when no entry opened it)."""
    state: dict[int, dict[str, Any]] = {}
    for entry_id, command, _at, _operator, facts in _entries(archive):
        if entries is not None and entry_id not in entries:
            continue
        for event in facts.get("items") or []:
            if not isinstance(event, dict) or not isinstance(event.get("item"), int):
                continue
            s = state.setdefault(event["item"], {"opened_entry": None, "alerts": [], "status": None,
                                                 **{f: None for f in STATE_FIELDS}})
            if command == INTAKE:
                if event.get("opened"):
                    s.update(opened_entry=entry_id, conversation=event.get("conversation"), status="open",
                             opened_at=event.get("opened_at"))
                s["alerts"] = sorted(s["alerts"] + list(event.get("alerts") or []))
            elif command == ASSIGN:
                s.update(reviewer=event.get("reviewer"), assigned_at=event.get("assigned_at"))
            elif command == ESCALATE:
                s.update(status="escalated", first_reviewer=event.get("escalated_by"),
                         escalated_at=event.get("escalated_at"), escalation_reason=event.get("reason"),
                         reviewer=event.get("reviewer"), assigned_at=event.get("assigned_at"))
            elif command == CLOSE:
                s.update(status="closed", disposition=event.get("disposition"), reason=event.get("reason"),
                         closed_by=event.get("closed_by"), closed_at=event.get("closed_at"))
    return state


def _rows(archive: Archive, ids: list[int] | None = None) -> dict[int, dict[str, Any]]:
    where = f" WHERE id IN ({','.join('?' * len(ids))})" if ids is not None else ""
    rows = {r[0]: dict(zip(STATE_FIELDS, r[1:])) | {"alerts": []} for r in archive.db.execute(
        f"SELECT id, {', '.join(STATE_FIELDS)} FROM supervision_items{where} ORDER BY id", ids or [])}
    for alert, item_id in archive.db.execute("SELECT alert, item FROM supervision_item_alerts ORDER BY alert"):
        if item_id in rows:
            rows[item_id]["alerts"].append(alert)
    return rows


def _difference(row: dict[str, Any] | None, state: dict[str, Any] | None) -> str | None:
    """Why an item's row disagrees with its audit entries, or None."""
    if state is None or state["opened_entry"] is None:
        if row is None:
            return "the audit trail records changes to it, but no `supervise intake` entry opened it"
        return "it is in the queue, but no `supervise intake` entry of the audit trail opened it: added behind the tool's back"
    if row is None:
        return (f"`supervise intake` opened it (audit entry {state['opened_entry']}), but it is missing from the "
                "queue: deleted behind the tool's back")
    changed = [f for f in STATE_FIELDS if row[f] != state[f]]
    if row["alerts"] != state["alerts"]:
        changed.append("alerts")
    if changed:
        return f"its {', '.join(changed)} differ from what the audit trail records: changed behind the tool's back"
    return None


def discrepancies(archive: Archive, entries: set[int] | None = None) -> list[str]:
    """Every difference between the queue's tables and the items the audit trail records."""
    rows, states = _rows(archive), recorded(archive, entries)
    found = []
    for item_id in sorted(set(rows) | set(states)):
        why = _difference(rows.get(item_id), states.get(item_id))
        if why:
            found.append(f"supervision item {item_id}: {why}")
    orphans = archive.db.execute("SELECT count(*) FROM supervision_item_alerts ia WHERE NOT EXISTS"
                                 " (SELECT 1 FROM supervision_items i WHERE i.id = ia.item)").fetchone()[0]
    if orphans:
        found.append(f"{orphans} supervision alert(s) belong to no item of the queue")
    return found


HISTORY_ACTIONS = {INTAKE: "opened", ASSIGN: "assigned", ESCALATE: "escalated", CLOSE: "closed"}


def history(archive: Archive, item_id: int) -> list[dict[str, Any]]:
    """The item's steps as the audit trail records them, oldest first: ``{entry, at, operator, action,
    …the entry's facts about this item}`` (``action``: opened, joined, assigned, escalated, closed)."""
    steps = []
    for entry_id, command, at, operator, facts in _entries(archive, item_id):
        for event in facts.get("items") or []:
            if isinstance(event, dict) and event.get("item") == item_id:
                action = HISTORY_ACTIONS[command]
                if command == INTAKE and not event.get("opened"):
                    action = "joined"
                steps.append({"entry": entry_id, "at": at, "operator": operator, "action": action,
                              **{k: v for k, v in event.items() if k != "item"}})
    return steps


# ---- one item with its alerts in context ----------------------------------------------------------------

ALERT_KEYS = ("id", "kind", "policy", "category", "rule", "matched", "start", "end", "raised_at", "version", "run")


def show(archive: Archive, item_id: int, *, context: int = 2, sla: str | None = None,
         redact_policy: str | None = None) -> dict[str, Any]:
    """`supervise show --json`: ``{item, alerts, history}``. Each alert carries ``message`` (the message
    that raised it, with ``hit``: the text ``before``, ``matched`` and ``after`` the hit span) and
    ``context``: the ``context`` messages before and after it (a sampled conversation: its first
    2×context+1 messages). Under ``redact_policy`` message text is redacted as `messages --redact`
    does, and the hit is cut from the redacted text (:func:`_redacted_hit`)."""
    if not 0 <= context <= 50:
        raise ChatAuditError(f"--context {context} is not in the range 0..50")
    current = item(archive, item_id, sla)
    redactor = None
    if redact_policy is not None:
        from ..privacy import Redactor, load_policy

        redactor = Redactor(load_policy(redact_policy))
        redactor.learn_conversation(archive, current["conversation"])
        # a one-to-one chat's title is the other party's name
        current["conversation_title"] = redactor.text(current["conversation_title"] or "")
    alerts = []
    for row in archive.db.execute(
            f"SELECT {', '.join('a.' + k for k in ALERT_KEYS)}, a.message FROM supervision_item_alerts ia"
            " JOIN supervision_alerts a ON a.id = ia.alert WHERE ia.item = ? ORDER BY a.id", (item_id,)):
        alert = dict(zip(ALERT_KEYS, row[:-1]))
        message_id = row[-1]
        alert["message"], alert["context"] = None, []
        if message_id is not None:
            alert["message"], alert["context"] = _in_context(archive, current["conversation"], message_id, context,
                                                             alert["start"], alert["end"])
        else:
            alert["context"] = list(archive.select_messages("m.id IN (SELECT id FROM messages WHERE conversation = ?"
                                                            " ORDER BY sent_at_ms, id LIMIT ?)",
                                                            [current["conversation"], 2 * context + 1]))
        if redactor is not None:
            alert["context"] = [_redacted(redactor, m) for m in alert["context"]]
            if alert["message"]:
                alert["message"] = next(m for m in alert["context"] if m["id"] == message_id)
            if alert["matched"]:
                alert["matched"] = alert["message"]["hit"]["matched"] if alert["message"] else \
                    redactor.text(alert["matched"])
        alert["message"] = _brief(alert["message"]) if alert["message"] else None
        alert["context"] = [_brief(m) for m in alert["context"]]
        alert["purged"] = message_id is not None and alert["message"] is None  # by a retention run: the alert stays
        alerts.append(alert)
    return {"item": current, "alerts": alerts, "history": history(archive, item_id)}


def _redacted(redactor: Any, message: dict[str, Any]) -> dict[str, Any]:
    hit = message.get("hit")
    redacted = redactor.message({k: v for k, v in message.items() if k != "hit"})
    if hit is not None:
        redacted["hit"] = _redacted_hit(redactor, message, hit)
    return redacted


def _redacted_hit(redactor: Any, message: dict[str, Any], hit: dict[str, Any]) -> dict[str, Any]:
    """The hit's ``before``, ``matched`` and ``after`` cut from the redacted text: the redactor's findings
    in the whole text are replaced, and a finding that crosses the hit's edge widens the hit to hold
    all of it (so no personal value is ever split between the parts). Offsets stay the original's."""
    text = message["text"] or ""
    found = redactor.message_findings(message)

    def piece(lo: int, hi: int) -> str:
        parts, position = [], lo
        for finding in found:
            if lo <= finding.start and finding.end <= hi:
                parts += [text[position:finding.start], redactor.replacement(finding.type, finding.value)]
                position = finding.end
        return "".join(parts) + text[position:hi]

    if hit["start"] is None:
        return {**hit, "after": piece(0, len(text))}
    start, end = hit["start"], hit["end"]
    for finding in found:
        if finding.start < start < finding.end:
            start = finding.start
        if finding.start < end < finding.end:
            end = finding.end
    return {"start": hit["start"], "end": hit["end"], "before": piece(0, start), "matched": piece(start, end),
            "after": piece(end, len(text))}


MESSAGE_KEYS = ("id", "sent_at", "sender_id", "sender_name", "kind", "text")


def _brief(message: dict[str, Any]) -> dict[str, Any]:
    return {k: message.get(k) for k in MESSAGE_KEYS} | ({"hit": message["hit"]} if "hit" in message else {})


def _in_context(archive: Archive, conversation: int, message_id: int, context: int, start: int | None,
                end: int | None) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """(the hit message with its ``hit`` split, the messages around it in time order)."""
    found = list(archive.select_messages("m.id = ?", [message_id]))
    if not found:
        return None, []
    message = found[0]
    text = message["text"] or ""
    if start is not None and end is not None and 0 <= start <= end <= len(text):
        message["hit"] = {"start": start, "end": end, "before": text[:start], "matched": text[start:end],
                          "after": text[end:]}
    else:  # not a textual hit (an attachment, a time of day): the whole message is the hit
        message["hit"] = {"start": None, "end": None, "before": "", "matched": "", "after": text}
    order = "(m.sent_at_ms, m.id) {} (SELECT sent_at_ms, id FROM messages WHERE id = ?)"
    before = archive.db.execute(f"SELECT m.id FROM messages m WHERE m.conversation = ? AND {order.format('<')}"
                                " ORDER BY m.sent_at_ms DESC, m.id DESC LIMIT ?",
                                (conversation, message_id, context)).fetchall()
    after = archive.db.execute(f"SELECT m.id FROM messages m WHERE m.conversation = ? AND {order.format('>')}"
                               " ORDER BY m.sent_at_ms, m.id LIMIT ?", (conversation, message_id, context)).fetchall()
    ids = [r[0] for r in before] + [r[0] for r in after]
    around = {m["id"]: m for m in archive.select_messages(f"m.id IN ({','.join('?' * len(ids))})", ids)} if ids else {}
    return message, [*(around[r[0]] for r in reversed(before)), message, *(around[r[0]] for r in after)]
