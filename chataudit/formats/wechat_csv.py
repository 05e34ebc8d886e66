"""WeChat chat CSV as the popular open-source exporters write it.

* **MemoTrace / WeChatMsg** (``聊天记录/<name>/<name>_utf8.csv``, UTF-8 with BOM): columns
  ``localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,Sender``
  — the database's own values: ``Type``/``SubType`` numbers, ``StrContent`` (text or XML),
  ``CreateTime`` the Unix instant, ``StrTime`` the same instant in the exporter's local time,
  ``Sender`` the sender's wxid (the real member in a group), ``IsSender`` 1 for one's own messages.
* **PyWxDump** (``<wxid>_<from>_<to>.csv`` pages of 5,000 rows beside ``users.json``, UTF-8):
  columns ``id,MsgSvrID,type_name,is_sender,talker,room_name,msg,src,CreateTime`` — a readable
  type name, a formatted ``msg``, ``talker`` the sender's wxid (``我`` for one's own messages),
  ``room_name`` the conversation, ``CreateTime`` formatted ``%Y-%m-%d %H:%M:%S`` in local time.
  Older releases wrote ``content`` (JSON ``{"src", "msg"}``) instead of ``msg,src``. A folder
  holding the pages and ``users.json`` is read as one export.

Re-saved copies (GBK from Excel, a BOM or none) are read alike.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import ParseError
from ..model import Attachment, Conversation, ConversationType, Kind, Record, from_unix, localize
from . import ParseOptions, head_text, open_text, read_whole
from .dates import DayMonthOrder, wall_clock, year_last
from .wechat_common import (
    PLATFORM,
    TRANSFER_STATUS,
    Content,
    clean_system_text,
    interpret,
    parse_amount,
    system_content,
)

NAME = "wechat-csv"
DESCRIPTION = "WeChat CSV from MemoTrace/WeChatMsg (localId,TalkerId,Type,…,Sender) or PyWxDump (id,MsgSvrID,type_name,…; pages + users.json)"

MEMOTRACE = ["localId", "TalkerId", "Type", "SubType", "IsSender", "CreateTime", "Status", "StrContent", "StrTime", "Remark", "NickName", "Sender"]
PYWXDUMP = ["id", "MsgSvrID", "type_name", "is_sender", "talker", "room_name", "msg", "src", "CreateTime"]
PYWXDUMP_OLD = ["id", "MsgSvrID", "type_name", "is_sender", "talker", "room_name", "content", "CreateTime"]
MAX_FIELD = 64 * 1024 * 1024
_PAGE = re.compile(r"^(?P<wxid>.+)_(?P<start>\d+)_(?P<end>\d+)$")


def _header_of(text: str) -> list[str] | None:
    first = text.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")
    try:
        return [h.strip().lstrip("\ufeff") for h in next(csv.reader([first]))]
    except (StopIteration, csv.Error):
        return None


def _dialect(header: list[str] | None) -> str | None:
    if header == MEMOTRACE:
        return "memotrace"
    if header in (PYWXDUMP, PYWXDUMP_OLD):
        return "pywxdump"
    if header and set(MEMOTRACE) <= set(header):
        return "memotrace"
    if header and set(PYWXDUMP_OLD) - {"content"} <= set(header) and ("msg" in header or "content" in header):
        return "pywxdump"
    return None


def _pages(folder: Path) -> list[Path]:
    """PyWxDump's pages of one conversation, in order of their first row."""
    pages = []
    for candidate in folder.glob("*.csv"):
        match = _PAGE.match(candidate.stem)
        if match:
            pages.append((match.group("wxid"), int(match.group("start")), candidate.name, candidate))
    return [page[-1] for page in sorted(pages)]


def detect(path: Path, head: bytes) -> float:
    try:
        if path.is_dir():
            pages = _pages(path)
            if not pages or not (path / "users.json").is_file():
                return 0.0
            with open(pages[0], "rb") as handle:
                return 0.95 if _dialect(_header_of(head_text(handle.read(4096)))) == "pywxdump" else 0.0
        if not head:
            return 0.0
        header = _header_of(head_text(head))
        dialect = _dialect(header)
        if dialect is None:
            return 0.0
        exact = header in (MEMOTRACE, PYWXDUMP, PYWXDUMP_OLD)
        return 0.95 if exact else 0.8
    except Exception:
        return 0.0


