"""The canonical records every format yields and every capability reads.

A format turns an export into a stream of :class:`Conversation` and :class:`Message`
records; nothing downstream knows which exporter wrote the file.  Instants are aware
datetimes that keep the offset the export showed (so a report can say "15:23 in the
sender's zone") while the store compares them as UTC.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Any, Iterator, Mapping, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson


class Kind(StrEnum):
    """What a message is. Formats map every native type to one of these, never drop it."""

    TEXT = "text"
    IMAGE = "image"
    VOICE = "voice"
    VIDEO = "video"
    FILE = "file"
    STICKER = "sticker"
    LINK = "link"
    LOCATION = "location"
    CONTACT = "contact"  # a shared contact / business card
    TRANSFER = "transfer"  # money transfer with an amount
    RED_PACKET = "red_packet"
    CALL = "call"
    POLL = "poll"
    CHAT_HISTORY = "chat_history"  # a forwarded bundle of messages
    RECALL = "recall"  # "X recalled a message": an event, kept as one
    SYSTEM = "system"  # joins, renames, group notices, encryption banners …
    OTHER = "other"


class ConversationType(StrEnum):
    PRIVATE = "private"
    GROUP = "group"
    CHANNEL = "channel"
    THREAD = "thread"  # an e-mail thread
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file that travelled with a message. The bytes stay where they are; we keep their hash."""

    name: str | None = None
    size: int | None = None
    sha256: str | None = None
    mime: str | None = None
    path: str | None = None  # as written in the export (relative paths stay relative)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__ if getattr(self, k) is not None}


@dataclass(frozen=True, slots=True)
class Conversation:
    """Optional header record: title, type and members of a conversation (yielded before its messages)."""

    platform: str
    conversation_id: str
    title: str | None = None
    type: ConversationType = ConversationType.UNKNOWN
    members: tuple[tuple[str | None, str | None], ...] = ()  # (member id, display name)
    # other native keys that name this same conversation (an e-mail thread's Message-IDs): the store
    # files the conversation under whichever stored conversation already owns one of them
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Message:
    """One message as the export showed it, plus where it came from in the file."""

    platform: str
    conversation_id: str
    sent_at: datetime  # aware; tzinfo is the offset the export used
    kind: Kind = Kind.TEXT
    text: str = ""
    sender_id: str | None = None
    sender_name: str | None = None
    conversation_title: str | None = None
    message_id: str | None = None  # the platform's own id, when the export has one
    reply_to: str | None = None  # message_id of the message replied to
    edited_at: datetime | None = None
    amount: str | None = None  # decimal string, e.g. "5000.00" (never a float)
    currency: str | None = None  # ISO 4217, e.g. "CNY"
    attachments: tuple[Attachment, ...] = ()
    is_me: bool | None = None  # sent by the person who made the export
    position: int | None = None  # line number (1-based) or record index in the source file
    extras: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.sent_at.tzinfo is None:
            raise ValueError("Message.sent_at must be timezone-aware")

    def content_hash(self) -> str:
        """SHA-256 of the normalized message: what it says, who, where and when — not where it was read from.

        Two exports of the same message hash alike, so re-imports and overlapping exports add
        nothing new. Provenance (file, position, label) is deliberately left out.
        """
        return hashlib.sha256(canonical_bytes(self)).hexdigest()


Record = Union[Conversation, Message]


def normalize_text(text: str) -> str:
    """NFC, LF line ends, no trailing blanks: the differences exporters introduce, not the writer."""
    text = unicodedata.normalize("NFC", text)
    if "\n" not in text and "\r" not in text:  # one line, most messages: the same result, sooner
        return text.rstrip()
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


def storage_problem(message: Message) -> str | None:
    """Why the archive cannot store a message as it is (None when it can): an instant out of range,
    or an attachment or extra the canonical JSON cannot hold (an integer beyond 64 bits)."""
    problem = instant_problem(message)
    if problem or not (message.attachments or message.extras):
        return problem
    try:
        orjson.dumps([[a.as_dict() for a in message.attachments], message.extras])
    except TypeError as error:  # orjson.JSONEncodeError
        return f"a value the archive cannot store: {error}"
    return None


# ---- what cannot be decoded is kept, escaped, and said --------------------------------------------

