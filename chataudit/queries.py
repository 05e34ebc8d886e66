"""The listings every front end gives for a request: the rows the CLI prints with ``--json`` and the
web API returns, built once here so that both say exactly the same thing."""

from __future__ import annotations

from itertools import islice
from pathlib import Path
from typing import Any, Callable, Iterator

from . import importer, search as search_api
from .model import parse_user_time, utc_ms, zone
from .store import Archive

CONVERSATION_COLUMNS = ["id", "platform", "native_id", "title", "type", "message_count",
                        "senders", "first_at", "last_at"]
TIMELINE_COLUMNS = ["id", "sent_at", "sender_name", "kind", "text", "amount"]
SOURCE_COLUMNS = ["id", "path", "format", "label", "message_count", "new_count", "sha256", "imported_at"]


def time_window(archive: Archive, since: str | None, until: str | None, tz: str | None) -> tuple[int | None, int | None]:
    """--since/--until as UTC ms; naive values are read in --tz, else the archive's zone (asked of the
    archive only when there is a time to read: a search without a period costs no statement for it)."""
    if not since and not until:
        if tz:
            zone(tz)  # an unknown --tz is still refused
        return None, None
    zone_ = zone(tz or importer.archive_zone_name(archive))
    since_ms = utc_ms(parse_user_time(since, zone_)) if since else None
    until_ms = utc_ms(parse_user_time(until, zone_, end_of_day=True)) if until else None
    return since_ms, until_ms


def redactor_for(policy: str | None, archive: Archive | None = None,
                 conversation: int | None = None) -> Callable[[dict[str, Any]], dict[str, Any]] | None:
    """The row transform of --redact, or None; with a conversation, its names and ids are learnt
    first, so that no row printed before the one that reveals them leaks them."""
    if policy is None:
        return None
    from .privacy import Redactor, load_policy

    redactor = Redactor(load_policy(policy))
    if archive is None:
        return redactor.message
    if conversation is not None:
        redactor.learn_conversation(archive, conversation)
    return redactor.transform(archive)


def conversations(archive: Archive) -> list[dict[str, Any]]:
    """`conversations --json`."""
    return [vars(c) for c in archive.conversations(zone(importer.archive_zone_name(archive)))]


def sources(archive: Archive) -> list[dict[str, Any]]:
    """`sources --json`."""
    return archive.sources()


