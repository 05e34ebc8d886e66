"""Written authorizations to read employees' messages, and the check enterprise mode makes.

An authorization records the signed document (its bytes and SHA-256), whom it covers (subjects:
roster ids), what (platforms, conversations; none listed means all), when (a period of message
times; none means any time), why (purpose), who granted it and until when it may be used. It is
recorded once and never changed: it is revoked, and another is added. The SHA-256 of its canonical
record goes into its audit entry, and an authorization whose row no longer matches that entry is
not used.

The check (:func:`check`) groups the messages a request would read by employee, platform and
conversation, with the first and last instant of each group, and needs for every group one active
authorization that names the employee and covers the platform, the conversation and both instants.
When it fails it says, per employee, exactly what is missing: subject, expiry, revoked, platform,
conversation or period.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ..errors import ChatAuditError
from ..model import parse_user_time, utc_ms, zone
from ..store import Archive
from ..store.sqlite import iso_from_ms
from . import audit, clock
from .roster import MEMBER_OF_MESSAGE, check_unchanged, load_member_keys
from .scope import Scope

ADD_COMMAND, REVOKE_COMMAND = "auth add", "auth revoke"
SCOPE_KINDS = ("platform", "conversation", "period")


@dataclass(frozen=True)
class Authorization:
    id: int
    subjects: tuple[str, ...]
    platforms: tuple[str, ...]        # empty: every platform
    conversations: tuple[int, ...]    # empty: every conversation
    period: str | None
    period_start_ms: int | None
    period_end_ms: int | None         # exclusive
    expires: str
    expires_at_ms: int
    purpose: str
    granted_by: str
    recorded_by: str
    recorded_at: str
    document_name: str
    document_sha256: str
    record_sha256: str
    revoked_at: str | None = None
    revoked_by: str | None = None
    revoke_reason: str | None = None
    tampered: str | None = None       # why the row cannot be trusted, if it cannot

    def status(self, now_ms: int) -> str:
        if self.tampered:
            return "tampered"
        if self.revoked_at:
            return "revoked"
        return "expired" if now_ms >= self.expires_at_ms else "active"

    def missing_for(self, group: "Group") -> list[str]:
        """The scope dimensions of this authorization that do not cover the group."""
        missing = []
        if self.platforms and group.platform not in self.platforms:
            missing.append("platform")
        if self.conversations and group.conversation not in self.conversations:
            missing.append("conversation")
        if ((self.period_start_ms is not None and group.first_ms < self.period_start_ms)
                or (self.period_end_ms is not None and group.last_ms >= self.period_end_ms)):
            missing.append("period")
        return missing

    def as_dict(self, now_ms: int, tz: Any = None) -> dict[str, Any]:
        return {
            "id": self.id, "status": self.status(now_ms), "subjects": list(self.subjects),
            "platforms": list(self.platforms), "conversations": list(self.conversations), "period": self.period,
            "period_start": iso_from_ms(self.period_start_ms, tz=tz),
            "period_end": iso_from_ms(self.period_end_ms, tz=tz), "expires": self.expires,
            "expires_at": iso_from_ms(self.expires_at_ms, tz=tz), "purpose": self.purpose,
            "granted_by": self.granted_by, "recorded_by": self.recorded_by, "recorded_at": self.recorded_at,
            "document": {"name": self.document_name, "sha256": self.document_sha256},
            "record_sha256": self.record_sha256, "revoked_at": self.revoked_at, "revoked_by": self.revoked_by,
            "revoke_reason": self.revoke_reason, "tampered": self.tampered,
        }


def record_digest(subjects: Iterable[str], platforms: Iterable[str], conversations: Iterable[int],
                  period_start_ms: int | None, period_end_ms: int | None, expires_at_ms: int, purpose: str,
                  granted_by: str, document_sha256: str) -> str:
    """SHA-256 of the canonical record: what the authorization's audit entry commits to."""
    doc = {"subjects": sorted(subjects), "platforms": sorted(platforms), "conversations": sorted(conversations),
           "period_start_ms": period_start_ms, "period_end_ms": period_end_ms, "expires_at_ms": expires_at_ms,
           "purpose": purpose, "granted_by": granted_by, "document_sha256": document_sha256}
    return hashlib.sha256(audit.canonical_json(doc).encode()).hexdigest()


