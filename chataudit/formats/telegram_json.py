"""Telegram Desktop's JSON export (``result.json``), streamed with ijson.

Two shapes come out of *Settings → Advanced → Export Telegram data* / *Export chat history*:

* a single chat: ``{"name", "type", "id", "messages": [...]}``;
* the whole account: ``{"about", "personal_information": {"user_id", ...}, ...,
  "chats": {"about", "list": [chat, ...]}, "left_chats": {"about", "list": [...]}}``,
  each chat shaped like the single-chat export;
* minimal files other tools write: ``{"messages": [...]}`` (entries with only ``date_unixtime``,
  ``from``, ``text``) or ``{"chats": {"list": [{"messages": [...]}]}}``; a chat without ``id`` gets
  ``participants:`` + its sorted sender names (a first pass collects them), as WhatsApp chats do.

Field names follow tdesktop's ``export_output_json.cpp``: a message is
``{"id", "type": "message"|"service"|"unsupported", "date" (exporter's local wall clock),
"date_unixtime" (since 2021), "edited"/"edited_unixtime", "from"/"from_id" ("user123",
plain integers before 2020), "actor"/"actor_id"/"action" (service), "text" (string, or
array of strings and entity objects), "text_entities", "reply_to_message_id", media keys
("photo", "file" + "media_type", "location_information", "contact_information", "poll", ...)}``.

The file is never loaded whole: events come from ijson's C backend, each message object
is built in C, and a second sequential scan of the same bytes finds the line of each
message's ``"id": N`` so records (and errors) point at a real line.
"""

from __future__ import annotations

import codecs
import functools
import io
import json
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import IO, Any, Iterator

import ijson
from ijson.utils import sendable_list

try:  # each message object is built in C, fed the events of the one C parser
    from ijson.backends.yajl2_c import items_basecoro as _items_basecoro
except ImportError:  # pragma: no cover - pure-Python fallback
    from ijson.common import items_basecoro as _items_basecoro

from ..errors import ParseError
from ..model import Attachment, Conversation, ConversationType, Kind, Message, Record, from_unix, localize
from . import HEAD_BYTES, ParseOptions, head_text, sniff_encoding
from .json_stream import guarded_events, keep_lone_surrogates

NAME = "telegram-json"
PLATFORM = "telegram"
DESCRIPTION = (
    "Telegram Desktop JSON export (result.json): one chat, or the full account export with "
    "chats/left_chats; text entities, media, service actions and calls, edits, replies"
)

CHAT_TYPES: dict[str, ConversationType] = {
    "personal_chat": ConversationType.PRIVATE,
    "bot_chat": ConversationType.PRIVATE,
    "saved_messages": ConversationType.PRIVATE,
    "private_group": ConversationType.GROUP,
    "private_supergroup": ConversationType.GROUP,
    "public_supergroup": ConversationType.GROUP,
    "private_channel": ConversationType.CHANNEL,
    "public_channel": ConversationType.CHANNEL,
    "replies": ConversationType.UNKNOWN,
}
_NAMELESS_TITLES = {"saved_messages": "Saved Messages", "replies": "Replies"}

# ---- detection ------------------------------------------------------------------------------

_JSTR = r'"(?:[^"\\]|\\.)*"'
_SINGLE_RE = re.compile(
    r'\{\s*(?:"name"\s*:\s*(?:null|' + _JSTR + r')\s*,\s*)?"type"\s*:\s*"([a-z_]*)"\s*,'
    r'\s*"id"\s*:\s*-?\d+\s*,\s*"messages"\s*:\s*\['
)
_FULL_RE = re.compile(
    r'\{\s*"about"\s*:\s*' + _JSTR + r'\s*,\s*"(?:personal_information|profile_pictures|stories|contacts|'
    r'frequent_contacts|sessions|web_sessions|other_data|chats|left_chats)"\s*:'
)
_LOOSE_RE = re.compile(r'"from_id"\s*:\s*"(?:user|channel|chat)\d+"')
# minimal exports other tools write or trim to: {"messages": [...]} or {"chats": {"list": [{"messages": …}]}}
_MINIMAL_RE = re.compile(
    r'\{\s*(?:"messages"\s*:\s*\[|"chats"\s*:\s*\{\s*(?:"about"\s*:\s*' + _JSTR + r'\s*,\s*)?"list"\s*:\s*\[\s*(?:\]|\{))'
)
_MINIMAL_MESSAGE_RE = re.compile(r'"date_unixtime"\s*:\s*"?\d+"?')


def detect(path: Path, head: bytes) -> float:
    """0.97 for a single-chat export, 0.95 for a full export (both by the exporter's leading keys)."""
    try:
        if not head:
            return 0.0
        text = head_text(head).lstrip("\ufeff \t\r\n")
        if not text.startswith("{"):
            return 0.0
        single = _SINGLE_RE.match(text)
        if single:
            return 0.97 if single.group(1) in CHAT_TYPES else 0.75
        if _FULL_RE.match(text):
            return 0.95
        if _MINIMAL_RE.match(text) and _MINIMAL_MESSAGE_RE.search(text) and '"from"' in text:
            return 0.8
        if '"messages"' in text and '"date"' in text and _LOOSE_RE.search(text):
            return 0.6
        return 0.0
    except Exception:
        return 0.0


