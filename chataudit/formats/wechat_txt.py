"""WeChat chat as plain text, in the layout MemoTrace/WeChatMsg's TXT exporter writes.

MemoTrace (``app/util/exporter/exporter_txt.py``) writes one block per message::

    2026-03-12 15:23:05 张三          <- StrTime (exporter's local time) and the display name
    content, possibly several lines
                                      <- a blank line ends the block

Non-text messages are placeholders (``[图片]``, ``[语音]``, ``[视频]``, ``[表情包]``, ``[文件]``,
``[音乐分享]``), a reply is its text plus ``引用:name:quoted`` (or ``引用:未知``), a shared link
is an indented ``[链接]:title:…/description:…/url:…/name:…`` block, and a system line is
``<time> <text>`` alone with no content line. Display names were HTML/JS-escaped by the exporter
and are unescaped here.

A blank line ends a message only when the next non-blank line is a header (or the file ends), so
blank lines inside a message are kept. Times are read in ``--tz`` (the exporter's zone).
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

from ..errors import ParseError
from ..model import Conversation, ConversationType, Kind, Message, Record, localize
from . import ParseOptions, head_text, numbered_lines
from .wechat_common import PLATFORM, clean_system_text, system_content

NAME = "wechat-txt"
DESCRIPTION = "WeChat plain text as MemoTrace/WeChatMsg's TXT export writes it ('YYYY-MM-DD HH:MM:SS name' then the content)"

HEADER = re.compile(r"^(?P<time>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (?P<rest>\S.*)$")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

PLACEHOLDER_KINDS: dict[str, Kind] = {
    "[图片]": Kind.IMAGE,
    "[语音]": Kind.VOICE,
    "[视频]": Kind.VIDEO,
    "[表情包]": Kind.STICKER,
    "[动画表情]": Kind.STICKER,
    "[文件]": Kind.FILE,
    "[音乐分享]": Kind.LINK,
    "[链接]": Kind.LINK,
    "[小程序]": Kind.LINK,
    "[转账]": Kind.TRANSFER,
    "[红包]": Kind.RED_PACKET,
    "[位置]": Kind.LOCATION,
    "[名片]": Kind.CONTACT,
    "[聊天记录]": Kind.CHAT_HISTORY,
    "[语音通话]": Kind.CALL,
    "[视频通话]": Kind.CALL,
    "[通话]": Kind.CALL,
}


def detect(path: Path, head: bytes) -> float:
    if not head:
        return 0.0
    try:
        lines = head_text(head).lstrip("\ufeff").replace("\r\n", "\n").split("\n")
        if len(head) >= 64 * 1024:
            lines = lines[:-1]  # the last line may be cut
        first = next((line for line in lines if line.strip()), "")
        if not HEADER.match(first):
            return 0.0
        # a header starts a block only after a blank line; header-like lines glued to the line
        # above are message text here, but in a log file they are every line
        header_like = starts = 0
        previous_blank = True
        for line in lines:
            if HEADER.match(line):
                header_like += 1
                starts += previous_blank
            previous_blank = not line.strip()
        if starts < 2 or starts * 2 < header_like:
            return 0.0
        return 0.85 if starts >= 3 else 0.6
    except Exception:
        return 0.0


def _unescape_name(name: str) -> str:
    """Undo MemoTrace's escape_js_and_html on display names."""
    name = (name.replace("\\'", "'").replace('\\"', '"').replace("\\n", "\n")
            .replace("\\r", "\r").replace("\\t", "\t").replace("\\\\", "\\"))
    return html.unescape(name).strip()