# ---- recording --------------------------------------------------------------------------------------

def parse_scopes(archive: Archive, scopes: Iterable[str], tz: Any) -> dict[str, Any]:
    """``platform:A[,B]``, ``conversation:REF`` (one per --scope; any ref `conversations` takes),
    ``period:SINCE..UNTIL`` (either end may be left open; a bare date as UNTIL includes that day)."""
    platforms: set[str] = set()
    conversations: set[int] = set()
    period = None
    for text in scopes:
        kind, sep, value = text.partition(":")
        kind, value = kind.strip().lower(), value.strip()
        if not sep or kind not in SCOPE_KINDS or not value:
            raise ChatAuditError(f"--scope {text!r}: use platform:NAME[,NAME], conversation:REF or "
                                 "period:SINCE..UNTIL")
        if kind == "platform":
            platforms.update(p.strip() for p in value.split(",") if p.strip())
        elif kind == "conversation":
            conversations.add(archive.resolve_conversation(value)["id"])
        else:
            if period is not None:
                raise ChatAuditError("give one period:SINCE..UNTIL per authorization")
            since, dots, until = value.partition("..")
            if not dots or not (since or until):
                raise ChatAuditError(f"--scope {text!r}: a period is SINCE..UNTIL, e.g. 2026-01-01..2026-03-31")
            start = utc_ms(parse_user_time(since, tz)) if since else None
            end = utc_ms(parse_user_time(until, tz, end_of_day=True)) if until else None
            if start is not None and end is not None and end <= start:
                raise ChatAuditError(f"--scope {text!r}: the period ends before it starts")
            period = (value, start, end)
    return {"platforms": sorted(platforms), "conversations": sorted(conversations), "period": period}


def add(archive: Archive, *, subjects: Iterable[str], document: str | Path, purpose: str, expires: str,
        granted_by: str, scopes: Iterable[str] = (), operator: str, params: dict[str, Any]) -> Authorization:
    """Record a written authorization (and its audit entry, in one transaction)."""
    from ..importer import archive_zone_name

    tz = zone(archive_zone_name(archive))
    subjects = sorted(set(subjects))
    if not subjects:
        raise ChatAuditError("an authorization names at least one --subject (a roster id)")
    roster = {r["id"]: r for r in check_unchanged(archive)}
    if not roster:
        raise ChatAuditError("the roster is empty: set it first with `chataudit roster set FILE`")
    unknown = [s for s in subjects if s not in roster]
    if unknown:
        raise ChatAuditError(f"not on the roster: {', '.join(unknown)} (subjects are roster ids; see `chataudit roster`)")
    if not purpose.strip() or not granted_by.strip():
        raise ChatAuditError("an authorization needs its --purpose and who granted it (--granted-by)")
    path = Path(document)
    if not path.is_file():
        raise ChatAuditError(f"{document}: no such file (--document is the signed authorization's scan)")
    data = path.read_bytes()
    if not data:
        raise ChatAuditError(f"{document}: the file is empty")
    document_sha256 = hashlib.sha256(data).hexdigest()
    expires_at_ms = utc_ms(parse_user_time(expires, tz, end_of_day=True))
    if expires_at_ms <= clock.now_ms():
        raise ChatAuditError(f"--expires {expires}: that is already past")
    parsed = parse_scopes(archive, scopes, tz)
    period_text, start, end = parsed["period"] or (None, None, None)
    digest = record_digest(subjects, parsed["platforms"], parsed["conversations"], start, end, expires_at_ms,
                           purpose, granted_by, document_sha256)
    db = archive.db
    with audit.transaction(db):
        auth_id = db.execute(
            "INSERT INTO governance_authorizations (purpose, granted_by, recorded_by, recorded_at, expires,"
            " expires_at_ms, period, period_start_ms, period_end_ms, document_name, document_sha256, document,"
            " record_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (purpose, granted_by, operator, clock.iso(), expires, expires_at_ms, period_text, start, end, path.name,
             document_sha256, data, digest)).lastrowid
        db.executemany("INSERT INTO governance_authorization_scope (auth_id, kind, value) VALUES (?, ?, ?)",
                       [(auth_id, "subject", s) for s in subjects]
                       + [(auth_id, "platform", p) for p in parsed["platforms"]]
                       + [(auth_id, "conversation", str(c)) for c in parsed["conversations"]])
        audit.record(archive, operator=operator, command=ADD_COMMAND, params=params,
                     facts={"authorization": auth_id, "record_sha256": digest, "document_sha256": document_sha256,
                            "document_bytes": len(data), "subjects": subjects})
    return get(archive, auth_id)