# ---- byte streams ---------------------------------------------------------------------------

_CHUNK = 64 * 1024


class _Transcoder:
    """A non-UTF-8 file (UTF-16, GB18030) re-encoded to UTF-8 bytes, read in chunks."""

    def __init__(self, path: Path, encoding: str):
        self._text = io.TextIOWrapper(open(path, "rb"), encoding=encoding, errors="strict", newline="")

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""
        data = self._text.read(size if size > 0 else -1)
        if data.startswith("\ufeff"):
            data = data[1:]
        return data.encode("utf-8")

    def close(self) -> None:
        self._text.close()


def _open_utf8(path: Path, encoding: str) -> IO[bytes] | _Transcoder:
    """The file as a stream of UTF-8 bytes with any BOM dropped (offsets and lines count in it)."""
    if encoding == "utf-8-sig":
        handle = open(path, "rb")
        handle.seek(len(codecs.BOM_UTF8))
        return handle
    if encoding == "utf-8":
        return open(path, "rb")
    return _Transcoder(path, encoding)


# tdesktop writes control characters other than \n \r \t as "\x0B" (SerializeString), which is
# not JSON; an odd run of backslashes before "x" is such an escape, rewritten to "\u000B".
_CONTROL_ESCAPE = re.compile(rb"(?<!\\)((?:\\\\)*)\\x([01][0-9A-Fa-f])")


def _fix_control_escapes(data: bytes) -> bytes:
    return _CONTROL_ESCAPE.sub(rb"\1\\u00\2", data) if b"\\x" in data else data


class _CountingReader:
    """What ijson reads (control escapes fixed), with how many bytes and newlines it consumed."""

    def __init__(self, stream: IO[bytes] | _Transcoder):
        self._stream = stream
        self._carry = b""  # a trailing backslash run, kept until the escape it starts is complete
        self.consumed = 0
        self.newlines = 0

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""
        while True:
            chunk = self._stream.read(size)
            data, self._carry = self._carry + chunk, b""
            if not chunk:
                break
            # an escape cut by the read stays for the next one: 12 bytes hold a surrogate pair
            # (cut at an even place of a backslash run, so that what stays before it are whole escaped backslashes)
            cut = data.find(b"\\", max(0, len(data) - 12))
            if cut != -1:
                cut -= (cut - len(data[:cut].rstrip(b"\\"))) % 2
                data, self._carry = data[:cut], data[cut:]
            if data:
                break
        data = keep_lone_surrogates(_fix_control_escapes(data))
        self.consumed += len(data)
        self.newlines += data.count(b"\n")
        return data

    def close(self) -> None:
        self._stream.close()

    @property
    def line(self) -> int:
        """The line ijson's read-ahead has reached: an upper bound for anything parsed so far."""
        return self.newlines + 1


_WS = rb"[ \t\r\n]{0,16}"
_ID_RE = re.compile(rb'"id"' + _WS + rb":" + _WS + rb"(-?[0-9]{1,20})(?=[ \t\r\n,}])")
_MESSAGES_RE = re.compile(rb'"messages"' + _WS + rb":" + _WS + rb"\[")
_OVERLAP = 128  # longer than any match of the two patterns above


@functools.lru_cache(maxsize=16)
def _key_pattern(key: str) -> re.Pattern[bytes]:
    """``"key":`` as bytes (compiled once per key, not once per message)."""
    return re.compile(rb'"' + re.escape(key.encode()) + rb'"\s*:')