def _blocks(path: Path) -> Iterator[tuple[int, str, str, list[str]]]:
    """(header line number, time text, rest of the header, content lines) per message."""
    current: tuple[int, str, str] | None = None
    body: list[str] = []
    pending_blank: list[str] = []
    for number, line in numbered_lines(path):
        if not line.strip():
            if current is None:
                continue
            pending_blank.append(line)
            continue
        match = HEADER.match(line)
        # a header starts a message only after a blank line (or at the start); inside a block it is
        # content — except right after a header (that line is the first content line)
        if match and (current is None or pending_blank):
            if current is not None:
                yield current[0], current[1], current[2], body
            current = (number, match.group("time"), match.group("rest"))
            body = []
            pending_blank = []
            continue
        if current is None:
            raise ParseError(str(path), number, "expected a 'YYYY-MM-DD HH:MM:SS name' header line")
        body.extend(pending_blank)
        pending_blank = []
        body.append(line)
    if current is not None:
        yield current[0], current[1], current[2], body


def _content(lines: list[str]) -> tuple[Kind, str, dict[str, Any]]:
    extras: dict[str, Any] = {}
    first = lines[0].strip()
    if first.startswith("[链接]:title:"):
        fields: dict[str, str] = {"title": first[len("[链接]:title:"):].strip()}
        for line in lines[1:]:
            key, sep, value = line.strip().partition(":")
            if sep and key in ("description", "url", "name"):
                fields[key] = value.strip()
        for key in ("description", "url", "name"):
            value = fields.get(key)
            if value and value != "None":
                extras["des" if key == "description" else "source" if key == "name" else key] = value
        title = fields["title"] if fields["title"] != "None" else ""
        return Kind.LINK, title or "[链接]", extras
    text = "\n".join(lines)
    if len(lines) == 1 and first in PLACEHOLDER_KINDS:
        return PLACEHOLDER_KINDS[first], first, extras
    for index, line in enumerate(lines[1:], 1):
        if line.startswith("引用:"):
            quoted = line[len("引用:"):]
            rest = "\n".join([quoted] + lines[index + 1:])
            if rest.strip() != "未知":
                name, sep, said = rest.partition(":")
                extras["quoted"] = {"name": name, "text": said} if sep else {"text": rest}
            else:
                extras["quoted"] = {"unknown": True}
            return Kind.TEXT, "\n".join(lines[:index]), extras
    return Kind.TEXT, text, extras


def parse(path: Path, options: ParseOptions) -> Iterator[Record]:
    path = Path(path)
    title = path.stem
    given = options.extra.get("conversation_id") if isinstance(options.extra, dict) else None
    conversation_id = str(given) if given else title
    # first pass: how many people speak (a group has more than two)
    speakers: set[str] = set()
    for _, _, rest, body in _blocks(path):
        if body and len(speakers) <= 2:
            speakers.add(rest)
    yield Conversation(
        platform=PLATFORM,
        conversation_id=conversation_id,
        title=title,
        type=ConversationType.GROUP if len(speakers) > 2 else ConversationType.UNKNOWN,
    )
    for number, time_text, rest, body in _blocks(path):
        try:
            sent_at = localize(datetime.strptime(time_text, TIME_FORMAT), options.tz)
        except ValueError:
            raise ParseError(str(path), number, f"bad time {time_text!r}") from None
        while body and not body[-1].strip():
            body.pop()
        if not body:  # "<time> <system text>" with no content line
            meaning = system_content(clean_system_text(rest))
            sender_name = None
            is_me = False
            if meaning.actor_is_me:
                sender_name, is_me = options.me, True
            elif meaning.actor_name:
                sender_name = _unescape_name(meaning.actor_name)
            yield Message(
                platform=PLATFORM, conversation_id=conversation_id, conversation_title=title,
                sent_at=sent_at, kind=meaning.kind, text=meaning.text, sender_name=sender_name,
                is_me=is_me or bool(options.me and sender_name == options.me), position=number,
                extras=dict(meaning.extras),
            )
            continue
        kind, text, extras = _content(body)
        sender_name = _unescape_name(rest)
        yield Message(
            platform=PLATFORM,
            conversation_id=conversation_id,
            conversation_title=title,
            sent_at=sent_at,
            kind=kind,
            text=text,
            sender_name=sender_name,
            is_me=(sender_name == options.me) if options.me else None,
            position=number,
            extras=extras,
        )