def revoke(archive: Archive, auth_id: int, reason: str, *, operator: str, params: dict[str, Any]) -> Authorization:
    current = get(archive, auth_id)
    if current.revoked_at:
        raise ChatAuditError(f"authorization #{auth_id} was already revoked on {current.revoked_at}")
    db = archive.db
    with audit.transaction(db):
        db.execute("UPDATE governance_authorizations SET revoked_at = ?, revoked_by = ?, revoke_reason = ? WHERE id = ?",
                   (clock.iso(), operator, reason, auth_id))
        audit.record(archive, operator=operator, command=REVOKE_COMMAND, params=params,
                     facts={"authorization": auth_id, "reason": reason})
    return get(archive, auth_id)


# ---- reading ------------------------------------------------------------------------------------------

ROW_COLUMNS = ("id, period, period_start_ms, period_end_ms, expires, expires_at_ms, purpose, granted_by, recorded_by,"
               " recorded_at, document_name, document_sha256, record_sha256, revoked_at, revoked_by, revoke_reason")


def authorizations(archive: Archive, ids: Iterable[int] | None = None) -> list[Authorization]:
    """Authorizations (all, or those with the given ids), each checked against its audit entries."""
    db = archive.db
    sql = f"SELECT {ROW_COLUMNS} FROM governance_authorizations"
    params: list[Any] = []
    if ids is not None:
        ids = list(ids)
        if not ids:
            return []
        sql += f" WHERE id IN ({','.join('?' * len(ids))})"
        params = ids
    scope: dict[int, dict[str, list[str]]] = {}
    for auth_id, kind, value in db.execute("SELECT auth_id, kind, value FROM governance_authorization_scope"):
        scope.setdefault(auth_id, {}).setdefault(kind, []).append(value)
    revoked_in_trail = {row[0] for row in db.execute(
        "SELECT json_extract(facts, '$.authorization') FROM governance_audit WHERE command = ? AND json_valid(facts)",
        (REVOKE_COMMAND,))}
    result = []
    for row in db.execute(sql + " ORDER BY id", params).fetchall():
        (auth_id, period, start, end, expires, expires_ms, purpose, granted_by, recorded_by, recorded_at,
         document_name, document_sha256, record_sha256, revoked_at, revoked_by, revoke_reason) = row
        kinds = scope.get(auth_id, {})
        subjects = tuple(sorted(kinds.get("subject", [])))
        platforms = tuple(sorted(kinds.get("platform", [])))
        conversations = tuple(sorted(int(c) for c in kinds.get("conversation", [])))
        recomputed = record_digest(subjects, platforms, conversations, start, end, expires_ms, purpose, granted_by,
                                   document_sha256)
        entry = audit.latest_facts(archive, ADD_COMMAND, "authorization", auth_id)
        tampered = None
        if entry is None:
            tampered = "no `auth add` entry of the audit trail records it"
        elif recomputed != record_sha256 or entry[1].get("record_sha256") != recomputed:
            tampered = f"its record no longer matches what `auth add` recorded (audit entry {entry[0]})"
        if auth_id in revoked_in_trail and not revoked_at:
            tampered = "the audit trail records its revocation, but the row says it is not revoked"
        result.append(Authorization(auth_id, subjects, platforms, conversations, period, start, end, expires, expires_ms,
                                    purpose, granted_by, recorded_by, recorded_at, document_name, document_sha256,
                                    record_sha256, revoked_at, revoked_by, revoke_reason, tampered))
    return result