def _records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, fields), header included; malformed CSV -> ParseError."""
    if csv.field_size_limit() < MAX_FIELD:  # a chat-history XML can exceed csv's 128 KiB default
        csv.field_size_limit(MAX_FIELD)
    with open_text(path) as stream:
        reader = csv.reader(stream, strict=True)
        last = 0
        while True:
            start = last + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                detail = str(error)
                if "unexpected end of data" in detail or "EOF" in detail:
                    detail = "unterminated quoted field (file truncated?)"
                raise ParseError(str(path), start, f"malformed CSV record: {detail}") from None
            except UnicodeDecodeError as error:
                raise ParseError(str(path), reader.line_num + 1, f"cannot decode text as {stream.encoding}: {error.reason}") from None
            last = reader.line_num
            if row and row[0].startswith("\ufeff"):
                row[0] = row[0][1:]
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            yield start, row


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    records = _records(path)
    try:
        _, header = next(records)
    except StopIteration:
        return
    header = [h.strip() for h in header]
    for line, row in records:
        if len(row) != len(header):
            raise ParseError(str(path), line, f"expected {len(header)} columns, found {len(row)}")
        yield line, dict(zip(header, row))


def parse(path: Path, options: ParseOptions) -> Iterator[Record]:
    path = Path(path)
    if path.is_dir():
        pages = _pages(path)
        if not pages:
            raise ParseError(str(path), None, "no PyWxDump CSV pages (<wxid>_<from>_<to>.csv) in this folder")
        yield from _parse_pywxdump(pages, path / "users.json", options)
        return
    with open(path, "rb") as handle:
        head = handle.read(64 * 1024)
    dialect = _dialect(_header_of(head_text(head)))
    if dialect == "memotrace":
        yield from _parse_memotrace(path, options)
    elif dialect == "pywxdump":
        yield from _parse_pywxdump([path], path.parent / "users.json", options)
    else:
        raise ParseError(str(path), 1, "not a MemoTrace or PyWxDump WeChat CSV header")


# ---- shared ----------------------------------------------------------------------------------

def _int(value: str | None, path: Path, line: int, column: str, default: int | None = None) -> int:
    text = (value or "").strip()
    if not text and default is not None:
        return default
    try:
        return int(text)
    except ValueError:
        raise ParseError(str(path), line, f"{column} is not a number: {text!r}") from None


def _people(meaning: Content, sender_id: str | None, sender_name: str | None, is_me: bool,
            me_id: str | None, me_name: str | None) -> tuple[str | None, str | None, bool]:
    """System lines have no sender; a recall is attributed to whoever the line names."""
    if meaning.kind in (Kind.SYSTEM, Kind.RECALL):
        if meaning.actor_is_me:
            return me_id, me_name, True
        return None, meaning.actor_name, False
    return sender_id, sender_name, is_me


def _is_me(options: ParseOptions, is_me: bool, sender_id: str | None, sender_name: str | None) -> bool:
    return is_me or bool(options.me and options.me in (sender_id, sender_name))


# ---- MemoTrace -------------------------------------------------------------------------------

def _offset_zone(str_time: str, create_time: int) -> timezone | None:
    """The exporter's UTC offset at that instant: StrTime minus CreateTime (same instant, local clock)."""
    local = wall_clock(str_time) if not year_last(str_time) else None
    if local is None:
        return None
    try:
        utc = datetime(1970, 1, 1) + timedelta(seconds=create_time)
    except (OverflowError, ValueError):  # a CreateTime no calendar holds: the caller reports it
        return None
    seconds = round((local - utc).total_seconds())
    if abs(seconds) > 14 * 3600 or seconds % 900:
        return None
    return timezone(timedelta(seconds=seconds))


def _memotrace_title(path: Path) -> str:
    stem = path.stem
    return stem[:-5] if stem.endswith("_utf8") else stem