# A lone UTF-16 surrogate ("\ud800" in JSON) is no character: SQLite cannot store it and the JSON
# libraries turn it into "?" or refuse the file.  Readers that cannot hand it over as a Python
# surrogate write UNDECODABLE_MARK + its four hex digits instead (U+FDD0 is a noncharacter that
# never occurs in text); :func:`escape_undecodable` turns both into the visible text "\ud800" and
# notes it in the record's extras under UNDECODABLE_NOTE.
UNDECODABLE_MARK = "\ufdd0"
UNDECODABLE_NOTE = "undecodable"
_UNDECODABLE = re.compile(r"[\ud800-\udfff]|\ufdd0([0-9A-Fa-f]{4})")


def _escaped(value: Any) -> tuple[Any, bool]:
    if isinstance(value, str):
        if not _UNDECODABLE.search(value):
            return value, False
        return _UNDECODABLE.sub(lambda m: "\\u" + (m.group(1) or f"{ord(m.group(0)):04x}").lower(), value), True
    if isinstance(value, (list, tuple)):
        items = [_escaped(v) for v in value]
        changed = any(c for _, c in items)
        return (type(value)(v for v, _ in items) if changed else value), changed
    if isinstance(value, Mapping):
        pairs = [(_escaped(k), _escaped(v)) for k, v in value.items()]
        changed = any(kc or vc for (_, kc), (_, vc) in pairs)
        return ({k: v for (k, _), (v, _) in pairs} if changed else value), changed
    if isinstance(value, Attachment):
        fields = {k: _escaped(getattr(value, k)) for k in value.__slots__}
        changed = any(c for _, c in fields.values())
        return (Attachment(**{k: v for k, (v, _) in fields.items()}) if changed else value), changed
    return value, False


_MARK_UTF8 = UNDECODABLE_MARK.encode()


def _plain(message: Message) -> bool:
    """True when nothing in the message needs escaping (the common case, checked fast)."""
    strings = (message.text, message.sender_id, message.sender_name, message.conversation_title,
               message.conversation_id, message.message_id, message.reply_to, message.amount, message.currency)
    if _UNDECODABLE.search("".join(s for s in strings if s)):
        return False
    if message.attachments or message.extras:
        try:
            dumped = orjson.dumps([[a.as_dict() for a in message.attachments], message.extras], default=str)
        except TypeError:  # a surrogate (orjson refuses it), or something only the slow path can judge
            return False
        return _MARK_UTF8 not in dumped
    return True


def escape_undecodable(record: Record) -> Record:
    """The record with every lone surrogate written as visible "\\udXXX" text and, when there was one,
    ``extras["undecodable"]`` saying so (the content hash covers the escaped text)."""
    if isinstance(record, Message) and _plain(record):
        return record
    changes = {}
    for name in record.__slots__:
        value, changed = _escaped(getattr(record, name))
        if changed:
            changes[name] = value
    if not changes:
        return record
    if isinstance(record, Message):
        extras = dict(changes.get("extras", record.extras))
        extras[UNDECODABLE_NOTE] = ("text that could not be decoded kept as \\uXXXX escapes: lone UTF-16 "
                                    "surrogates, or \\udc80-\\udcff for the bytes 80-ff that were not UTF-8")
        changes["extras"] = extras
    return replace(record, **changes)


def utc_ms(moment: datetime) -> int:
    """Milliseconds since the Unix epoch, the store's instant."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

# The instants an archive stores.  The full-text index keys a message by sent_at seconds × 2³¹ in a
# 64-bit rowid, which overflows outside 1833-11-24 … 2106-02-07; the supported range is the round,
# narrower one below, checked once for every format (by the importer, and by the store for API callers).
EARLIEST_INSTANT = datetime(1900, 1, 1, tzinfo=timezone.utc)
LATEST_INSTANT = datetime(2100, 1, 1, tzinfo=timezone.utc)  # exclusive
_EARLIEST_UTC, _LATEST_UTC = EARLIEST_INSTANT.replace(tzinfo=None), LATEST_INSTANT.replace(tzinfo=None)


def instant_problem(message: Message) -> str | None:
    """Why a message's sent/edited instant cannot be stored, or None when both can."""
    for name, moment in (("date", message.sent_at), ("edit date", message.edited_at)):
        if moment is None:
            continue
        offset = moment.utcoffset()  # one call into the zone (a comparison of aware instants makes three)
        if offset is None:
            return f"the {name} {moment.isoformat()} has no time zone"
        try:
            inside = _EARLIEST_UTC <= moment.replace(tzinfo=None) - offset < _LATEST_UTC
        except OverflowError:
            inside = False
        if not inside:
            return (f"the {name} {moment.isoformat()} is outside the supported range "
                    f"{EARLIEST_INSTANT:%Y-%m-%d} to {LATEST_INSTANT:%Y-%m-%d} (UTC)")
    return None


