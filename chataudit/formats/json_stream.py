"""Streaming reader for JSON exports: JSON Lines, a JSON array, or API response pages.

Enterprise IM archives come as one of

* **JSON Lines** — one object per line (what most archiving scripts append to);
* a **JSON array** of objects, possibly pretty-printed over many lines;
* **API response pages** — ``{"code": 0, "data": {"items": [...], "has_more": …}}`` written
  one page per line, pretty-printed, concatenated, or inside an array.

:func:`iter_json_records` yields every record with the 1-based line it starts on, whatever
the layout, without loading the file: JSON Lines are decoded line by line with ``orjson``;
everything else goes through ``ijson``'s push parser, fed one line at a time so that a
syntax error — or the end of a truncated file — is reported at its line.  Text decoding
goes through :func:`chataudit.formats.numbered_lines` (BOMs, GBK/GB18030, UTF-16).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import chain
from pathlib import Path
import re
from typing import Any, Callable, Iterable, Iterator
from zoneinfo import ZoneInfo

import ijson
import orjson
from ijson.common import JSONError, ObjectBuilder

from ..errors import ParseError
from ..model import UNDECODABLE_MARK, Conversation, Message, Record, from_unix
from . import head_text, numbered_lines

_VALUE_START = {"start_map", "start_array"}
_VALUE_END = {"end_map", "end_array"}
_SCALARS = {"null", "boolean", "integer", "double", "number", "string"}

# No real export nests beyond a dozen levels.  ijson builds each event's prefix ("item.item.…")
# anew, so N nested brackets cost O(N²) memory: 400 KB of "[" took 24 GB.  Every streaming JSON
# reader therefore feeds ijson pieces holding at most OPENERS_PER_PIECE opening brackets and
# stops at MAX_JSON_DEPTH, which bounds the prefixes alive at once to a few MB.
MAX_JSON_DEPTH = 256
OPENERS_PER_PIECE = 512


# A lone surrogate escape: ijson's C backend would turn it into "?", orjson refuses the line.  It is
# rewritten to UNDECODABLE_MARK + its hex digits, which the importer shows as "\\ud800" and notes.
_LONE_HIGH = re.compile(rb"(?<!\\)((?:\\\\)*)\\u([dD][89abAB][0-9a-fA-F]{2})(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})")
_LONE_LOW = re.compile(rb"(?<!\\u[dD][89abAB][0-9a-fA-F]{2})(?<!\\)((?:\\\\)*)\\u([dD][c-fC-F][0-9a-fA-F]{2})")
_MARK = rb"\\u" + f"{ord(UNDECODABLE_MARK):04x}".encode()


def keep_lone_surrogates(data: bytes) -> bytes:
    """JSON text with each lone ``\\udXXX`` escape replaced by the undecodable mark (pairs stay)."""
    if b"\\u" not in data:
        return data
    data = _LONE_HIGH.sub(rb"\1" + _MARK + rb"\2", data)
    return _LONE_LOW.sub(rb"\1" + _MARK + rb"\2", data)


def bounded_pieces(data: bytes) -> Iterator[bytes]:
    """``data`` cut so that no piece holds more than OPENERS_PER_PIECE ``[`` or ``{`` (ijson takes
    a document in pieces cut anywhere; counting brackets inside strings too only cuts more often)."""
    if data.count(b"[") + data.count(b"{") <= OPENERS_PER_PIECE or len(data) <= OPENERS_PER_PIECE:
        yield data
        return
    middle = len(data) // 2
    yield from bounded_pieces(data[:middle])
    yield from bounded_pieces(data[middle:])


class BoundedReader:
    """A binary reader for ``ijson.parse`` whose reads never hold more than OPENERS_PER_PIECE
    opening brackets, so a depth count on the events sees a bomb before it grows."""

    def __init__(self, stream: Any):
        self._stream = stream
        self._pending: list[bytes] = []

    def read(self, size: int = -1) -> bytes:
        if not self._pending:
            data = self._stream.read(size)
            if not data:
                return data
            self._pending = list(bounded_pieces(data))
            self._pending.reverse()
        return self._pending.pop()


def too_deep(where: str, line: int | None) -> ParseError:
    """The error of a document nested deeper than MAX_JSON_DEPTH."""
    return ParseError(where, line, f"JSON nested deeper than {MAX_JSON_DEPTH} levels (refused: no chat export "
                                   "nests so deep)")


def guarded_events(stream: Any, where: str, line: Callable[[], int | None] = lambda: None,
                   buf_size: int = 64 * 1024) -> Iterator[tuple[str, str, Any]]:
    """``ijson.parse`` events of a binary stream, nesting bounded (see MAX_JSON_DEPTH)."""
    depth = 0
    for event_tuple in ijson.parse(BoundedReader(stream), buf_size=buf_size):
        event = event_tuple[1]
        if event in _VALUE_START:
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise too_deep(where, line())
        elif event in _VALUE_END:
            depth -= 1
        yield event_tuple


@dataclass(frozen=True, slots=True)
class JsonRecord:
    """One record of a JSON export and the line its text starts on."""

    line: int
    value: Any


def iter_json_records(path: Path, page_paths: Iterable[str] = ("data.items",)) -> Iterator[JsonRecord]:
    """Every record of a JSON export, with the line where it starts.

    ``page_paths`` are dotted paths of the item lists in an API response page (``"data.items"``
    for Feishu/Lark).  An object that holds a list at one of those paths is a page: its items
    are yielded instead of the page itself.  Any other value — including an API error response
    without items — is yielded as it is, for the format to judge.
    """
    paths = tuple(tuple(p.split(".")) for p in page_paths)
    lines = _decoded_lines(path)
    for number, line in lines:
        stripped = line.strip()
        if not stripped:
            continue
        if stripped[0] == "{":
            try:
                first = orjson.loads(keep_lone_surrogates(stripped.encode("utf-8")))
            except orjson.JSONDecodeError:
                first = None  # a pretty-printed object: not JSON Lines
            if isinstance(first, dict):
                yield from _expand(number, first, paths)
                yield from _json_lines(path, lines, paths)
                return
            yield from _push_parse(path, [(number, line)], lines, "", paths)
            return
        if stripped[0] == "[":
            yield from _push_parse(path, [(number, line)], lines, "item", paths)
            return
        raise ParseError(str(path), number, f"not JSON: expected '{{' or '[' but found {stripped[:20]!r}")


def _decoded_lines(path: Path) -> Iterator[tuple[int, str]]:
    """numbered_lines, with a decoding error of the UTF-16 reader also reported as a ParseError."""
    number = 0
    try:
        for number, line in numbered_lines(path):
            yield number, line
    except UnicodeError as error:
        raise ParseError(str(path), number + 1, f"cannot decode text: {error}") from None


def _json_lines(path: Path, lines: Iterator[tuple[int, str]], paths: tuple[tuple[str, ...], ...]) -> Iterator[JsonRecord]:
    for number, line in lines:
        stripped = line.strip()
        if not stripped:
            continue
        try:
            value = orjson.loads(keep_lone_surrogates(stripped.encode("utf-8")))
        except orjson.JSONDecodeError as error:
            raise ParseError(str(path), number, f"invalid JSON line: {error}") from None
        if isinstance(value, list):
            for element in value:
                yield from _expand(number, element, paths)
        else:
            yield from _expand(number, value, paths)


def _expand(line: int, value: Any, paths: tuple[tuple[str, ...], ...]) -> Iterator[JsonRecord]:
    """A decoded top-level value: a page's items, or the value itself."""
    items = _page_items(value, paths)
    if items is None:
        yield JsonRecord(line, value)
    else:
        for item in items:
            yield JsonRecord(line, item)


def _page_items(value: Any, paths: tuple[tuple[str, ...], ...]) -> list | None:
    if not isinstance(value, dict):
        return None
    for keys in paths:
        node: Any = value
        for key in keys:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, list):
            return node
    return None


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _push_parse(
    path: Path,
    head: list[tuple[int, str]],
    rest: Iterator[tuple[int, str]],
    record_prefix: str,
    paths: tuple[tuple[str, ...], ...],
) -> Iterator[JsonRecord]:
    """ijson's push parser fed line by line; records live at ``record_prefix`` ("" or "item")."""
    events = ijson.sendable_list()
    parser = ijson.parse_coro(events, multiple_values=True, use_float=True)
    join = (lambda *parts: ".".join(p for p in parts if p))
    item_prefixes = {join(record_prefix, *keys, "item") for keys in paths}

    top: ObjectBuilder | None = None
    top_depth = 0
    top_line = 0
    item: ObjectBuilder | None = None
    item_depth = 0
    item_line = 0
    number = 0

    def feed() -> Iterator[JsonRecord]:
        nonlocal top, top_depth, top_line, item, item_depth, item_line
        for prefix, event, value in events:
            if item is not None:
                item.event(event, value)
                item_depth += 1 if event in _VALUE_START else -1 if event in ("end_map", "end_array") else 0
                if item_depth + top_depth > MAX_JSON_DEPTH:  # every nesting is inside a top value
                    raise too_deep(str(path), number)
                if item_depth == 0:
                    yield JsonRecord(item_line, item.value)
                    item = None
                continue
            if top is not None:
                if prefix in item_prefixes and (event in _VALUE_START or event in _SCALARS):
                    if event in _SCALARS:
                        yield JsonRecord(number, value)
                    else:
                        item, item_depth, item_line = ObjectBuilder(), 1, number
                        item.event(event, value)
                    continue
                top.event(event, value)
                top_depth += 1 if event in _VALUE_START else -1 if event in ("end_map", "end_array") else 0
                if top_depth > MAX_JSON_DEPTH:
                    raise too_deep(str(path), number)
                if top_depth == 0:
                    finished = top.value
                    top = None
                    if _page_items(finished, paths) is None:  # a page's items were yielded already
                        yield JsonRecord(top_line, finished)
                continue
            if prefix == record_prefix:
                if event in _VALUE_START:
                    top, top_depth, top_line = ObjectBuilder(), 1, number
                    top.event(event, value)
                elif event in _SCALARS:
                    yield JsonRecord(number, value)
            # other events: the brackets of the enclosing array
        del events[:]

    try:
        for number, line in chain(head, rest):
            data = keep_lone_surrogates(line.encode("utf-8")) + b"\n"
            for piece in (data,) if len(data) <= OPENERS_PER_PIECE else bounded_pieces(data):
                try:
                    parser.send(piece)
                except JSONError as error:
                    raise ParseError(str(path), number, f"invalid JSON: {_first_line(error)}") from None
                if events:
                    yield from feed()
        try:
            parser.close()
        except JSONError as error:
            start = item_line if item is not None else top_line if top is not None else number
            raise ParseError(str(path), start or number, f"truncated JSON: unexpected end of file at line {number} ({_first_line(error)})") from None
        yield from feed()
    finally:
        events.clear()


# ---- small value helpers the JSON formats share ------------------------------------------

def as_int(value: Any) -> int | None:
    """An integer from a JSON number or a numeric string ("1603875615723"); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit() and text.isascii():
            return int(text)
    return None


def as_str(value: Any) -> str | None:
    """A string field; numbers are shown as written, containers and null give None."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return str(value)
    return None


def as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def from_ms(milliseconds: int, tz: ZoneInfo | timezone) -> datetime:
    """A Unix instant in milliseconds, exact to the millisecond, shown in ``tz``."""
    seconds, millis = divmod(milliseconds, 1000)
    return from_unix(seconds, tz).replace(microsecond=millis * 1000)  # replace keeps DST fold


def short(value: Any, limit: int = 60) -> str:
    """A value as it may appear in an error message: repr, cut short, never failing."""
    try:
        text = repr(value)
    except RecursionError:
        text = f"<deeply nested {type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---- what the JSON formats share around the reader ----------------------------------------------

def head_keys(head: bytes, key_pattern: re.Pattern[str]) -> set[str] | None:
    """The keys ``key_pattern`` finds in a JSON head, or None when the head is not JSON at all."""
    if not head:
        return None
    try:
        text = head_text(head).lstrip("\ufeff \t\r\n")
        if not text or text[0] not in "[{":
            return None
        return {m.group(1) for m in key_pattern.finditer(text)}
    except Exception:
        return None


def fail(message: str) -> ParseError:
    """A ParseError without place: :func:`parse_messages` adds the file and line."""
    return ParseError("", None, message)


def parse_messages(
    path: Path,
    page_paths: Iterable[str],
    to_message: Callable[[Any, int], Message],
    to_conversation: Callable[[Message, Any], Conversation],
) -> Iterator[Record]:
    """Records of a JSON export: a Conversation before each conversation's first message, then the
    messages; anything malformed becomes a ParseError at the record's line."""
    seen: set[str] = set()
    for record in iter_json_records(path, page_paths=page_paths):
        try:
            message = to_message(record.value, record.line)
        except ParseError as error:
            raise ParseError(str(path), record.line, error.message) from None
        except (TypeError, ValueError, AttributeError, KeyError, OverflowError, OSError, RecursionError) as error:
            raise ParseError(str(path), record.line, f"malformed message: {type(error).__name__}: {error}") from None
        if message.conversation_id not in seen:
            seen.add(message.conversation_id)
            yield to_conversation(message, record.value)
        yield message