def _parse_memotrace(path: Path, options: ParseOptions) -> Iterator[Record]:
    title = _memotrace_title(path)
    # first pass: who is in this chat (the file holds one conversation; a group's id is not in it)
    others: dict[str, str] = {}
    me_id: str | None = None
    me_name: str | None = None
    room: str | None = None
    faceless = False
    group_words = False
    for _, row in _rows(path):
        sender = (row.get("Sender") or "").strip()
        name = (row.get("Remark") or "").strip() or (row.get("NickName") or "").strip()
        if sender.endswith("@chatroom"):
            room = room or sender
            continue
        if row.get("IsSender", "").strip() == "1":
            me_id = me_id or sender or None
            me_name = me_name or name or None
        elif sender:
            if sender not in others and len(others) < 10_000:
                others[sender] = name
        elif row.get("Type", "").strip() not in ("10000", "10002"):
            faceless = True
        if row.get("Type", "").strip() == "10000" and ("群聊" in row.get("StrContent", "") or "群名" in row.get("StrContent", "")):
            group_words = True
    is_group = bool(room) or len(others) > 1 or faceless or group_words
    given = options.extra.get("conversation_id") if isinstance(options.extra, dict) else None
    if given:
        conversation_id = str(given)
    elif room:
        conversation_id = room
    elif not is_group and len(others) == 1:
        conversation_id = next(iter(others))
    else:
        conversation_id = title  # a MemoTrace group file does not name its chatroom id
    me_name = me_name or options.me
    members: tuple[tuple[str | None, str | None], ...] = ()
    if is_group or len(others) == 1:
        members = tuple((wxid, name or None) for wxid, name in others.items())
        if me_id:
            members = ((me_id, me_name),) + members
    yield Conversation(
        platform=PLATFORM,
        conversation_id=conversation_id,
        title=title,
        type=ConversationType.GROUP if is_group else ConversationType.PRIVATE,
        members=members,
    )
    names = dict(others)
    if me_id:
        names[me_id] = me_name or me_id
    orders = _Order(lambda: (row.get("StrTime", "").strip() for _, row in _rows(path)), options)

    for line, row in _rows(path):
        type_ = _int(row.get("Type"), path, line, "Type")
        subtype = _int(row.get("SubType"), path, line, "SubType", default=0)
        is_sender = row.get("IsSender", "").strip() == "1"
        create_text = (row.get("CreateTime") or "").strip()
        str_time = (row.get("StrTime") or "").strip()
        order_extras = {}
        if create_text.isdigit():
            seconds = int(create_text)
            if seconds > 10_000_000_000:  # milliseconds
                seconds //= 1000
            zone = options.tz if options.tz_given else (_offset_zone(str_time, seconds) or options.tz)
            try:
                sent_at = from_unix(seconds, zone)
            except (OverflowError, ValueError, OSError):
                raise ParseError(str(path), line, f"CreateTime {create_text!r} is no instant a calendar holds") from None
        else:
            order, order_extras = orders.of(str_time)
            naive = wall_clock(str_time, order)
            if naive is None:
                raise ParseError(str(path), line, f"neither CreateTime {create_text!r} nor StrTime {str_time!r} is a time")
            sent_at = localize(naive, options.tz)
        meaning = interpret(type_, subtype, row.get("StrContent", ""), resolve=names.get)
        sender_id = (row.get("Sender") or "").strip() or None
        sender_name = (row.get("Remark") or "").strip() or (row.get("NickName") or "").strip() or sender_id
        sender_id, sender_name, is_me = _people(meaning, sender_id, sender_name, is_sender, me_id, me_name)
        extras: dict[str, Any] = dict(meaning.extras)
        extras.update(order_extras)
        extras["local_id"] = (row.get("localId") or "").strip()
        yield meaning.message(
            conversation_id=conversation_id,
            conversation_title=title,
            sent_at=sent_at,
            sender_id=sender_id,
            sender_name=sender_name,
            is_me=_is_me(options, is_me, sender_id, sender_name),
            position=line,
            extras=extras,
        )


# ---- PyWxDump --------------------------------------------------------------------------------