def timeline(archive: Archive, conversation: int, since_ms: int | None = None, until_ms: int | None = None,
             *, after: int | None = None, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """`messages --conversation --json` rows, oldest first; ``after`` (a message id, the cursor of a
    page) starts after that message in time order, and ``limit`` bounds the page."""
    if after is None:
        rows = archive.timeline(conversation, since_ms, until_ms)
    else:
        rows = archive.select_messages(
            "m.conversation = ? AND (m.sent_at_ms, m.id) > (SELECT sent_at_ms, id FROM messages WHERE id = ?)",
            [conversation, after], since_ms, until_ms)
    return islice(rows, limit) if limit is not None else rows


def search(archive: Archive, query: str, *, platform: str | None = None, sender: str | None = None,
           conversation_ref: str | None = None, since: str | None = None, until: str | None = None,
           tz: str | None = None, limit: int = 50, redact_policy: str | None = None) -> list[dict[str, Any]]:
    """`search --json` rows, newest first."""
    since_ms, until_ms = time_window(archive, since, until, tz)
    conversation = archive.resolve_conversation(conversation_ref)["id"] if conversation_ref is not None else None
    return search_api.search_messages(archive, query, transform=redactor_for(redact_policy, archive),
                                      platform=platform, sender=sender, conversation=conversation,
                                      since_ms=since_ms, until_ms=until_ms, limit=limit)


def checkpoint(archive: Archive) -> dict[str, Any]:
    """`checkpoint --json`: the latest signed checkpoint, its origin and time-stamps."""
    from .errors import ChatAuditError
    from .ledger.log import Ledger

    ledger = Ledger(archive)
    latest = ledger.latest_checkpoint()
    if latest is None:
        raise ChatAuditError("the archive has no checkpoint yet (run `chataudit init`)")
    stamps = [{"id": tid, "tsa": url, "gen_time": gen} for tid, url, gen in archive.db.execute(
        "SELECT id, tsa_url, gen_time FROM ledger_timestamps WHERE checkpoint = ? ORDER BY id", (latest.id,))]
    return latest.as_dict() | {"origin": ledger.origin, "timestamps": stamps}


def timeline_page(archive: Archive, conversation: int, *, before: int | None = None, at: int | None = None,
                  after: int | None = None, size: int = 200) -> list[dict[str, Any]]:
    """One page of a long conversation, oldest first: the ``size`` messages after message ``after``,
    or before message ``before``, or around message ``at`` (a permalink), else the newest ``size``."""
    if after is not None:
        return list(timeline(archive, conversation, after=after, limit=size))
    if at is not None:  # start a few messages before the one asked for, so it shows in context
        bound, back, inclusive = at, min(20, size - 1), True
    else:
        bound, back, inclusive = before, size, False
    condition = "conversation = ?"
    values: list[Any] = [conversation]
    if bound is not None:
        condition += f" AND (sent_at_ms, id) {'<=' if inclusive else '<'} (SELECT sent_at_ms, id FROM messages WHERE id = ?)"
        values.append(bound)
    anchor = archive.db.execute(f"SELECT id FROM messages WHERE {condition} ORDER BY sent_at_ms DESC, id DESC"
                                " LIMIT 1 OFFSET ?", [*values, back + (1 if inclusive else 0)]).fetchone()
    rows = timeline(archive, conversation, after=anchor[0] if anchor else None)
    page = []
    for row in rows:
        if bound is not None and not inclusive and row["id"] == bound:
            break
        page.append(row)
        if len(page) >= size:
            break
    return page


PERSON_TIMELINE_COLUMNS = ["id", "sent_at", "platform", "conversation_title", "sender_name", "kind", "text"]


def people(archive: Archive) -> dict[str, Any]:
    """`people --json`: identities, the persons they are linked to, and suggested links."""
    from . import people as people_api

    return {"identities": people_api.identities(archive), "people": people_api.people(archive),
            "suggestions": people_api.suggestions(archive)}


def person_messages(archive: Archive, person: str, *, since: str | None = None, until: str | None = None,
                    tz: str | None = None, redact_policy: str | None = None) -> Iterator[dict[str, Any]]:
    """`messages --person --json` rows: one merged timeline across platforms, oldest first."""
    from . import people as people_api

    since_ms, until_ms = time_window(archive, since, until, tz)
    rows = people_api.person_timeline(archive, person, since_ms, until_ms)
    redact = redactor_for(redact_policy, archive)
    return map(redact, rows) if redact else rows


def facts(archive: Archive, *, conversation_ref: str | None = None, person: str | None = None,
          topic: str | None = None, types: Any = None, since: str | None = None, until: str | None = None,
          tz: str | None = None, tally: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """`facts --json`: ``tally`` (when given) counts what was read, for the "nothing found" note."""
    from . import facts as facts_api

    since_ms, until_ms = time_window(archive, since, until, tz)
    return facts_api.facts(archive, conversation=conversation_ref, person=person, topic=topic,
                           types=types or None, since_ms=since_ms, until_ms=until_ms,
                           tally=tally if tally is not None else {})


def match(archive: Archive, statements: list[Path], *, conversation_ref: str | None = None,
          person_ref: str | None = None, window_hours: float | None = None, tolerance: float = 0.0,
          tz: str | None = None, base: Path | None = None) -> dict[str, Any]:
    """`match --json`; ``tolerance`` is the option's percent (0–50). Statements under ``base`` (an
    upload's folder) are named by their path below it, not where the server keeps them."""
    from decimal import Decimal

    from . import match as match_api
    from .errors import ChatAuditError
    from .statements import DEFAULT_ZONE

    if conversation_ref and person_ref:
        raise ChatAuditError("give at most one of --conversation or --person")
    if not 0 <= tolerance <= 50:
        raise ChatAuditError(f"--tolerance {tolerance:g} is not in the range 0<=x<=50")
    result = match_api.match_statements(
        archive, statements, conversation=conversation_ref, person=person_ref,
        window_hours=match_api.DEFAULT_WINDOW_HOURS if window_hours is None else window_hours,
        tz=zone(tz or DEFAULT_ZONE), tolerance=Decimal(str(tolerance)) / 100)
    return _paths_below(result, base) if base is not None else result


def _paths_below(value: Any, base: Path) -> Any:
    """Every ``path`` in a report that lies under ``base``, relative to it (an upload's own name)."""
    if isinstance(value, list):
        return [_paths_below(item, base) for item in value]
    if not isinstance(value, dict):
        return value
    out = {key: _paths_below(item, base) for key, item in value.items()}
    path = out.get("path")
    if isinstance(path, str) and Path(path).is_relative_to(base):
        out["path"] = Path(path).relative_to(base).as_posix()
    return out


def pii_scan(archive: Archive, *, conversation_ref: str | None = None, person_ref: str | None = None,
             types: str | None = None, redact_policy: str | None = None) -> dict[str, Any]:
    """`pii scan --json`; under ``redact_policy`` each finding's value is what the policy makes of it."""
    from .privacy.scan import scan

    result = scan(archive, conversation=conversation_ref, person=person_ref, types=types).as_dict()
    if redact_policy is not None:
        from .privacy import Redactor, load_policy

        redactor = Redactor(load_policy(redact_policy))
        result["findings"] = [{**f, "value": redactor.replacement(f["type"], f["value"])} for f in result["findings"]]
    return result


# the fields of check, facts and match reports that name a person: de-identified as senders are
REPORT_SENDER_KEYS = frozenset({"sender", "sender_name", "sender_id", "counterparty", "title",
                                "conversation_title", "customer", "identity", "identities", "names", "name",
                                "person_name"})


def redact_report(value: Any, redact_policy: str | None) -> Any:
    """A report (check, facts, match) with every text and name de-identified, or unchanged when
    ``redact_policy`` is None. Every name in a sender field is learnt first, so it is hidden
    wherever else it shows (a message text that names the other party)."""
    if redact_policy is None:
        return value
    from .privacy import Redactor, load_policy

    redactor = Redactor(load_policy(redact_policy))
    names: list[str] = []

    def walk(item: Any) -> None:
        if isinstance(item, dict):
            for key, inner in item.items():
                if key in REPORT_SENDER_KEYS and isinstance(inner, str):
                    names.extend([inner, inner.partition(":")[2]])  # platform:sender names the sender too
                elif key in REPORT_SENDER_KEYS and isinstance(inner, list) and all(isinstance(v, str) for v in inner):
                    names.extend(inner + [v.partition(":")[2] for v in inner])
                else:
                    walk(inner)
        elif isinstance(item, (list, tuple)):
            for inner in item:
                walk(inner)

    walk(value)
    redactor.learn_names(names)
    return redactor.tree(value, REPORT_SENDER_KEYS)