class _Locator:
    """Finds, in lockstep with the parser, the line of each message's ``"id": N``.

    A second sequential read of the same UTF-8 bytes, searched with C regexes in 1 MiB
    blocks: messages come in file order, so each search starts where the last one ended
    and the whole file is scanned once. Searches never go past what ijson has consumed.
    """

    BLOCK = 1024 * 1024

    def __init__(self, stream: IO[bytes] | _Transcoder):
        self._stream = stream
        self._buf = b""
        self._base = 0  # file offset of _buf[0]
        self._pos = 0  # search position in _buf
        self._line = 1  # line number at _pos
        self._eof = False
        self.last_object: tuple[int, int] | None = None  # (offset, line) of the last found message's "{"

    def close(self) -> None:
        self._stream.close()

    def _advance(self, index: int) -> None:
        self._line += self._buf.count(b"\n", self._pos, index)
        self._pos = index

    def _more(self) -> bool:
        if self._eof:
            return False
        keep = max(self._pos, len(self._buf) - _OVERLAP)
        self._advance(keep)
        block = self._stream.read(self.BLOCK)
        if not block:
            self._eof = True
            return False
        self._buf = self._buf[keep:] + block
        self._base += keep
        self._pos = 0
        return True

    def seek_messages(self, limit: int) -> int | None:
        """Skip to just after the next ``"messages": [`` (a new chat's message list); its line."""
        return self._next_match(_MESSAGES_RE, limit, skip_missed=False)

    def find(self, message_id: int, limit: int) -> int | None:
        """The line of the next ``"id": message_id`` before byte ``limit``, or None."""
        wanted = str(message_id).encode()
        while True:
            match = _ID_RE.search(self._buf, self._pos)
            while match and self._base + match.start() < limit:
                if match.group(1) == wanted:
                    self._advance(match.start())
                    line = self._line
                    self._note_object(match.start(), line)
                    self._advance(match.end())
                    return line
                match = _ID_RE.search(self._buf, match.end())
            if self._base + len(self._buf) >= limit or not self._more():
                # not before the limit (an unusual layout): skip those bytes so that
                # repeated misses stay linear; the caller falls back to an approximate line
                self._advance(min(len(self._buf), max(self._pos, limit - self._base - _OVERLAP)))
                return None

    def find_key(self, key: str, limit: int) -> int | None:
        """The line of the next ``"key":`` before byte ``limit`` (messages of minimal exports carry no id)."""
        return self._next_match(_key_pattern(key), limit, skip_missed=True)

    def _next_match(self, pattern: re.Pattern[bytes], limit: int, *, skip_missed: bool) -> int | None:
        """Move to just after the next match of ``pattern`` before byte ``limit`` and return its line;
        None when there is none (``skip_missed``: the bytes searched are skipped, so that repeated
        misses stay linear)."""
        while True:
            match = pattern.search(self._buf, self._pos)
            if match and self._base + match.start() < limit:
                self._advance(match.start())
                line = self._line
                self._advance(match.end())
                return line
            if self._base + len(self._buf) >= limit or not self._more():
                if skip_missed:
                    self._advance(min(len(self._buf), max(self._pos, limit - self._base - _OVERLAP)))
                return None

    def _note_object(self, index: int, line: int) -> None:
        """Remember where the message object starts when its "id" is the first key (as tdesktop writes)."""
        window = max(0, index - 64)
        start = window + len(self._buf[window:index].rstrip(b" \t\r\n"))
        if start > window and self._buf[start - 1 : start] == b"{":
            self.last_object = (self._base + start - 1, line - self._buf.count(b"\n", start - 1, index))
        else:
            self.last_object = None


# ---- locating a JSON syntax error -----------------------------------------------------------

_REPARSE_LIMIT = 64 * 1024 * 1024


def _read_span(path: Path, encoding: str, start: int, end: int) -> bytes:
    stream = _open_utf8(path, encoding)
    try:
        skipped = 0
        while skipped < start:
            chunk = stream.read(min(_CHUNK * 16, start - skipped))
            if not chunk:
                break
            skipped += len(chunk)
        return stream.read(end - start) if end > start else b""
    finally:
        stream.close()


def _error_line_in(data: bytes, base_line: int, objects: bool) -> int | None:
    """Exact line of the first JSON error in ``data`` (Python's decoder), or None if it finds none."""
    data = keep_lone_surrogates(_fix_control_escapes(data))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(data) - 3:
            return base_line + data.count(b"\n", 0, error.start)
        text = data.decode("utf-8", errors="replace")
    decoder = json.JSONDecoder()
    try:
        if not objects:
            decoder.decode(text)
            return None
        index = 0
        while True:  # message objects separated by commas, as in the "messages" array
            _, index = decoder.raw_decode(text, index)
            while index < len(text) and text[index] in " \t\r\n":
                index += 1
            if index >= len(text) or text[index] != ",":
                return None
            index += 1
            while index < len(text) and text[index] in " \t\r\n":
                index += 1
    except json.JSONDecodeError as error:
        return base_line + error.lineno - 1


def _syntax_error_line(path: Path, encoding: str, reader: _CountingReader, locator: _Locator, found: bool) -> int:
    try:
        return _exact_error_line(path, encoding, reader, locator, found)
    except (OSError, UnicodeDecodeError):
        return reader.line


def _exact_error_line(path: Path, encoding: str, reader: _CountingReader, locator: _Locator, found: bool) -> int:
    consumed = reader.consumed
    line: int | None = None
    if found and locator.last_object is not None:
        # from the last message whose line is known: re-read the objects after it
        offset, object_line = locator.last_object
        if consumed - offset <= _REPARSE_LIMIT:
            line = _error_line_in(_read_span(path, encoding, offset, consumed), object_line, True)
    if line is None and consumed <= _REPARSE_LIMIT:
        line = _error_line_in(_read_span(path, encoding, 0, consumed), 1, False)
    return line if line is not None else reader.line


def _json_error_text(error: Exception) -> str:
    text = str(error)
    if text.startswith(("b'", 'b"')):
        text = text[2:]
    first = text.replace("\\n", "\n").split("\n", 1)[0].strip()
    if "premature EOF" in first:
        return "the file ends in the middle of the JSON (truncated or still being written?)"
    return f"invalid JSON: {first}"


# ---- field helpers --------------------------------------------------------------------------