def get(archive: Archive, auth_id: int) -> Authorization:
    found = authorizations(archive, [auth_id])
    if not found:
        raise ChatAuditError(f"no authorization #{auth_id} (see `chataudit auth list`)")
    return found[0]


def document(archive: Archive, auth_id: int) -> tuple[str, bytes, bool]:
    """The stored scan: (file name, bytes, whether they still hash to the recorded SHA-256)."""
    row = archive.db.execute("SELECT document_name, document, document_sha256 FROM governance_authorizations"
                             " WHERE id = ?", (auth_id,)).fetchone()
    if row is None:
        raise ChatAuditError(f"no authorization #{auth_id} (see `chataudit auth list`)")
    return row[0], row[1], hashlib.sha256(row[1]).hexdigest() == row[2]


def archive_zone(archive: Archive) -> Any:
    """The archive's zone: authorizations' days and periods are read in it."""
    from ..importer import archive_zone_name

    return zone(archive_zone_name(archive))


def as_json(archive: Archive, authorization: Authorization) -> dict[str, Any]:
    """One authorization as `auth add|revoke --json` prints it (status as of now)."""
    return authorization.as_dict(clock.now_ms(), archive_zone(archive))


def listing(archive: Archive, *, active: bool = False) -> list[dict[str, Any]]:
    """`auth list [--active] --json`: every authorization with its status (active, expired, revoked, tampered)."""
    now_ms, tz = clock.now_ms(), archive_zone(archive)
    docs = [a.as_dict(now_ms, tz) for a in authorizations(archive)]
    return [d for d in docs if d["status"] == "active"] if active else docs


def checked_document(archive: Archive, auth_id: int) -> tuple[str, bytes]:
    """The stored scan (name, bytes), refused when it no longer matches its recorded SHA-256."""
    name, data, intact = document(archive, auth_id)
    if not intact:
        raise ChatAuditError(f"the stored document of authorization #{auth_id} no longer matches its SHA-256")
    return name, data


# ---- the check -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Group:
    """An employee's messages on one platform in one conversation within the request's scope."""

    member: str
    platform: str
    conversation: int
    messages: int
    first_ms: int
    last_ms: int


@dataclass
class Decision:
    ok: bool
    used: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    def message(self, operator: str, shown: int = 5) -> str:
        problems = self.problems[:shown]
        if len(self.problems) > shown:
            problems.append(f"… and {len(self.problems) - shown} more employees (`chataudit audit --json` has them all).")
        return (f"not authorized (enterprise mode, operator {operator}): " + " ".join(problems)
                + " Narrow the request (--conversation, --platform, --since/--until) or record an authorization"
                " with `chataudit auth add --subject ID --document SCAN …`.")


