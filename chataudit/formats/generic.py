"""Generic CSV / JSON Lines: the documented columns any tool or script can write.

Columns (CSV header or JSONL keys); only ``sent_at`` and ``text`` are required:
``platform, conversation_id, conversation_title, message_id, sender_id, sender_name, sent_at,
kind, text, reply_to, edited_at, amount, currency, is_me`` and, in JSONL, ``attachments`` (list of
``{name, size, sha256, mime, path}``) and ``extras`` (object). CSV may use ``attachment`` for one
file name. ``sent_at``: ISO 8601 with offset, ISO without offset (read in ``--tz``), a spreadsheet's
re-formatting of it (``2024/10/4 11:42``; day/month/year only when a field > 12 settles the order) or
Unix seconds/milliseconds. ``kind`` is one of chataudit's kinds (default ``text``).
"""

from __future__ import annotations

import csv
from itertools import chain
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterator

import orjson

from ..errors import ParseError
from ..model import Attachment, Kind, Message, Record, from_unix
from . import LineSpan, ParseOptions, head_text, numbered_lines
from .dates import DayMonthOrder, wall_clock, year_last
from .json_stream import keep_lone_surrogates

NAME = "generic"
PLATFORM = "generic"
DESCRIPTION = "Generic CSV or JSON Lines with documented columns (sent_at, text, sender_name, conversation_id, …)"

ALIASES = {
    "time": "sent_at", "timestamp": "sent_at", "datetime": "sent_at", "date": "sent_at",
    "content": "text", "message": "text", "body": "text",
    "sender": "sender_name", "from": "sender_name", "author": "sender_name",
    "conversation": "conversation_id", "chat": "conversation_id", "chat_id": "conversation_id",
    "type": "kind",
}
REQUIRED = ("sent_at", "text")  # a file without them is another format, not empty messages
KNOWN = {
    "platform", "conversation_id", "conversation_title", "message_id", "sender_id", "sender_name",
    "sent_at", "kind", "text", "reply_to", "edited_at", "amount", "currency", "is_me",
    "attachments", "attachment", "extras",
}
KINDS = {k.value for k in Kind}
TRUE = {"1", "true", "yes", "y", "t", "是"}


def _canonical(key: str) -> str:
    known = _CANONICAL.get(key)
    if known is None:
        known = key.strip().lstrip("\ufeff").lower()
        known = ALIASES.get(known, known)
        if len(_CANONICAL) < 4096:  # a file's keys repeat on every line; a hostile file's do not grow it
            _CANONICAL[key] = known
    return known


_CANONICAL: dict[str, str] = {}


def detect(path: Path, head: bytes) -> float:
    if not head:
        return 0.0
    text = head_text(head)
    first = text.lstrip("\ufeff").split("\n", 1)[0].strip()
    if first.startswith("{"):
        try:
            keys = {_canonical(k) for k in orjson.loads(first)}
        except orjson.JSONDecodeError:
            return 0.0
        if not {"sent_at", "text"} <= keys:
            return 0.0
        return 0.8 if len(keys & KNOWN) >= 3 else 0.6
    if path.suffix.lower() in (".csv", ".tsv", ".txt"):
        try:
            header = next(csv.reader([first], dialect=_dialect(first)))
        except (StopIteration, csv.Error):
            return 0.0
        keys = {_canonical(k) for k in header}
        exact = {k.strip().lstrip("\ufeff").lower() for k in header}
        if {"sent_at", "text"} <= exact:
            return 0.8
        if {"sent_at", "text"} <= keys and len(keys & KNOWN) >= 3:
            return 0.55
    return 0.0


def _dialect(first_line: str) -> type[csv.Dialect]:
    return csv.excel_tab if first_line.count("\t") > first_line.count(",") else csv.excel


def parse(path: Path, options: ParseOptions) -> Iterator[Record]:
    if spannable(path):  # JSON Lines
        yield from _parse_jsonl(path, options)
    else:
        yield from _parse_csv(path, options)


def spannable(path: Path) -> bool:
    """A JSON Lines file can be read by spans (each line stands alone); a CSV file, whose quoted
    fields may hold line breaks, cannot."""
    with open(path, "rb") as handle:
        return handle.read(1024).lstrip(b"\xef\xbb\xbf").lstrip().startswith(b"{")


def parse_span(path: Path, options: ParseOptions, span: LineSpan) -> Iterator[Record]:
    """The records of ``span``'s lines (:func:`chataudit.formats.line_spans`) of a JSON Lines file."""
    if not spannable(path):
        raise ValueError(f"{path}: only a JSON Lines file can be read by spans")
    yield from _parse_jsonl(path, options, span)


def _parse_jsonl(path: Path, options: ParseOptions, span: LineSpan | None = None) -> Iterator[Record]:
    for number, line in numbered_lines(path, span=span):
        if not line.strip():
            continue
        try:
            raw = orjson.loads(keep_lone_surrogates(line.encode("utf-8")))
        except orjson.JSONDecodeError as error:
            raise ParseError(str(path), number, f"invalid JSON: {error}") from None
        if not isinstance(raw, dict):
            raise ParseError(str(path), number, "expected a JSON object per line")
        row = {_canonical(k): v for k, v in raw.items()}
        # a JSON line may leave out `text` where it says what it carries instead (an image, a file)
        says_what = row.get("attachments") or row.get("attachment") or row.get("kind") not in (None, "", "text")
        missing = [k for k in REQUIRED if k not in row and not (k == "text" and says_what)]
        if missing:
            raise ParseError(str(path), number, f"no {' and no '.join(map(repr, missing))} field (required: "
                                                f"{', '.join(REQUIRED)})")
        yield _message(row, path, number, options)