class _Malformed(Exception):
    """A message object that is valid JSON but not a valid Telegram message."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _join_text(value: Any, key: str = "text") -> tuple[str, list[str]]:
    """The visible text of a "text" value and the hrefs of its text_link entities."""
    if value is None:
        return "", []
    if isinstance(value, str):
        return value, []
    if not isinstance(value, list):
        raise _Malformed(f'"{key}" is neither a string nor an array')
    parts: list[str] = []
    links: list[str] = []
    for part in value:
        if isinstance(part, str):
            parts.append(part)
        elif isinstance(part, dict):
            piece = part.get("text", "")
            if not isinstance(piece, str):
                raise _Malformed(f'an entity in "{key}" has a non-string "text"')
            parts.append(piece)
            href = part.get("href")
            if isinstance(href, str) and href:
                links.append(href)
        else:
            raise _Malformed(f'"{key}" holds a {type(part).__name__}, expected strings and entity objects')
    return "".join(parts), links


def _peer_id(value: Any) -> str | None:
    """"user123" as is; the plain integers of pre-2020 exports were user ids."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise _Malformed("a sender id is a boolean")
    if isinstance(value, int):
        return f"user{value}"
    if isinstance(value, str):
        return value or None
    raise _Malformed(f"a sender id is a {type(value).__name__}")


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


_MAX_OFFSET = timedelta(hours=14)


def _instant(obj: dict, unix_key: str, wall_key: str, options: ParseOptions) -> datetime | None:
    """The instant of ``unix_key`` (shown at the exporter's offset) or of the wall clock ``wall_key``.

    Without --tz, the exporter's own UTC offset is recovered per message from the two fields
    (``date`` is ``date_unixtime`` printed in the exporting computer's zone, DST included);
    with --tz the instant is shown in that zone. Exports without ``*_unixtime`` only have the
    wall clock, read in options.tz.
    """
    raw = obj.get(unix_key)
    wall = obj.get(wall_key)
    naive: datetime | None = None
    if wall is not None:
        if not isinstance(wall, str):
            raise _Malformed(f'"{wall_key}" is not a string')
        try:
            naive = datetime.fromisoformat(wall)
        except ValueError:
            raise _Malformed(f'"{wall_key}" is not an ISO date-time: {wall!r}') from None
    if raw is not None:
        if isinstance(raw, bool) or not isinstance(raw, (str, int)):
            raise _Malformed(f'"{unix_key}" is not a number string')
        try:
            seconds = int(raw)
            moment = from_unix(seconds, options.tz)
        except (ValueError, OverflowError, OSError):
            raise _Malformed(f'"{unix_key}" is not a Unix time: {raw!r}') from None
        if naive is not None and not options.tz_given:
            if naive.tzinfo is not None:
                return moment.astimezone(naive.tzinfo)
            offset = naive - moment.astimezone(timezone.utc).replace(tzinfo=None)
            if abs(offset) <= _MAX_OFFSET and offset.seconds % 60 == 0:
                return moment.astimezone(timezone(offset))
        return moment
    if naive is not None:
        return naive if naive.tzinfo is not None else localize(naive, options.tz)
    return None


_PLACEHOLDER_RE = re.compile(r"^\((?:File|Photo) (?:not included|unavailable|exceeds)")


def _attachment(path_value: Any, name: Any = None, size: Any = None, mime: Any = None) -> tuple[Attachment, str | None]:
    """An Attachment from an export path (or the exporter's "(File not included…)" note)."""
    note = None
    path = path_value if isinstance(path_value, str) and path_value else None
    if path is not None and _PLACEHOLDER_RE.match(path):
        note, path = path, None
    if not isinstance(name, str) or not name:
        name = PurePosixPath(path).name if path else None
    return (
        Attachment(name=name, size=_int(size), mime=mime if isinstance(mime, str) and mime else None, path=path),
        note,
    )


def _kept(attachment: Attachment) -> tuple[Attachment, ...]:
    """An attachment worth recording: one that names a file (a bare "not included" note is not)."""
    return (attachment,) if attachment.path or attachment.name or attachment.size is not None else ()


def _clock(seconds: int | None) -> str:
    if not seconds:
        return ""
    minutes, sec = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{sec:02d}" if hours else f"{minutes}:{sec:02d}"


_MEDIA_KINDS = {
    "sticker": Kind.STICKER,
    "voice_message": Kind.VOICE,
    "video_message": Kind.VIDEO,
    "video_file": Kind.VIDEO,
    "animation": Kind.VIDEO,
    "audio_file": Kind.FILE,
}