def canonical_bytes(message: Message) -> bytes:
    """The documented serialization the content hash (and later the ledger) is computed over."""
    return canonical_fields_bytes(message.platform, message.conversation_id,
                                  message.sender_id or message.sender_name or "", utc_ms(message.sent_at),
                                  str(message.kind), message.text, message.amount, message.currency,
                                  [a.as_dict() for a in message.attachments], message.reply_to)


def canonical_fields_bytes(platform: str, conversation_id: str, sender: str, sent_at_ms: int, kind: str, text: str,
                           amount: str | None, currency: str | None, attachments: list[dict[str, Any]],
                           reply_to: str | None) -> bytes:
    """:func:`canonical_bytes` from the stored fields (the store re-hashes a message filed under
    another conversation id than its export's without the Message object)."""
    return orjson.dumps({
        "amount": amount,
        "attachments": attachments,
        "conversation_id": conversation_id,
        "currency": currency,
        "kind": kind,
        "platform": platform,
        "reply_to": reply_to,
        "sender": sender,
        "sent_at_ms": sent_at_ms,
        "text": normalize_text(text),
    }, option=orjson.OPT_SORT_KEYS)


# ---- time helpers shared by the formats -------------------------------------------------

UTC = timezone.utc


def zone(name: str | None) -> ZoneInfo | timezone:
    """A tz from an IANA name or ±HH:MM offset; None means UTC.

    The one place a zone given by a user (--tz, $CHATAUDIT_TZ, a setting) is read: anything else
    than a known zone is a one-line error, whatever the value (300 characters, a path, a NUL).
    """
    if not name or name.upper() in ("UTC", "Z"):
        return UTC
    offset = OFFSET.fullmatch(name)
    if offset:
        sign, hours, minutes = offset.groups()
        if int(hours) <= 23 and int(minutes) <= 59:
            delta = timedelta(hours=int(hours), minutes=int(minutes))
            return timezone(-delta if sign == "-" else delta)
    elif not name.startswith(("+", "-")):
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file name
            pass
    from .errors import ChatAuditError

    shown = name if len(name) <= 40 else name[:40] + "…"
    raise ChatAuditError(
        f"unknown time zone {shown!r} (use an IANA name such as Asia/Shanghai, or an offset such as +08:00)"
    ) from None


OFFSET = re.compile(r"([+-])(\d{1,2}):(\d{2})")


def from_unix(seconds: float, tz: ZoneInfo | timezone = UTC) -> datetime:
    """An instant given as Unix seconds, shown in the exporter's zone."""
    return datetime.fromtimestamp(seconds, tz)


def localize(naive: datetime, tz: ZoneInfo | timezone) -> datetime:
    """A wall-clock time an export printed, read in the zone the exporter's device was in."""
    return naive.replace(tzinfo=tz)


def iter_records_of(records: Iterator[Record]) -> Iterator[Message]:
    """Only the messages of a record stream (tests and simple callers)."""
    return (r for r in records if isinstance(r, Message))


def default_zone_name() -> str:
    """The zone wall-clock exports are read in when --tz is not given.

    $CHATAUDIT_TZ, else $TZ when it is an IANA name, else the system zone (/etc/localtime), else UTC.
    """
    import os

    for candidate in (os.environ.get("CHATAUDIT_TZ"), os.environ.get("TZ")):
        if candidate:
            try:
                zone(candidate.lstrip(":"))
                return candidate.lstrip(":")
            except Exception:
                pass
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            name = target.split("zoneinfo/", 1)[1]
            zone(name)
            return name
    except Exception:
        pass
    return "UTC"


def parse_user_time(text: str, tz: ZoneInfo | timezone, end_of_day: bool = False) -> datetime:
    """A --since/--until value: ISO date or date-time, with or without offset (naive → ``tz``).

    A bare date given as an upper bound means the end of that day, as people mean it.
    """
    value = text.strip().replace("/", "-")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not a date or date-time: {text!r} (use e.g. 2026-03-12 or 2026-03-12T15:23)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    if end_of_day and len(value) <= 10:
        try:
            moment = moment + timedelta(days=1)
        except OverflowError:  # the end of 9999-12-31: the last instant a datetime holds
            moment = datetime.max.replace(tzinfo=moment.tzinfo)
    return moment
