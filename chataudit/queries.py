"""The listings every front end gives for a request: the rows the CLI prints with ``--json`` and the
web API returns, built once here so that both say exactly the same thing."""

from __future__ import annotations

from itertools import islice
from typing import Any, Callable, Iterator

from . import importer, search as search_api
from .model import parse_user_time, utc_ms, zone
from .store import Archive

CONVERSATION_COLUMNS = ["id", "platform", "native_id", "title", "type", "message_count",
                        "senders", "first_at", "last_at"]
TIMELINE_COLUMNS = ["id", "sent_at", "sender_name", "kind", "text", "amount"]
SOURCE_COLUMNS = ["id", "path", "format", "label", "message_count", "new_count", "sha256", "imported_at"]


def time_window(archive: Archive, since: str | None, until: str | None, tz: str | None) -> tuple[int | None, int | None]:
    """--since/--until as UTC ms; naive values are read in --tz, else the archive's zone."""
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