def _media(obj: dict, extras: dict) -> tuple[Kind, str, tuple[Attachment, ...]]:
    """Kind, a readable description (used when there is no caption) and attachments."""
    if "photo" in obj:
        attachment, note = _attachment(obj["photo"], size=obj.get("photo_file_size"))
        if note:
            extras["media_missing"] = note
        return Kind.IMAGE, "[photo]", _kept(attachment)
    if "file" in obj:
        media_type = obj.get("media_type")
        attachment, note = _attachment(obj["file"], obj.get("file_name"), obj.get("file_size"), obj.get("mime_type"))
        if note:
            extras["media_missing"] = note
        kind = _MEDIA_KINDS.get(media_type, Kind.FILE) if isinstance(media_type, str) else Kind.FILE
        duration = _clock(_int(obj.get("duration_seconds")))
        if media_type == "sticker":
            emoji = obj.get("sticker_emoji")
            text = f"[sticker {emoji}]" if isinstance(emoji, str) and emoji else "[sticker]"
        elif media_type == "voice_message":
            text = f"[voice message {duration}]".replace(" ]", "]")
        elif media_type == "video_message":
            text = f"[video message {duration}]".replace(" ]", "]")
        elif media_type == "animation":
            text = "[GIF]"
        elif media_type == "audio_file":
            performer, title = obj.get("performer"), obj.get("title")
            song = " – ".join(p for p in (performer, title) if isinstance(p, str) and p)
            text = song or attachment.name or "[audio]"
        elif media_type == "video_file":
            text = attachment.name or "[video]"
        else:
            text = attachment.name or "[file]"
        return kind, text, _kept(attachment)
    if "contact_information" in obj:
        info = obj.get("contact_information") or {}
        if not isinstance(info, dict):
            raise _Malformed('"contact_information" is not an object')
        name = " ".join(str(info[k]) for k in ("first_name", "last_name") if info.get(k))
        phone = info.get("phone_number") or ""
        attachments: tuple[Attachment, ...] = ()
        if "contact_vcard" in obj:
            attachment, note = _attachment(obj["contact_vcard"], size=obj.get("contact_vcard_file_size"))
            attachments = (attachment,) if attachment.path else ()
        return Kind.CONTACT, " ".join(p for p in ("[contact]", name, str(phone)) if p), attachments
    if "location_information" in obj or "place_name" in obj:
        place = ", ".join(str(obj[k]) for k in ("place_name", "address") if obj.get(k))
        point = obj.get("location_information")
        if not place and isinstance(point, dict):
            place = f"{point.get('latitude')}, {point.get('longitude')}"
        live = " (live)" if "live_location_period_seconds" in obj else ""
        return Kind.LOCATION, f"[location{live}] {place}".rstrip(), ()
    if "poll" in obj:
        poll = obj.get("poll")
        if not isinstance(poll, dict):
            raise _Malformed('"poll" is not an object')
        question, _ = _join_text(poll.get("question"), "poll.question")
        lines = [f"[poll] {question}".rstrip()]
        answers = poll.get("answers")
        for answer in answers if isinstance(answers, list) else ():
            if isinstance(answer, dict):
                lines.append("- " + _join_text(answer.get("text"), "poll.answers.text")[0])
        return Kind.POLL, "\n".join(lines), ()
    if "todo_list" in obj:
        todo = obj.get("todo_list") or {}
        title = _join_text(todo.get("title"), "todo_list.title")[0] if isinstance(todo, dict) else ""
        return Kind.OTHER, f"[to-do list] {title}".rstrip(), ()
    if "game_title" in obj:
        return Kind.OTHER, f"[game] {obj.get('game_title') or ''}".rstrip(), ()
    if "invoice_information" in obj:
        invoice = obj.get("invoice_information") or {}
        title = invoice.get("title", "") if isinstance(invoice, dict) else ""
        return Kind.OTHER, f"[invoice] {title}".rstrip(), ()
    if "giveaway_information" in obj or "giveaway_results" in obj:
        return Kind.OTHER, "[giveaway]", ()
    if "paid_stars_amount" in obj:
        return Kind.OTHER, "[paid media]", ()
    return Kind.TEXT, "", ()


# tdesktop writes amounts in the currency's smallest unit (Telegram Payments API "exp").
_ZERO_DECIMALS = frozenset(
    "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF XTR".split()
)
_THREE_DECIMALS = frozenset("BHD IQD JOD KWD LYD OMR TND".split())


def _money(amount: Any, currency: Any) -> tuple[str | None, str | None]:
    minor = _int(amount)
    if minor is None or not isinstance(currency, str) or not currency:
        return None, None
    code = currency.upper()
    exp = 0 if code in _ZERO_DECIMALS else 3 if code in _THREE_DECIMALS else 2
    return str(Decimal(minor).scaleb(-exp)), code


_CALL_ACTIONS = {"phone_call": "Phone call", "conference_call": "Group call", "group_call": "Voice chat"}


def _names(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) if v is not None else "Deleted Account" for v in value)
    return ""