NAME_KINDS: dict[str, Kind] = {
    "文本": Kind.TEXT, "粘贴的文本": Kind.TEXT, "引用回复": Kind.TEXT,
    "图片": Kind.IMAGE, "语音": Kind.VOICE, "视频": Kind.VIDEO,
    "动画表情": Kind.STICKER, "用户上传的GIF表情": Kind.STICKER,
    "位置": Kind.LOCATION, "位置共享": Kind.LOCATION,
    "文件": Kind.FILE, "文件(猜)": Kind.FILE,
    "推荐公众号": Kind.CONTACT, "名片": Kind.CONTACT, "(分享)视频号名片": Kind.CONTACT,
    "(分享)音乐": Kind.LINK, "(分享)卡片式链接": Kind.LINK, "(分享)笔记": Kind.LINK, "(分享)小程序": Kind.LINK,
    "(分享)小说(猜)": Kind.LINK, "(分享)视频号视频": Kind.LINK, "视频号直播或直播回放": Kind.LINK,
    "视频号直播或直播回放等": Kind.LINK,
    "合并转发的聊天记录": Kind.CHAT_HISTORY, "(分享)收藏夹": Kind.CHAT_HISTORY,
    "转账": Kind.TRANSFER, "红包": Kind.RED_PACKET,
    "语音通话": Kind.CALL,
    "添加好友": Kind.SYSTEM, "群公告": Kind.SYSTEM, "系统通知": Kind.SYSTEM, "拍一拍": Kind.SYSTEM,
    "邀请加群": Kind.SYSTEM, "企业微信打招呼(猜)": Kind.SYSTEM, "企业微信添加好友(猜)": Kind.SYSTEM,
    "游戏相关": Kind.OTHER, "接龙": Kind.OTHER, "赠送红包封面": Kind.OTHER, "未知": Kind.OTHER,
}
PYWXDUMP_PLACEHOLDERS = {"图片": "[图片]", "视频": "[视频]", "动画表情": "[表情包]", "用户上传的GIF表情": "[表情包]", "语音": "[语音]"}
NOT_A_SENDER = {"", "未知", "系统", "我"}


def _load_users(path: Path) -> dict[str, dict[str, Any]]:
    """users.json: ``{wxid: {wxid, nickname, remark, account, …}}`` (unreadable -> no names)."""
    try:
        with open(path, "rb") as handle:
            data = json.loads(read_whole(handle, str(path)).decode("utf-8-sig"))
    except (OSError, ValueError, RecursionError):
        return {}
    if isinstance(data, list):
        data = {u.get("wxid"): u for u in data if isinstance(u, dict) and u.get("wxid")}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, dict)}


def _user_name(users: dict[str, dict[str, Any]], wxid: str) -> str | None:
    user = users.get(wxid) or {}
    return user.get("remark") or user.get("nickname") or None


def _pywxdump_time(value: str, options: ParseOptions, order: str = "YMD") -> datetime | None:
    """Unix seconds/milliseconds, or any wall-clock shape a spreadsheet round trip leaves (in --tz)."""
    text = value.strip()
    if text.isdigit() and len(text) in (10, 13):
        return from_unix(int(text) / (1000 if len(text) == 13 else 1), options.tz)
    naive = wall_clock(text, order)
    return localize(naive, options.tz) if naive is not None else None


class _Order:
    """The day/month order of a file's year-last times (``10/4/2024 11:42``), learnt on first need
    from every value of the column, or given as ``options.extra["date_order"]``."""

    def __init__(self, values: Callable[[], Iterator[str]], options: ParseOptions):
        self.values = values
        forced = str((options.extra or {}).get("date_order", "")).upper()
        self.forced = forced if forced in ("DMY", "MDY") else None
        self.learnt: DayMonthOrder | None = None

    def of(self, text: str) -> tuple[str, dict[str, str]]:
        """(order to read ``text`` in, extras saying how it was chosen when the file did not say)."""
        if not year_last(text):
            return "YMD", {}
        if self.forced:
            return self.forced, {}
        if self.learnt is None:
            self.learnt = DayMonthOrder()
            for value in self.values():
                if self.learnt.feed(value):
                    break
        order, source = self.learnt.guess(text)
        return order, ({"date_order": order, "date_order_source": source} if source != "file" else {})


_QUOTE = re.compile(r"^\((?P<time>[^)]*)\)(?P<name>[^:：]*)[:：](?P<text>.*)$", re.S)
_TRANSFER = re.compile(r"^(?P<label>[^：:\n]*)[：:]\s*(?P<fee>[^\n]*)")
_LINK_TAIL = re.compile(r"\s*<a href=\"(?P<url>[^\"]*)\">点击查看详情</a>\s*$")


