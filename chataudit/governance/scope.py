"""What a read command will read, from its parameters: conversations, a person, sources, messages,
a platform, a sender and a period. Enterprise mode checks this scope against the authorizations
before the command runs.

Each read command's scope comes from its parameters by name (the CLI's commands share them:
``--conversation``, ``--person``, ``--platform``, ``--sender``, ``--since``/``--until``); the few
commands that name what they read differently have their own resolver in :data:`RESOLVERS`. A read
command that names nothing reads the whole archive.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import ChatAuditError
from ..model import parse_user_time, utc_ms, zone
from ..store import Archive
from ..store.sqlite import iso_from_ms


@dataclass(frozen=True)
class Scope:
    """Messages in any of conversations / sources / messages / the person's timeline (all
    messages when none is given), narrowed by platform, sender and [since, until)."""

    conversations: tuple[int, ...] = ()
    sources: tuple[int, ...] = ()
    messages: tuple[int, ...] = ()
    person: str | None = None
    platform: str | tuple[str, ...] | None = None  # one, or several
    sender: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None

    def sql(self, archive: Archive) -> tuple[str, str, list[Any]]:
        """(WITH clause or '', condition over ``messages m``, parameters)."""
        with_clause, parts, params = "", [], []
        if self.conversations:
            parts.append(f"m.conversation IN ({','.join('?' * len(self.conversations))})")
            params += self.conversations
        if self.sources:
            parts.append(f"m.id IN (SELECT message FROM sightings WHERE source IN ({','.join('?' * len(self.sources))}))")
            params += self.sources
        if self.messages:
            parts.append(f"m.id IN ({','.join('?' * len(self.messages))})")
            params += self.messages
        if self.person is not None:
            with_clause, condition, person_params = person_sql(archive, self.person)
            parts.append(condition)
            params = person_params + params  # the WITH clause's parameters come first
        where = "(" + " OR ".join(parts) + ")" if parts else "1"
        if isinstance(self.platform, tuple):  # several (quality --platform A --platform B)
            where += f" AND m.platform IN ({','.join('?' * len(self.platform))})"
            params += self.platform
        for clause, value in (("m.platform = ?", None if isinstance(self.platform, tuple) else self.platform),
                              ("m.sent_at_ms >= ?", self.since_ms), ("m.sent_at_ms < ?", self.until_ms)):
            if value is not None:
                where += f" AND {clause}"
                params.append(value)
        if self.sender is not None:
            where += " AND (m.sender_id = ? OR m.sender_name = ?)"
            params += [self.sender, self.sender]
        return with_clause, where, params

    def describe(self, tz: Any = None) -> dict[str, Any]:
        return {"conversations": list(self.conversations), "sources": list(self.sources),
                "messages": list(self.messages), "person": self.person, "platform": self.platform,
                "sender": self.sender, "since": iso_from_ms(self.since_ms, tz=tz), "until": iso_from_ms(self.until_ms, tz=tz)}


def person_sql(archive: Archive, ref: str) -> tuple[str, str, list[Any]]:
    """The person's timeline as `messages --person` reads it: what they said, and both sides of
    their one-to-one conversations."""
    from ..people import SENDER_KEY, resolve_person

    _, ids = resolve_person(archive, ref)
    if not ids:
        return "", "0", []
    pairs = " OR ".join(f"(m.platform = ? AND {SENDER_KEY} = ?)" for _ in ids)
    with_clause = (
        f"WITH gov_mine AS (SELECT m.id, m.conversation FROM messages m WHERE {pairs}),"
        " gov_private AS (SELECT m.conversation FROM messages m WHERE m.conversation IN"
        "   (SELECT DISTINCT conversation FROM gov_mine)"
        "   GROUP BY m.conversation HAVING count(DISTINCT coalesce(m.sender_id, m.sender_name)) <= 2) "
    )
    return (with_clause, "(m.id IN (SELECT id FROM gov_mine) OR m.conversation IN (SELECT conversation FROM gov_private))",
            [v for pair in ids for v in pair])


# ---- from a command's parameters -----------------------------------------------------------------

def window(archive: Archive, since: str | None, until: str | None, tz_name: str | None) -> tuple[int | None, int | None]:
    """--since/--until as the CLI reads them (naive times in --tz, else the archive's zone)."""
    from ..importer import archive_zone_name

    zone_ = zone(tz_name or archive_zone_name(archive))
    return (utc_ms(parse_user_time(since, zone_)) if since else None,
            utc_ms(parse_user_time(until, zone_, end_of_day=True)) if until else None)


def _refs(params: dict[str, Any], *names: str) -> list[str]:
    found: list[str] = []
    for name in names:
        value = params.get(name)
        if isinstance(value, (list, tuple)):
            found += [str(v) for v in value if v]
        elif value:
            found.append(str(value))
    return found


def generic(archive: Archive, params: dict[str, Any], tz_name: str | None = None) -> Scope:
    conversations = tuple(archive.resolve_conversation(ref)["id"]
                          for ref in _refs(params, "conversation_ref", "conversation_refs", "conversation", "conversations"))
    persons = _refs(params, "person_ref", "person")
    since_ms, until_ms = window(archive, params.get("since"), params.get("until"), tz_name or params.get("tz"))
    platforms = tuple(dict.fromkeys(_refs(params, "platform", "platforms")))
    return Scope(conversations=conversations, person=persons[0] if persons else None,
                 platform=platforms if len(platforms) > 1 else (platforms[0] if platforms else None),
                 sender=params.get("sender"), since_ms=since_ms, until_ms=until_ms)


def quality(archive: Archive, params: dict[str, Any]) -> Scope:
    """The report's period, widened to the --compare-to period it also reads."""
    tz_name = params.get("tz") or archive.setting("tz") or "Asia/Shanghai"
    scope = generic(archive, params, tz_name)
    compare_to = params.get("compare_to")
    if not compare_to or ".." not in compare_to:
        return scope
    before_since, _, before_until = compare_to.partition("..")
    since_ms, until_ms = window(archive, before_since or None, before_until or None, tz_name)
    widened_since = None if scope.since_ms is None or since_ms is None else min(scope.since_ms, since_ms)
    widened_until = None if scope.until_ms is None or until_ms is None else max(scope.until_ms, until_ms)
    return Scope(scope.conversations, scope.sources, scope.messages, scope.person, scope.platform, scope.sender,
                 widened_since, widened_until)


def check(archive: Archive, params: dict[str, Any]) -> Scope:
    from ..check import resolve_scope

    try:
        resolved = resolve_scope(archive, params["source"])
    except ChatAuditError:
        if Path(str(params["source"])).exists():
            return Scope(messages=(-1,))  # an export file checked without importing it: nothing of the archive
        raise
    if resolved.kind == "source":
        return Scope(sources=tuple(resolved.source_ids))
    return Scope(conversations=tuple(resolved.params))


def compare(archive: Archive, params: dict[str, Any]) -> Scope:
    """Each copy: a source label, an export file (the operator's own; not read from the archive),
    a conversation, or LABEL@CONVERSATION. A copy named otherwise counts as the whole archive."""
    conversations: list[int] = []
    sources: list[int] = []
    for ref in _refs(params, "copies"):
        labelled = [r[0] for r in archive.db.execute("SELECT id FROM sources WHERE label = ?", (ref,))]
        if labelled:
            sources += labelled
            continue
        if Path(ref).exists():
            continue
        try:
            conversations.append(archive.resolve_conversation(ref)["id"])
            continue
        except ChatAuditError:
            pass
        if "@" in ref:
            try:
                conversations.append(archive.resolve_conversation(ref.rsplit("@", 1)[1])["id"])
                continue
            except ChatAuditError:
                pass
        return Scope()
    if not conversations and not sources:
        return Scope(messages=(-1,))  # only files: nothing is read from the archive
    return Scope(conversations=tuple(conversations), sources=tuple(sources))


def proof(archive: Archive, params: dict[str, Any]) -> Scope:
    return Scope(messages=(int(params["message_id"]),))


def match(archive: Archive, params: dict[str, Any]) -> Scope:
    """Claims anywhere in the conversation or person given (no period: the window is per claim)."""
    return generic(archive, {k: v for k, v in params.items() if k not in ("since", "until", "tz")})


def review(archive: Archive, params: dict[str, Any]) -> Scope:
    """The conversation of the review or session named, or the --week an assignment reads."""
    from ..reviews.sessions import read_scope

    return read_scope(archive, params)


def supervise_show(archive: Archive, params: dict[str, Any]) -> Scope:
    """The conversation of the review item shown."""
    from ..supervision.queue import conversation_of

    return Scope(conversations=(conversation_of(archive, int(params["item_id"])),))


RESOLVERS: dict[str, Callable[[Archive, dict[str, Any]], Scope]] = {
    "review show": review, "review score": review, "review calibrate": review, "review assign": review,
    "quality": quality,
    "check": check,
    "compare": compare,
    "proof": proof,
    "match": match,
    "supervise show": supervise_show,
}


def scope_for(command: str, params: dict[str, Any], archive: Archive) -> Scope:
    return RESOLVERS.get(command, generic)(archive, params)