def _describe_service(action: str | None, actor: str, obj: dict) -> str:
    """A one-line English description of a service message (the exporter leaves "text" empty)."""
    title = obj.get("title") if isinstance(obj.get("title"), str) else ""
    members = _names(obj.get("members"))
    if action in _CALL_ACTIONS:
        duration = _clock(_int(obj.get("duration_seconds")) or _int(obj.get("duration")))
        reason = obj.get("discard_reason")
        text = _CALL_ACTIONS[action] + (f", {duration}" if duration else "")
        return text + (f" ({reason})" if isinstance(reason, str) and reason else "")
    if action == "create_group":
        return f"{actor} created group «{title}»" + (f" with {members}" if members else "")
    if action == "create_channel":  # also how supergroups begin
        return f"{actor} created «{title}»"
    if action == "edit_group_title":
        return f"{actor} changed the group name to «{title}»"
    if action == "edit_group_photo":
        return f"{actor} changed the group photo"
    if action == "delete_group_photo":
        return f"{actor} removed the group photo"
    if action == "invite_members":
        return f"{actor} joined the group" if members == actor else f"{actor} added {members}"
    if action == "remove_members":
        return f"{actor} left the group" if members == actor else f"{actor} removed {members}"
    if action == "join_group_by_link":
        return f"{actor} joined the group via invite link"
    if action == "join_group_by_request":
        return f"{actor} was accepted into the group"
    if action in ("migrate_to_supergroup", "migrate_from_group"):
        return "The group was upgraded to a supergroup"
    if action == "pin_message":
        return f"{actor} pinned message {obj.get('message_id')}"
    if action == "clear_history":
        return "History cleared"
    if action == "take_screenshot":
        return f"{actor} took a screenshot"
    if action == "joined_telegram":
        return f"{actor} joined Telegram"
    if action == "send_payment":
        amount, currency = _money(obj.get("amount"), obj.get("currency"))
        return f"Payment sent: {amount} {currency}" if amount else "Payment sent"
    if action == "topic_created":
        return f"{actor} created topic «{title}»"
    if action == "set_messages_ttl":
        return f"{actor} set messages to auto-delete after {obj.get('period')} s"
    if action == "invite_to_group_call":
        return f"{actor} invited {members} to the voice chat"
    info = obj.get("information_text")
    if isinstance(info, str) and info:
        return info
    what = (action or "service message").replace("_", " ")
    return f"{actor}: {what}" if actor else what


_EXTRA_KEYS = (
    "action", "title", "members", "inviter", "message_id", "duration_seconds", "duration",
    "discard_reason", "is_missed", "forwarded_from", "forwarded_from_id", "saved_from", "via_bot",
    "author", "reply_to_peer_id", "media_type", "sticker_emoji", "performer", "width", "height",
    "self_destruct_period_seconds", "live_location_period_seconds", "location_information",
    "place_name", "address", "contact_information", "poll", "todo_list", "information_text",
    "game_title", "invoice_information", "period", "schedule_date", "new_title", "emoticon",
    "reactions", "media_spoiler", "paid_stars_amount", "amount", "currency",
)


# ---- the parser -----------------------------------------------------------------------------

def _senders_by_chat(path: Path, encoding: str) -> dict[tuple[str, int], list[str]]:
    """First pass for minimal exports: each chat's sender names, in order of first appearance,
    keyed like :attr:`_Chat.key`. Syntax errors are left for the main pass to report with a line."""
    found: dict[tuple[str, int], dict[str, None]] = {}
    counts: dict[str, int] = {}
    stream = _open_utf8(path, encoding)
    try:
        for prefix, event, value in ijson.parse(stream, buf_size=_CHUNK):
            if event == "start_map" and prefix in _CONTAINERS:
                counts[prefix] = counts.get(prefix, -1) + 1
            elif event == "string" and prefix.endswith("messages.item.from"):
                container = prefix[: -len("messages.item.from")].rstrip(".")
                if container in _CONTAINERS and value:
                    found.setdefault((container, counts.get(container, 0)), {})[value] = None
    except (ijson.JSONError, UnicodeDecodeError):
        pass
    finally:
        stream.close()
    return {key: list(names) for key, names in found.items()}


_CONTAINERS = ("", "chats.list.item", "left_chats.list.item")
_HEADER: dict[str, tuple[str, str]] = {}
for _container in _CONTAINERS:
    _dot = _container + "." if _container else ""
    for _field in ("name", "type", "id", "messages"):
        _HEADER[_dot + _field] = (_container, _field)
_EXPORT_KEYS = frozenset({"messages", "chats", "left_chats", "personal_information", "about"})


class _Chat:
    __slots__ = ("name", "type", "id", "conversation_id", "title", "last", "pending", "left", "key", "derived")

    def __init__(self, left: bool, key: tuple[str, int] = ("", 0)):
        self.key = key  # (container, n-th chat in it): finds the chat's senders in the first pass
        self.derived = False  # conversation_id derived (no chat "id" in the file)
        self.name: str | None = None
        self.type: str | None = None
        self.id: Any = None
        self.conversation_id = ""
        self.title: str | None = None
        self.last: datetime | None = None  # instant of the latest dated message
        self.pending: list[tuple[dict, int]] = []  # "unsupported" messages waiting for a date
        self.left = left