def _parse_csv(path: Path, options: ParseOptions) -> Iterator[Record]:
    # decoded line by line, so that a bad byte is reported at its own line (a text wrapper's
    # read-ahead put it hundreds of lines early)
    lines = numbered_lines(path, keep_ends=True)
    first = next(lines, (1, ""))[1]
    reader = csv.reader(chain([first], (line for _, line in lines)), dialect=_dialect(first))
    try:
        header = [_canonical(k) for k in next(reader, [])]
        missing = [k for k in REQUIRED if k not in header]
        if missing:
            raise ParseError(str(path), 1, f"no {' and no '.join(map(repr, missing))} column (required: "
                                           f"{', '.join(REQUIRED)}; header: {','.join(header)!r})")
        start = reader.line_num + 1
        for row in reader:
            if row and not (len(row) == 1 and not row[0].strip()):
                if len(row) != len(header):
                    raise ParseError(str(path), start, f"expected {len(header)} columns, found {len(row)}")
                yield _message(dict(zip(header, row)), path, start, options)
            start = reader.line_num + 1
    except csv.Error as error:
        raise ParseError(str(path), reader.line_num, f"malformed CSV: {error}") from None


def _instant(value: Any, path: Path, line: int, options: ParseOptions, field: str) -> datetime:
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip().lstrip("-").replace(".", "", 1).isdigit()):
        number = float(value)
        try:
            return from_unix(number / 1000 if abs(number) > 1e11 else number, options.tz)
        except (OverflowError, ValueError, OSError):
            raise ParseError(str(path), line, f"{field} {value!r} is no Unix time a calendar can hold") from None
    if not isinstance(value, str) or not value.strip():
        raise ParseError(str(path), line, f"{field} is missing")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        moment = _spreadsheet_time(value)
        if moment is None:
            raise ParseError(str(path), line, f"{field} {value!r} is not ISO 8601, a Unix time or an unambiguous "
                                              "date-time (04/10/2024 could be either day first or month first)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=options.tz)


def _spreadsheet_time(value: str) -> datetime | None:
    """A sent_at re-formatted by a spreadsheet (2024/10/4 11:42); a year-last date only when a field > 12
    says which is the day, since one row cannot tell 04/10/2024 apart."""
    if not year_last(value):
        return wall_clock(value)
    order = DayMonthOrder()
    return wall_clock(value, order.order) if order.feed(value) else None


def _message(row: dict[str, Any], path: Path, line: int, options: ParseOptions) -> Message:
    kind = (row.get("kind") or "text").strip().lower() if isinstance(row.get("kind"), str) else "text"
    if kind not in KINDS:
        raise ParseError(str(path), line, f"unknown kind {kind!r} (one of: {', '.join(sorted(KINDS))})")
    amount = row.get("amount")
    if amount not in (None, ""):
        try:
            amount = str(Decimal(str(amount).replace(",", "")))
        except InvalidOperation:
            raise ParseError(str(path), line, f"amount {amount!r} is not a number") from None
    else:
        amount = None
    attachments: tuple[Attachment, ...] = ()
    if isinstance(row.get("attachments"), list):
        try:
            attachments = tuple(Attachment(**a) for a in row["attachments"])
        except TypeError as error:
            raise ParseError(str(path), line, f"bad attachment: {error}") from None
    elif row.get("attachment"):
        attachments = (Attachment(name=str(row["attachment"])),)
    sender_name = _text(row.get("sender_name"))
    is_me = row.get("is_me")
    if isinstance(is_me, str):
        is_me = is_me.strip().lower() in TRUE if is_me.strip() else None
    if options.me and sender_name == options.me:
        is_me = True
    extras = row.get("extras") if isinstance(row.get("extras"), dict) else {}
    unknown = {k: v for k, v in row.items() if k not in KNOWN and v not in (None, "")}
    if unknown:
        extras = {**extras, **unknown}
    edited = row.get("edited_at")
    return Message(
        platform=_text(row.get("platform")) or PLATFORM,
        conversation_id=_text(row.get("conversation_id")) or path.stem,
        conversation_title=_text(row.get("conversation_title")),
        sent_at=_instant(row.get("sent_at"), path, line, options, "sent_at"),
        kind=Kind(kind),
        text=_text(row.get("text")) or "",
        sender_id=_text(row.get("sender_id")) or sender_name,
        sender_name=sender_name,
        message_id=_text(row.get("message_id")),
        reply_to=_text(row.get("reply_to")),
        edited_at=_instant(edited, path, line, options, "edited_at") if edited not in (None, "") else None,
        amount=amount,
        currency=_text(row.get("currency")),
        attachments=attachments,
        is_me=is_me if isinstance(is_me, bool) else None,
        position=line,
        extras=extras,
    )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    value = str(value)
    return value if value.strip() else None