def _pywxdump_content(type_name: str, msg: str, src: str, resolve: Callable[[str], str | None] = lambda _: None) -> Content:
    """PyWxDump's formatted msg (see its dbMSG.get_msg_detail) back to a Content."""
    stripped = msg.lstrip()
    if stripped.startswith("<"):
        if "<sysmsg" in stripped or "<revokemsg" in stripped:
            return interpret(10002, 0, msg, resolve=resolve)
        if "<appmsg" in stripped:
            return interpret(49, 0, msg, resolve=resolve)
    kind = NAME_KINDS.get(type_name)
    if kind is None:
        kind = Kind.RECALL if type_name.startswith("消息撤回") else Kind.OTHER
    extras: dict[str, Any] = {"type_name": type_name}
    if src:
        extras["src"] = src
    if kind in (Kind.SYSTEM, Kind.RECALL):
        text = clean_system_text(msg) or f"[{type_name}]"
        result = system_content(text, extras)
        if kind is Kind.RECALL and result.kind is not Kind.RECALL:
            result = Content(Kind.RECALL, text, extras=extras)
        return result
    name = src.replace("\\", "/").rsplit("/", 1)[-1] if src else None
    if type_name == "引用回复":
        title, marker, rest = msg.partition("\n\n[引用]")
        quoted: dict[str, Any] = {}
        match = _QUOTE.match(rest) if marker else None
        if match:
            quoted = {k: v for k, v in (("time", match.group("time")), ("name", match.group("name")), ("text", match.group("text"))) if v}
        if quoted:
            extras["quoted"] = quoted
        return Content(Kind.TEXT, title if marker else msg, extras=extras)
    if type_name == "转账":
        match = _TRANSFER.match(msg)
        fee = match.group("fee").strip() if match else ""
        label = match.group("label").strip() if match else ""
        memo_match = re.search(r"转账说明[：:]([^\n]*)", msg)
        memo = memo_match.group(1).strip() if memo_match else ""
        amount, currency = parse_amount(fee)
        if fee:
            extras["feedesc"] = fee
        if memo:
            extras["pay_memo"] = memo
        if label == "已收款":
            extras["paysubtype"] = 3
            extras["transfer_status"] = TRANSFER_STATUS[3]
        text = " ".join(p for p in ("[转账]", fee, memo) if p)
        return Content(Kind.TRANSFER, text, amount=amount, currency=currency, extras=extras)
    if kind is Kind.VOICE:
        seconds = re.search(r"语音时长[：:]\s*([\d.]+)", msg)
        transcript = re.search(r"翻译结果[：:](.*)", msg, re.S)
        if seconds:
            extras["voice_seconds"] = float(seconds.group(1))
        if transcript and transcript.group(1).strip():
            extras["transcript"] = transcript.group(1).strip()
        attachments = (Attachment(name=name, path=src),) if src else ()
        return Content(Kind.VOICE, "[语音]", attachments=attachments, extras=extras)
    if kind in (Kind.IMAGE, Kind.VIDEO):
        attachments = (Attachment(name=name, path=src),) if src else ()
        return Content(kind, PYWXDUMP_PLACEHOLDERS[type_name], attachments=attachments, extras=extras)
    if kind is Kind.STICKER:
        return Content(kind, "[表情包]", extras=extras)
    if kind is Kind.FILE:
        file_name = msg.strip() if msg.strip() and msg.strip() != type_name else name
        attachments = (Attachment(name=file_name, path=src or None),) if (file_name or src) else ()
        return Content(Kind.FILE, file_name or "[文件]", attachments=attachments, extras=extras)
    if kind is Kind.LOCATION and "纬度" in msg:
        lat = re.search(r"纬度:【([^】]*)】", msg)
        lon = re.search(r"经度:【([^】]*)】", msg)
        place = re.search(r"位置[：:]([^\n]*)", msg)
        if lat and lon:
            extras["latitude"], extras["longitude"] = lat.group(1), lon.group(1)
        where = place.group(1).strip() if place else ""
        return Content(Kind.LOCATION, f"[位置] {where}" if where else "[位置]", extras=extras)
    if kind is Kind.CALL:
        detail = re.search(r"\[(.*)\]\s*$", msg)
        inner = detail.group(1).strip() if detail else ""
        return Content(Kind.CALL, f"[通话] {inner}" if inner else "[通话]", extras=extras)
    if type_name == "(分享)卡片式链接":
        tail = _LINK_TAIL.search(msg)
        body = msg[:tail.start()] if tail else msg
        if tail and tail.group("url"):
            extras["url"] = tail.group("url")
        title, _, des = body.partition("\n")
        if des.strip():
            extras["des"] = des.strip()
        return Content(Kind.LINK, title.strip() or "[链接]", extras=extras)
    if msg.strip() == type_name or not msg.strip():
        return Content(kind, f"[{type_name}]" if type_name else "[消息]", extras=extras)
    return Content(kind, msg, extras=extras)