class _Parser:
    def __init__(self, path: Path, options: ParseOptions):
        self.path = path
        self.options = options
        self.me_id: str | None = None
        self.me_fold = options.me.casefold() if options.me else None
        self.senders: dict[tuple[str, int], list[str]] | None = None
        with open(path, "rb") as handle:
            self.encoding = sniff_encoding(handle.read(HEAD_BYTES))

    def error(self, line: int | None, message: str) -> ParseError:
        return ParseError(str(self.path), line, message)

    def run(self) -> Iterator[Record]:
        reader = _CountingReader(_open_utf8(self.path, self.encoding))
        locator = _Locator(_open_utf8(self.path, self.encoding))
        try:
            yield from self._events(reader, locator)
        finally:
            reader.close()
            locator.close()

    def _events(self, reader: _CountingReader, locator: _Locator) -> Iterator[Record]:
        sink = sendable_list()
        coros: dict[str, Any] = {}
        chats: dict[str, _Chat] = {}
        counts: dict[str, int] = {}
        chat: _Chat | None = None
        messages_prefix = ""
        send = None
        found = False  # a message was located (its line is known)
        top_keys = 0
        saw_top = False
        try:
            for event_tuple in guarded_events(reader, str(self.path), lambda: reader.line, _CHUNK):
                if send is not None:
                    if event_tuple[1] == "end_array" and event_tuple[0] == messages_prefix:
                        yield from self._flush_pending(chat)
                        send = None
                        continue
                    send(event_tuple)
                    if sink:
                        obj = sink.pop()
                        line = None
                        if isinstance(obj, dict):
                            message_id = obj.get("id")
                            if _int(message_id) is not None:
                                line = locator.find(message_id, reader.consumed)
                            elif chat is not None and chat.derived:
                                key = next((k for k in ("date_unixtime", "date") if k in obj), None)
                                line = locator.find_key(key, reader.consumed) if key else None
                        if line is None:
                            line = reader.line
                        else:
                            found = True
                        yield from self._message(obj, chat, line)
                    continue
                prefix, event, value = event_tuple
                if not prefix:
                    if event == "start_map":
                        saw_top = True
                    elif event == "map_key" and value in _EXPORT_KEYS:
                        top_keys += 1
                    elif event in ("start_array", "string", "number", "boolean", "null"):
                        raise self.error(1, "not a Telegram export: the top level is not a JSON object")
                    if event != "start_map":
                        continue
                if event == "start_map" and prefix in _CONTAINERS:
                    counts[prefix] = counts.get(prefix, -1) + 1
                    chats[prefix] = _Chat(left=prefix.startswith("left_chats"), key=(prefix, counts[prefix]))
                    continue
                if prefix == "personal_information.user_id" and event == "number":
                    self.me_id = f"user{value}"
                    continue
                hit = _HEADER.get(prefix)
                if hit is None:
                    continue
                container, field = hit
                current = chats.get(container)
                if current is None:
                    continue
                if field == "messages":
                    if event != "start_array":
                        raise self.error(reader.line, '"messages" is not an array')
                    chat = current
                    self._open_chat(chat, locator.seek_messages(reader.consumed) or reader.line)
                    messages_prefix = prefix
                    item = prefix + ".item"
                    if item not in coros:
                        coros[item] = _items_basecoro(sink, item).send
                    send = coros[item]
                    yield Conversation(
                        platform=PLATFORM,
                        conversation_id=chat.conversation_id,
                        title=chat.title,
                        type=CHAT_TYPES.get(chat.type or "", ConversationType.UNKNOWN),
                    )
                elif field == "name":
                    current.name = value if isinstance(value, str) else None
                elif field == "type":
                    current.type = value if isinstance(value, str) else None
                elif field == "id":
                    current.id = value
        except ijson.JSONError as error:
            line = _syntax_error_line(self.path, self.encoding, reader, locator, found)
            raise self.error(line, _json_error_text(error)) from None
        except UnicodeDecodeError as error:
            raise self.error(reader.line, f"cannot decode text as {self.encoding}: {error.reason}") from None
        if not saw_top or not top_keys:
            raise self.error(1, "not a Telegram Desktop export: no \"messages\" or \"chats\" at the top level")

    def _open_chat(self, chat: _Chat, line: int) -> None:
        chat.title = chat.name or _NAMELESS_TITLES.get(chat.type or "")
        if _int(chat.id) is not None:
            chat.conversation_id = str(chat.id)
            return
        if chat.id is not None:
            raise self.error(line, f'a chat\'s "id" is not a number: {chat.id!r}')
        # a minimal export ({"messages": [...]} alone): no chat id, so one is derived, as WhatsApp's is
        if self.senders is None:
            self.senders = _senders_by_chat(self.path, self.encoding)
        senders = self.senders.get(chat.key, [])
        if senders:
            chat.conversation_id = "participants:" + ", ".join(sorted(senders))
            chat.title = chat.title or ", ".join(senders)
        else:
            chat.conversation_id = f"file:{self.path.name}#{chat.key[1] + 1}"
        chat.derived = True

    def _flush_pending(self, chat: _Chat | None) -> Iterator[Message]:
        if chat is None or not chat.pending:
            return
        pending, chat.pending = chat.pending, []
        moment = chat.last
        for obj, line in pending:
            yield self._unsupported(obj, chat, line, moment)

    def _unsupported(self, obj: dict, chat: _Chat, line: int, moment: datetime | None) -> Message:
        extras: dict[str, Any] = {"unsupported": True}
        if moment is None:
            moment, extras["date_unknown"] = from_unix(0, self.options.tz), True
        else:
            extras["date_from_neighbour"] = True
        return Message(
            platform=PLATFORM,
            conversation_id=chat.conversation_id,
            conversation_title=chat.title,
            sent_at=moment,
            kind=Kind.OTHER,
            text="[unsupported message]",
            message_id=str(obj["id"]) if "id" in obj else None,
            position=line,
            extras=extras,
        )

    def _message(self, obj: Any, chat: _Chat | None, line: int) -> Iterator[Message]:
        assert chat is not None
        try:
            if not isinstance(obj, dict):
                raise _Malformed(f"a message is a {type(obj).__name__}, not an object")
            if _int(obj.get("id")) is None and (not chat.derived or "id" in obj):
                raise _Malformed('a message has no numeric "id"')  # only minimal exports leave it out
            if obj.get("type") == "unsupported":
                if chat.last is not None:
                    yield self._unsupported(obj, chat, line, chat.last)
                else:
                    chat.pending.append((obj, line))
                return
            message = self._build(obj, chat, line)
        except _Malformed as error:
            raise self.error(line, f"message {obj.get('id') if isinstance(obj, dict) else '?'}: {error}") from None
        if chat.pending:
            pending, chat.pending = chat.pending, []
            for old, old_line in pending:
                yield self._unsupported(old, chat, old_line, message.sent_at)
        chat.last = message.sent_at
        yield message

    def _build(self, obj: dict, chat: _Chat, line: int) -> Message:
        native_type = obj.get("type")
        sent_at = _instant(obj, "date_unixtime", "date", self.options)
        if sent_at is None:
            raise _Malformed('no "date" or "date_unixtime"')
        edited_at = _instant(obj, "edited_unixtime", "edited", self.options)
        service = native_type == "service"
        if service and ("actor" in obj or "actor_id" in obj):
            name_value, id_value = obj.get("actor"), obj.get("actor_id")
        else:
            name_value, id_value = obj.get("from"), obj.get("from_id")
        sender_name = name_value if isinstance(name_value, str) else None
        sender_id = _peer_id(id_value)
        if "text" in obj:
            text, links = _join_text(obj["text"])
        else:
            text, links = _join_text(obj.get("text_entities"), "text_entities")
        extras: dict[str, Any] = {k: _jsonable(obj[k]) for k in _EXTRA_KEYS if k in obj}
        if links:
            extras["links"] = links
        if native_type not in ("message", "service") and not (native_type is None and chat.derived):
            extras["native_type"] = _jsonable(native_type)
        if chat.derived:
            extras["conversation_id_derived"] = chat.conversation_id.split(":", 1)[0]
        if chat.left:
            extras["left_chat"] = True
        amount = currency = None
        attachments: tuple[Attachment, ...] = ()
        if service:
            action = obj.get("action") if isinstance(obj.get("action"), str) else None
            kind = Kind.CALL if action in _CALL_ACTIONS else Kind.SYSTEM
            if action == "send_payment":
                amount, currency = _money(obj.get("amount"), obj.get("currency"))
                if amount is not None:
                    kind = Kind.TRANSFER
            if "photo" in obj:  # edit_group_photo / suggest_profile_photo carry the new photo
                attachment, _ = _attachment(obj["photo"], size=obj.get("photo_file_size"))
                attachments = (attachment,) if attachment.path else ()
            if not text.strip():
                text = _describe_service(action, sender_name or "", obj)
        else:
            kind, description, attachments = _media(obj, extras)
            if not text.strip() and description:
                text = description
        reply = obj.get("reply_to_message_id")
        return Message(
            platform=PLATFORM,
            conversation_id=chat.conversation_id,
            conversation_title=chat.title,
            sent_at=sent_at,
            kind=kind,
            text=text,
            sender_id=sender_id,
            sender_name=sender_name,
            message_id=str(obj["id"]) if "id" in obj else None,
            reply_to=str(reply) if _int(reply) is not None else None,
            edited_at=edited_at,
            amount=amount,
            currency=currency,
            attachments=attachments,
            is_me=self._is_me(sender_id, sender_name),
            position=line,
            extras=extras,
        )

    def _is_me(self, sender_id: str | None, sender_name: str | None) -> bool | None:
        if self.me_id is not None and sender_id == self.me_id:
            return True
        if self.me_fold is not None and (
            (sender_name is not None and sender_name.casefold() == self.me_fold) or sender_id == self.options.me
        ):
            return True
        if self.me_id is not None or self.me_fold is not None:
            return False
        return None


def parse(path: Path, options: ParseOptions) -> Iterator[Record]:
    """Stream the Conversation and Message records of a Telegram Desktop ``result.json``."""
    yield from _Parser(Path(path), options).run()