def check(archive: Archive, scope: Scope, now_ms: int) -> Decision:
    """May a request with this scope read what it would read? One pass over the scope's messages."""
    from ..importer import archive_zone_name

    tz = zone(archive_zone_name(archive))
    rows = check_unchanged(archive)
    request = scope.describe(tz)
    if not load_member_keys(archive, rows):
        return Decision(True, summary={"request": request, "employees": []})
    with_clause, where, params = scope.sql(archive)
    groups = [Group(*row) for row in archive.db.execute(
        f"{with_clause}SELECT member, platform, conversation, count(*), min(sent_at_ms), max(sent_at_ms) FROM"
        f" (SELECT {MEMBER_OF_MESSAGE} AS member, m.platform, m.conversation, m.sent_at_ms FROM messages m"
        f"  WHERE {where}) WHERE member IS NOT NULL GROUP BY member, platform, conversation ORDER BY member", params)]
    by_member: dict[str, list[Group]] = {}
    for group in groups:
        by_member.setdefault(group.member, []).append(group)
    summary = {"request": request, "employees": sorted(by_member),
               "employee_messages": sum(g.messages for g in groups)}
    if not groups:
        return Decision(True, summary=summary)
    names = {r["id"]: r["name"] for r in rows}
    candidates = authorizations(archive, [r[0] for r in archive.db.execute(
        f"SELECT DISTINCT auth_id FROM governance_authorization_scope WHERE kind = 'subject'"
        f" AND value IN ({','.join('?' * len(by_member))})", list(by_member))])
    titles = {r[0]: f"{r[1]}:{r[2]}" + (f" ({r[3]})" if r[3] else "") for r in archive.db.execute(
        "SELECT id, platform, native_id, title FROM conversations")}
    def outside(member: str, groups: list[Group], start: int | None, end: int | None) -> tuple[int, int, int]:
        """(count, first, last) of the member's messages in these groups outside [start, end)."""
        conversations = sorted({g.conversation for g in groups})
        return archive.db.execute(
            f"{with_clause}SELECT count(*), min(sent_at_ms), max(sent_at_ms) FROM"
            f" (SELECT {MEMBER_OF_MESSAGE} AS member, m.conversation, m.sent_at_ms FROM messages m WHERE {where})"
            f" WHERE member = ? AND conversation IN ({','.join('?' * len(conversations))})"
            " AND (sent_at_ms < ? OR sent_at_ms >= ?)",
            [*params, member, *conversations, -(1 << 62) if start is None else start,
             (1 << 62) if end is None else end]).fetchone()

    decision = Decision(True, summary=summary)
    for member, member_groups in by_member.items():
        mine = [a for a in candidates if member in a.subjects]
        active = [a for a in mine if a.status(now_ms) == "active"]
        uncovered = []
        for group in member_groups:
            covering = next((a for a in active if not a.missing_for(group)), None)
            if covering is None:
                uncovered.append(group)
            elif covering.id not in decision.used:
                decision.used.append(covering.id)
        if uncovered:
            decision.ok = False
            decision.problems.append(_explain(member, names.get(member, member), uncovered, mine, now_ms, tz, titles,
                                              outside))
    if not decision.ok:
        decision.used = []
    return decision


def _explain(member: str, name: str, groups: list[Group], mine: list[Authorization], now_ms: int, tz: Any,
             titles: dict[int, str], outside: Any) -> str:
    who = f"{name} (roster {member})" if name != member else f"roster {member}"
    count = sum(g.messages for g in groups)
    first, last = min(g.first_ms for g in groups), max(g.last_ms for g in groups)
    reads = (f"{who}: this reads {count} of their messages ({_day(first, tz)} – {_day(last, tz)})")
    if not mine:
        return f"{reads}; no authorization names {member} (missing: subject)."

    def badness(a: Authorization) -> tuple[int, int, int]:
        status = a.status(now_ms)
        return (0 if status == "active" else 1, sum(len(a.missing_for(g)) for g in groups), -a.expires_at_ms)

    best = min(mine, key=badness)
    status = best.status(now_ms)
    missing: list[str] = []
    if status == "tampered":
        missing.append(f"a trustworthy authorization (#{best.id} cannot be used: {best.tampered})")
    elif status == "revoked":
        missing.append(f"revoked (#{best.id} was revoked on {best.revoked_at} by {best.revoked_by}"
                       + (f": {best.revoke_reason}" if best.revoke_reason else "") + ")")
    elif status == "expired":
        missing.append(f"expiry (#{best.id} expired on {iso_from_ms(best.expires_at_ms, tz=tz)})")
    platforms = sorted({g.platform for g in groups if "platform" in best.missing_for(g)})
    if platforms:
        missing.append(f"platform ({', '.join(platforms)}; #{best.id} covers {', '.join(best.platforms)})")
    conversations = sorted({g.conversation for g in groups if "conversation" in best.missing_for(g)})
    if conversations:
        shown = ", ".join(f"{c} {titles.get(c, '')}".strip() for c in conversations[:5])
        more = f" and {len(conversations) - 5} more" if len(conversations) > 5 else ""
        missing.append(f"conversation ({shown}{more} not covered by #{best.id})")
    beyond = [g for g in groups if "period" in best.missing_for(g)]
    if beyond:
        count, first, last = outside(member, beyond, best.period_start_ms, best.period_end_ms)
        missing.append(f"period ({count} messages from {_day(first, tz)} to {_day(last, tz)} lie outside "
                       f"#{best.id}'s {best.period})")
    return f"{reads}; authorization #{best.id} does not cover it (missing: {'; '.join(missing)})."


def _day(ms: int, tz: Any) -> str:
    return (iso_from_ms(ms, tz=tz) or "")[:10]
