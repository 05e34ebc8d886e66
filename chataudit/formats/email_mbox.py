"""E-mail: mbox files (RFC 4155, mboxo/mboxrd), single .eml files, or a folder of them.

Reads what Thunderbird, Apple Mail ("Export Mailbox"), Gmail/Google Takeout (``*.mbox``),
mutt and Python's :mod:`mailbox` write, and the ``.eml`` files Outlook, Foxmail and QQ Mail
save.

* **Streaming.** An mbox is split by a splitter of our own over binary lines (a separator is a
  ``From `` line at the start of the file or after a blank line, carrying a time and a year — or
  any ``From `` line followed by a header, like Thunderbird's bare ``From -``; a leading BOM is
  ignored; a ``Content-Length`` that ends at the next separator is trusted, mboxcl2); one message at a
  time is parsed with :class:`email.parser.BytesParser`.  ``position`` is the line number of the
  message's ``From `` separator (1 for an .eml).  ``>From `` lines are unescaped (mboxrd).
  The parser runs with ``policy.compat32`` so that header and parameter decoding stays ours:
  charsets are read through :data:`email_text.CHARSET_ALIASES` (gb2312/GBK → GB18030, big5 →
  big5hkscs), which the stdlib decoders would otherwise replace with U+FFFD.
* **Threads.** jwz-style, over the whole mbox or folder (:mod:`.email_thread`): a first pass reads
  the threading headers of every message, so a reply naming only its parent joins its grandparent's
  thread; ``conversation_id`` is the thread's root, and the thread's Message-IDs go to the store as
  :attr:`~chataudit.model.Conversation.aliases` so that a reply imported later joins the stored thread.
  Subjects are compared without prefixes (Re:/AW:/SV:/Réf./回复：/答复:/转发: …, RE[2]:).
* **Time.** ``sent_at`` comes from ``Date:`` with its own offset; a date without zone is read in
  ``--tz``; ``-0000`` is UTC.  Without a usable ``Date:`` the mbox ``From `` line date is used
  (UTC per RFC 4155, or ``--tz`` when given); with neither, ParseError.
* **Text.** text/plain, else HTML turned into text.  Quoted history and signature are split off
  (:func:`email_text.split_reply`) into ``extras["quoted"]`` / ``extras["signature"]``.
* **Attachments.** Every non-body leaf part (and attached messages) becomes an
  :class:`~chataudit.model.Attachment` (decoded RFC 2231/2047 name, size and SHA-256 of the
  decoded payload, MIME type).  Kind FILE when the mail carries attachments and no text.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta, timezone
from email import policy as email_policy
from email.message import Message as MailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_tz
from pathlib import Path
from typing import Iterator

from ..errors import ParseError
from ..model import Attachment, Conversation, ConversationType, Kind, Message, Record, localize
from . import ParseOptions, read_whole
from .email_thread import Head, Threads
from .email_text import (
    decode_bytes,
    decode_words,
    html_to_text,
    normalize_subject,
    split_reply,
    unflow,
    unsurrogate,
)

NAME = "email"
PLATFORM = "email"
DESCRIPTION = (
    "E-mail: .mbox (RFC 4155 mboxo/mboxrd: Thunderbird, Apple Mail, Gmail Takeout), .eml files or a "
    "folder of them; threads from References/In-Reply-To"
)

MAIL_SUFFIXES = (".eml", ".mbox", ".mbx")

# ---- detection -----------------------------------------------------------------------------

_HEADER_LINE = re.compile(rb"^[!-9;-~]+:")  # RFC 5322 field name: printable ASCII except ':'
_FROM_TIME = re.compile(rb"\d{1,2}:\d{2}")
_FROM_YEAR = re.compile(rb"\b(?:19|20)\d\d\b")
_KNOWN_HEADERS = {b"received", b"message-id", b"mime-version", b"date", b"return-path", b"delivered-to",
                  b"x-mailer", b"content-type", b"subject", b"to"}


_BOM = b"\xef\xbb\xbf"
_CONTENT_LENGTH = re.compile(rb"^content-length:[ \t]*(\d{1,12})[ \t]*\r?\n?$", re.IGNORECASE)


def _is_separator(raw: bytes) -> bool:
    """A dated mbox ``From `` line: "From sender asctime-date" (Gmail adds +0000 before the year).

    Dated lines are separators wherever they follow a blank line (RFC 4155); a ``From `` line with
    no time ("From -", "From MAILER-DAEMON") only when a header line follows (:func:`_is_loose_separator`).
    """
    return (raw.startswith(b"From ") and len(raw) < 1000 and _FROM_TIME.search(raw) is not None
            and _FROM_YEAR.search(raw) is not None)


def _is_loose_separator(raw: bytes, following: bytes) -> bool:
    """Any other ``From `` line (Thunderbird's bare "From -", "From user") followed by a header line.

    jwz: "the random crap that has traditionally been dumped into that line is without bound";
    requiring a header after it keeps "From now on…" in an unescaped body from splitting a message.
    """
    return (raw.startswith(b"From ") or raw.rstrip(b"\r\n") == b"From") and len(raw) < 1000 \
        and _HEADER_LINE.match(following) is not None


def _header_names(lines: list[bytes]) -> list[bytes] | None:
    """Field names of a header block (lines up to the first blank one), or None if a line is not a header."""
    names = []
    for raw in lines:
        line = raw.rstrip(b"\r\n")
        if not line:
            break
        if line[:1] in (b" ", b"\t"):
            if not names:
                return None
            continue
        if not _HEADER_LINE.match(line):
            return None
        names.append(line.split(b":", 1)[0].strip().lower())
    return names


def detect(path: Path, head: bytes) -> float:
    try:
        if path.is_dir() or not head:
            return 0.0
        suffix = path.suffix.lower()
        lines = head.removeprefix(_BOM).split(b"\n")
        lines = lines[:-1] or lines  # the last piece may be cut by the head size
        while lines and not lines[0].strip():
            lines = lines[1:]
        if not lines:
            return 0.0
        if _is_separator(lines[0]) or (len(lines) > 1 and _is_loose_separator(lines[0], lines[1])):
            names = _header_names(lines[1:40])
            if names and len(names) >= 2 and set(names) & _KNOWN_HEADERS:
                return 0.95 if suffix in (".mbox", ".mbx", "") else 0.9
            return 0.0
        names = _header_names(lines[:200])
        if not names or len(names) < 3:
            return 0.0
        known = set(names) & _KNOWN_HEADERS
        if b"from" in names and known & {b"date", b"message-id", b"received", b"mime-version"}:
            return 0.95 if suffix == ".eml" else 0.85
        return 0.0
    except Exception:
        return 0.0


# ---- mbox splitting ------------------------------------------------------------------------

def _split_mbox(path: Path) -> Iterator[tuple[int, bytes, list[bytes]]]:
    """(line of the From_ separator, the separator, the message's lines unescaped) for each message.

    Separators are :func:`_is_separator` lines, or :func:`_is_loose_separator` ones, after a blank
    line or at the start (a UTF-8 BOM before the first is ignored).  A ``Content-Length`` header
    (mboxcl/mboxcl2) is trusted when the body it measures ends where a separator (or the end of
    the file) begins: ``From `` lines inside such a body are text, even unescaped.
    """
    with open(path, "rb") as handle:
        start: int | None = None
        separator = b""
        lines: list[bytes] = []
        previous_blank = True
        in_headers = False
        length: int | None = None
        number = 0
        while raw := handle.readline():
            number += 1
            if number == 1:
                raw = raw.removeprefix(_BOM)
            if previous_blank and _separator_here(raw, handle):
                if start is not None:
                    yield start, separator, _drop_separator_blank(lines)
                start, separator, lines = number, raw, []
                previous_blank, in_headers, length = False, True, None
                continue
            if start is None:
                if raw.strip():
                    raise ParseError(str(path), number, "not an mbox file: a message must start with a 'From ' separator line")
                continue
            blank = raw.strip(b"\r\n") == b""
            if in_headers:
                if blank:
                    in_headers = False
                    lines.append(raw)
                    if length and _length_fits(handle, length):
                        body = _LINES.findall(handle.read(length))
                        number += len(body)
                        lines.extend(_unquote(line) for line in body)
                        previous_blank = True  # _length_fits saw a separator or blank line next
                        continue
                elif raw[:1] not in (b" ", b"\t") and (found := _CONTENT_LENGTH.match(raw)):
                    length = int(found.group(1))
            lines.append(_unquote(raw))
            previous_blank = blank
        if start is not None:
            yield start, separator, _drop_separator_blank(lines)


_LINES = re.compile(rb"[^\n]*\n|[^\n]+$")


def _unquote(raw: bytes) -> bytes:
    """mboxrd/mboxo: one level of >From quoting is the format's, not the writer's."""
    if raw.startswith(b">") and raw.lstrip(b">").startswith(b"From "):
        return raw[1:]
    return raw


def _separator_here(raw: bytes, handle) -> bool:  # noqa: ANN001
    if not raw.startswith(b"From"):
        return False
    if _is_separator(raw):
        return True
    position = handle.tell()
    following = handle.readline()
    handle.seek(position)
    return _is_loose_separator(raw, following)


def _length_fits(handle, length: int) -> bool:  # noqa: ANN001
    """Does a body of ``length`` bytes from here end at a line end followed by a separator or the end?"""
    position = handle.tell()
    try:
        handle.seek(position + length - 1)
        chunk = handle.read(8)
    finally:
        handle.seek(position)
    if chunk[:1] != b"\n":
        return False
    after = chunk[1:]
    return after == b"" or after.startswith((b"From ", b"\nFrom ", b"\r\nFrom "))


def _drop_separator_blank(lines: list[bytes]) -> list[bytes]:
    if lines and lines[-1].strip(b"\r\n") == b"":
        return lines[:-1]
    return lines


def _check_headers(path: Path, start: int, first_line: int, lines: list[bytes]) -> dict[str, int]:
    """The header block must end with a blank line and hold only header lines: a cut message fails here.

    ``start`` is the message's first line (its separator in an mbox), ``first_line`` that of ``lines[0]``.
    Returns the line of each header field's first occurrence (lower-case name → line).
    """
    found: dict[str, int] = {}
    for offset, raw in enumerate(lines):
        line = raw.rstrip(b"\r\n")
        if not line:
            if offset == 0:
                raise ParseError(str(path), first_line, "message has no headers")
            return found
        if line[:1] in (b" ", b"\t") and offset > 0:
            continue
        if _HEADER_LINE.match(line):
            found.setdefault(line.split(b":", 1)[0].strip().lower().decode("ascii"), first_line + offset)
            continue
        if _is_separator(raw):
            why = "message is truncated inside its headers (a new 'From ' separator follows)"
        else:
            why = f"malformed header line {line[:60].decode('ascii', 'replace')!r}"
        raise ParseError(str(path), first_line + offset, why)
    last = first_line + max(len(lines) - 1, 0)
    raise ParseError(str(path), last, f"message starting at line {start} ends inside its headers (truncated)")


# ---- header helpers ------------------------------------------------------------------------

def _raw_all(msg: MailMessage, name: str) -> list[str]:
    """Header values as stored: raw 8-bit bytes survive as surrogates (``msg.get`` would turn them into U+FFFD)."""
    name = name.lower()
    return [value if isinstance(value, str) else str(value) for key, value in msg.raw_items() if key.lower() == name]


def _raw(msg: MailMessage, name: str) -> str | None:
    values = _raw_all(msg, name)
    return values[0] if values else None


def _param(part: MailMessage, header: str, name: str):  # noqa: ANN202
    """A header parameter, with raw 8-bit values (UTF-8 or GBK file names) recovered first."""
    raw = _raw(part, header)
    if raw is None:
        return None
    scratch = MailMessage()
    scratch[header] = unsurrogate(raw)
    return scratch.get_param(name, header=header)


def _ids(value: str | None) -> list[str]:
    """Message-IDs in a References/In-Reply-To/Message-ID value, without angle brackets."""
    if not value:
        return []
    value = unsurrogate(value)
    found = re.findall(r"<([^<>\s]+)>", value)
    if found:
        return found
    return [token for token in value.split() if "@" in token]


def _addresses(msg: MailMessage, name: str) -> list[dict[str, str]]:
    values = [unsurrogate(v) for v in _raw_all(msg, name)]
    if not values:
        return []
    values = [re.sub(r"\r?\n[ \t]+", " ", v) for v in values]
    out = []
    for display, address in getaddresses(values):
        entry = {"address": address.strip().lower()}
        display = " ".join(decode_words(display).split())  # blanks fold in an encoded word too, as in a phrase
        if display:
            entry["name"] = display
        if entry["address"] or display:
            out.append(entry)
    return out


_ISO_DATE = re.compile(
    r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?\s*(Z|[+-]\d{2}:?\d{2})?"
)


def _parse_date(value: str, options: ParseOptions) -> datetime | None:
    value = decode_words(value)
    if not value:
        return None
    fields = parsedate_tz(value)
    if fields is not None and fields[0] is not None:
        try:
            year, month, day, hour, minute, second = fields[:6]
            naive = datetime(year, month, day, hour, minute, second)
        except (ValueError, TypeError, OverflowError):
            naive = None
        if naive is not None:
            offset = fields[9]
            if offset is None:
                if re.search(r"-0000\b", value):
                    return naive.replace(tzinfo=timezone.utc)
                return localize(naive, options.tz)
            try:
                return naive.replace(tzinfo=timezone(timedelta(seconds=offset)))
            except (ValueError, OverflowError):  # an offset no zone has ("+99999999")
                return None
    match = _ISO_DATE.search(value)  # "2019-07-18 11:10:00 +0800", written by some web mailers
    if match:
        try:
            naive = datetime(*(int(g or 0) for g in match.groups()[:6]))
        except ValueError:
            return None
        zone_text = match.group(7)
        if not zone_text:
            return localize(naive, options.tz)
        if zone_text == "Z":
            return naive.replace(tzinfo=timezone.utc)
        digits = zone_text.replace(":", "")
        sign = -1 if digits[0] == "-" else 1
        return naive.replace(tzinfo=timezone(sign * timedelta(hours=int(digits[1:3]), minutes=int(digits[3:5]))))
    return None


_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}
_SEPARATOR_DATE = re.compile(
    r"([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s+(?:([+-]\d{4})\s+)?(\d{4})"
)


def _separator_date(separator: bytes, options: ParseOptions) -> datetime | None:
    """Date of a From_ line: "From a@b Thu Jan  1 00:00:00 2015" (asctime, UTC per RFC 4155) or Gmail's "+0000 2015"."""
    text = separator.decode("ascii", "replace")
    match = _SEPARATOR_DATE.search(text)
    if not match:
        # other writers' dates: "Thu Jan  1 00:00:00 MST 2015", "Sat, 06 Jun 2020 12:00:00 +0000"
        rest = text.split(None, 2)[2:]  # after "From" and the sender
        return _parse_date(rest[0], options) if rest and _FROM_TIME.search(rest[0].encode()) else None
    month = _MONTHS.get(match.group(1).lower())
    if not month:
        return None
    try:
        naive = datetime(int(match.group(7)), month, int(match.group(2)), int(match.group(3)),
                         int(match.group(4)), int(match.group(5) or 0))
    except ValueError:
        return None
    zone_text = match.group(6)
    if zone_text:
        sign = -1 if zone_text[0] == "-" else 1
        return naive.replace(tzinfo=timezone(sign * timedelta(hours=int(zone_text[1:3]), minutes=int(zone_text[3:5]))))
    return localize(naive, options.tz) if options.tz_given else naive.replace(tzinfo=timezone.utc)


# ---- body and attachments ------------------------------------------------------------------

def _leaves(part: MailMessage) -> Iterator[MailMessage]:
    """Leaf parts in order; an attached message (message/rfc822) is a leaf, not descended into."""
    if part.get_content_type() == "message/rfc822":
        yield part
        return
    if part.is_multipart():
        payload = part.get_payload()
        if isinstance(payload, list):
            for sub in payload:
                yield from _leaves(sub)
        return
    yield part


def _filename(part: MailMessage) -> str | None:
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        value = _param(part, header, param)
        if not value:
            continue
        if isinstance(value, tuple):  # RFC 2231: (charset, language, percent-decoded latin-1 text)
            charset, _language, text = value
            try:
                raw = text.encode("latin-1")
            except UnicodeEncodeError:
                return decode_words(text)
            return decode_bytes(raw, charset or "utf-8")[0].strip() or None
        return decode_words(str(value).strip('"')) or None
    return None


def _is_attachment_part(part: MailMessage) -> bool:
    disposition = (_raw(part, "content-disposition") or "").split(";")[0].strip().lower()
    return disposition == "attachment" or _filename(part) is not None


def _attachment(part: MailMessage) -> Attachment:
    name = _filename(part)
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        inner_msg = inner[0] if isinstance(inner, list) and inner else None
        try:
            data = inner_msg.as_bytes(policy=email_policy.compat32) if inner_msg is not None else b""
        except Exception:
            data = b""
        if name is None and inner_msg is not None:
            subject = decode_words(_raw(inner_msg, "subject"))
            name = f"{subject or 'message'}.eml"
    else:
        data = part.get_payload(decode=True) or b""
    return Attachment(name=name, size=len(data), sha256=hashlib.sha256(data).hexdigest(), mime=part.get_content_type())


def _body(msg: MailMessage) -> tuple[MailMessage | None, list[MailMessage]]:
    """The part the text is read from (first inline text/plain, else first inline text/html) and the attachments."""
    leaves = list(_leaves(msg)) if msg.is_multipart() else [msg]
    body = None
    for wanted in ("text/plain", "text/html"):
        body = next((p for p in leaves if p.get_content_type() == wanted and not _is_attachment_part(p)), None)
        if body is not None:
            break
    attachments = [
        p for p in leaves
        if p is not body and not (p.get_content_type() in ("text/plain", "text/html") and not _is_attachment_part(p))
    ]
    return body, attachments


def _body_text(part: MailMessage) -> tuple[str, dict]:
    notes: dict = {}
    data = part.get_payload(decode=True) or b""
    charset = part.get_content_charset()
    text, clean = decode_bytes(data, charset)
    if not clean:
        notes["decode_errors"] = True
    if charset:
        notes["charset"] = charset
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if part.get_content_type() == "text/html":
        notes["html"] = True
        text = html_to_text(text)
    elif (part.get_param("format") or "").lower() == "flowed":
        text = unflow(text, delsp=(part.get_param("delsp") or "").lower() == "yes")
    return text, notes


# ---- records -------------------------------------------------------------------------------

def head_of(msg: MailMessage) -> Head:
    """The headers threading reads (:mod:`.email_thread`)."""
    raw_subject = re.sub(r"\s+", " ", decode_words(_raw(msg, "subject"))).strip()
    subject = normalize_subject(raw_subject)
    own = _ids(_raw(msg, "message-id"))
    return Head(
        own=own[0] if own else None,
        in_reply_to=tuple(_ids(_raw(msg, "in-reply-to"))[:1]),
        references=tuple(_ids(_raw(msg, "references"))),
        subject=subject.casefold(),
        is_reply=subject != raw_subject,
    )


def _message(path: Path, line: int, separator: bytes | None, raw: bytes, options: ParseOptions,
             header_lines: dict[str, int], threads: Threads) -> tuple[Conversation, Message]:
    msg = BytesParser(policy=email_policy.compat32).parsebytes(raw)
    extras: dict = {}

    sent_at = None
    date_value = _raw(msg, "date")
    if date_value:
        sent_at = _parse_date(date_value, options)
    if sent_at is None and separator:
        sent_at = _separator_date(separator, options)
        if sent_at is not None:
            extras["date_source"] = "mbox separator"
            if date_value:
                extras["date_raw"] = decode_words(date_value)
    if sent_at is None:
        if date_value:
            raise ParseError(str(path), header_lines.get("date", line),
                             f"unreadable Date header {decode_words(date_value)!r} and no mbox separator date")
        raise ParseError(str(path), line, "no Date header and no mbox separator date")

    senders = _addresses(msg, "from") or _addresses(msg, "sender")
    sender = senders[0] if senders else {}
    to, cc, bcc = _addresses(msg, "to"), _addresses(msg, "cc"), _addresses(msg, "bcc")
    subject = decode_words(_raw(msg, "subject"))
    head = head_of(msg)
    conversation_id, aliases = threads.thread(head)
    rule = "subject-reply" if head.node in threads.joined_by_subject else head.rule
    message_ids = _ids(_raw(msg, "message-id"))
    in_reply_to = _ids(_raw(msg, "in-reply-to"))
    references = _ids(_raw(msg, "references"))

    body, attachment_parts = _body(msg)
    text, quoted, signature = "", "", ""
    if body is not None:
        full, notes = _body_text(body)
        extras.update(notes)
        text, quoted, signature = split_reply(full)
    attachments = tuple(_attachment(p) for p in attachment_parts)
    kind = Kind.TEXT
    if not text.strip() and attachments:
        kind = Kind.FILE
        text = ", ".join(a.name or a.mime or "attachment" for a in attachments)

    extras["subject"] = subject
    if to:
        extras["to"] = to
    if cc:
        extras["cc"] = cc
    if bcc:
        extras["bcc"] = bcc
    if quoted:
        extras["quoted"] = quoted
    if signature:
        extras["signature"] = signature
    if references:
        extras["references"] = references
    extras["thread_rule"] = rule
    gmail_thread = _raw(msg, "x-gm-thrid")
    if gmail_thread:
        extras["gmail_thread_id"] = unsurrogate(gmail_thread).strip()
    labels = _raw(msg, "x-gmail-labels")
    if labels:
        extras["gmail_labels"] = decode_words(labels)
    if msg.defects:
        extras["defects"] = sorted({type(d).__name__ for d in msg.defects})

    sender_id = sender.get("address") or None
    sender_name = sender.get("name") or None
    is_me = None
    if options.me:
        me = options.me.strip().lower()
        is_me = me in {(sender_id or "").lower(), (sender_name or "").lower()}

    title = normalize_subject(subject) or None
    message = Message(
        platform=PLATFORM,
        conversation_id=conversation_id,
        conversation_title=title,
        sent_at=sent_at,
        kind=kind,
        text=text,
        sender_id=sender_id,
        sender_name=sender_name,
        message_id=message_ids[0] if message_ids else None,
        reply_to=in_reply_to[0] if in_reply_to else None,
        attachments=attachments,
        is_me=is_me,
        position=line,
        extras=extras,
    )
    members: dict[str, str | None] = {}
    for entry in [sender, *to, *cc]:
        if entry.get("address") and entry["address"] not in members:
            members[entry["address"]] = entry.get("name")
    conversation = Conversation(
        platform=PLATFORM,
        conversation_id=conversation_id,
        title=title,
        type=ConversationType.THREAD,
        members=tuple(members.items()),
        aliases=aliases,
    )
    return conversation, message


def _records(path: Path, line: int, separator: bytes | None, lines: list[bytes], options: ParseOptions,
             seen: set[str], threads: Threads) -> Iterator[Record]:
    header_lines = _check_headers(path, line, line + (1 if separator else 0), lines)
    try:
        conversation, message = _message(path, line, separator, b"".join(lines), options, header_lines, threads)
    except ParseError:
        raise
    except (ValueError, TypeError, IndexError, LookupError, AttributeError, UnicodeError, AssertionError) as error:
        raise ParseError(str(path), line, f"cannot read message: {error}") from None
    if conversation.conversation_id not in seen:
        seen.add(conversation.conversation_id)
        yield conversation
    yield message


def _eml_message(path: Path) -> Iterator[tuple[int, bytes | None, list[bytes]]]:
    with open(path, "rb") as handle:
        data = read_whole(handle, str(path))  # one message: the format forces a whole read
    lines = data.removeprefix(_BOM).splitlines(keepends=True)
    separator = None
    line = 1
    if lines and (_is_separator(lines[0]) or (len(lines) > 1 and _is_loose_separator(lines[0], lines[1]))):  # some tools save a single message with its From_ line
        separator, lines, line = lines[0], lines[1:], 1
    if not any(l.strip() for l in lines):
        raise ParseError(str(path), 1, "empty e-mail file")
    yield line, separator, lines


def _messages_of(path: Path) -> Iterator[tuple[int, bytes | None, list[bytes]]]:
    """(line, From_ separator or None, lines) of each message of one .mbox or .eml file."""
    with open(path, "rb") as handle:
        first = handle.readline().removeprefix(_BOM)
        while first and not first.strip():
            first = handle.readline()
        following = handle.readline()
    starts_mbox = _is_separator(first) or _is_loose_separator(first, following)
    if path.suffix.lower() in (".mbox", ".mbx") or path.name == "mbox" or (starts_mbox and path.suffix.lower() != ".eml"):
        yield from _split_mbox(path)
    else:
        yield from _eml_message(path)


def _thread_pass(files: list[Path]) -> Threads:
    """First pass: the threading headers of every message (a malformed one is reported by the second)."""
    threads = Threads()
    parser = BytesParser(policy=email_policy.compat32)
    for file in files:
        try:
            for _line, _separator, lines in _messages_of(file):
                end = next((i for i, raw in enumerate(lines) if not raw.strip(b"\r\n")), len(lines))
                threads.add(head_of(parser.parsebytes(b"".join(lines[:end]), headersonly=True)))
        except (ParseError, ValueError, TypeError, IndexError, LookupError, AttributeError, UnicodeError):
            continue
    return threads


def parse(path: Path, options: ParseOptions) -> Iterator[Record]:
    """Records of one .mbox/.eml file, or of every .eml/.mbox file under a folder (sorted by path).

    Two passes: the first reads only the threading headers of every message (so that a reply that
    names only its parent joins its grandparent's thread, :mod:`.email_thread`), the second the messages.
    """
    path = Path(path)
    files = [path]
    if path.is_dir():
        # Apple Mail exports a mailbox as a folder "Inbox.mbox/" whose messages are in a file "mbox"
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")
                       and (p.suffix.lower() in MAIL_SUFFIXES or p.name == "mbox"))
        if not files:
            raise ParseError(str(path), None, "no .eml or .mbox files in this folder")
    threads = _thread_pass(files)
    seen: set[str] = set()
    for file in files:
        for line, separator, lines in _messages_of(file):
            yield from _records(file, line, separator, lines, options, seen, threads)