def _parse_pywxdump(pages: list[Path], users_path: Path, options: ParseOptions) -> Iterator[Record]:
    users = _load_users(users_path)
    me_name = options.me or "我"
    seen: set[str] = set()
    several = len(pages) > 1
    orders = _Order(lambda: (row.get("CreateTime", "").strip() for page in pages for _, row in _rows(page)), options)
    for page in pages:
        records = _records(page)
        try:
            _, header = next(records)
        except StopIteration:
            continue
        header = [h.strip() for h in header]
        if _dialect(header) != "pywxdump":
            raise ParseError(str(page), 1, f"not a PyWxDump CSV header: {','.join(header)!r}")
        for line, fields in records:
            if len(fields) != len(header):
                raise ParseError(str(page), line, f"expected {len(header)} columns, found {len(fields)}")
            row = dict(zip(header, fields))
            if "content" in row and "msg" not in row:  # older releases: JSON {"src", "msg"}
                try:
                    decoded = json.loads(row["content"])
                except (ValueError, RecursionError):
                    decoded = row["content"]
                if isinstance(decoded, dict):
                    row["msg"], row["src"] = str(decoded.get("msg") or ""), str(decoded.get("src") or "")
                else:
                    row["msg"], row["src"] = str(decoded), ""
            room = (row.get("room_name") or "").strip()
            if not room:
                raise ParseError(str(page), line, "empty room_name")
            is_group = room.endswith("@chatroom")
            if room not in seen:
                seen.add(room)
                members: tuple[tuple[str | None, str | None], ...] = ()
                if is_group:
                    members = tuple((wxid, _user_name(users, wxid)) for wxid in users if wxid != room and wxid not in NOT_A_SENDER)
                yield Conversation(
                    platform=PLATFORM,
                    conversation_id=room,
                    title=_user_name(users, room),
                    type=ConversationType.GROUP if is_group else ConversationType.PRIVATE,
                    members=members,
                )
            order, order_extras = orders.of((row.get("CreateTime") or "").strip())
            sent_at = _pywxdump_time(row.get("CreateTime") or "", options, order)
            if sent_at is None:
                raise ParseError(str(page), line, f"CreateTime is not a time: {row.get('CreateTime')!r}")
            type_name = (row.get("type_name") or "").strip()
            meaning = _pywxdump_content(type_name, row.get("msg") or "", (row.get("src") or "").strip(),
                                        lambda wxid: _user_name(users, wxid))
            talker = (row.get("talker") or "").strip()
            is_sender = (row.get("is_sender") or "").strip() == "1"
            if is_sender:
                sender_id = None if talker in NOT_A_SENDER else talker
                sender_name = (_user_name(users, sender_id) if sender_id else None) or me_name
            else:
                sender_id = None if talker in NOT_A_SENDER else talker
                sender_name = (_user_name(users, sender_id) or sender_id) if sender_id else None
            me_id = sender_id if is_sender else None
            sender_id, sender_name, is_me = _people(meaning, sender_id, sender_name, is_sender, me_id, me_name)
            extras = dict(meaning.extras)
            extras.update(order_extras)
            extras["id"] = (row.get("id") or "").strip()
            if several:
                extras["page"] = page.name
            svrid = (row.get("MsgSvrID") or "").strip()
            if svrid and not svrid.isdigit():  # a spreadsheet shortened the 19-digit id to 7.43727E+18
                extras["MsgSvrID_as_found"] = svrid
                svrid = ""
            yield meaning.message(
                conversation_id=room,
                conversation_title=_user_name(users, room),
                sent_at=sent_at,
                sender_id=sender_id,
                sender_name=sender_name,
                message_id=svrid if svrid not in ("", "0") else None,
                is_me=_is_me(options, is_me, sender_id, sender_name),
                position=line,
                extras=extras,
            )
