"""What the WeChat formats share: native type -> Kind, app-message XML, LZ4 and BytesExtra.

WeChat (PC 3.x) stores a message as ``Type``/``SubType`` numbers plus ``StrContent`` (text, or
XML for most non-text types) and, for app messages (Type 49), an LZ4-compressed XML blob in
``CompressContent``. Exporters (MemoTrace/WeChatMsg, PyWxDump) copy these values, so the same
interpretation serves the database reader and the CSV readers: :func:`interpret` turns one
message's native fields into a :class:`Content` (kind, visible text, amount, attachments, extras).

Everything here is lenient: WeChat's XML is often not well formed (bare ``&``, control
characters, ``wxid:\\n`` prefixes), so a value that cannot be read degrades to a placeholder text
plus a note in extras — never an exception that would stop an import.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterator

from ..model import Attachment, Kind, Message

try:  # the C binding is faster; the pure decoder below gives the same result
    import lz4.block as _lz4_block
except ImportError:  # pragma: no cover - exercised when lz4 is not installed
    _lz4_block = None

PLATFORM = "wechat"

# ---- native types ----------------------------------------------------------------------------

TYPE_KINDS: dict[int, Kind] = {
    1: Kind.TEXT,
    3: Kind.IMAGE,
    34: Kind.VOICE,
    37: Kind.SYSTEM,  # friend request
    40: Kind.SYSTEM,  # possible friend
    42: Kind.CONTACT,  # business card
    43: Kind.VIDEO,
    62: Kind.VIDEO,  # short video
    47: Kind.STICKER,
    48: Kind.LOCATION,
    50: Kind.CALL,  # VoIP (voice / video call)
    51: Kind.SYSTEM,  # client init
    52: Kind.CALL,  # VoIP notify
    53: Kind.CALL,  # VoIP invite
    65: Kind.SYSTEM,  # WeCom greeting
    66: Kind.SYSTEM,  # WeCom friend added
    9999: Kind.SYSTEM,
    10000: Kind.SYSTEM,
    10002: Kind.SYSTEM,  # sysmsg XML (revokemsg -> RECALL)
    11000: Kind.SYSTEM,
}

APP_KINDS: dict[int, Kind] = {
    1: Kind.TEXT,  # pasted text
    3: Kind.LINK,  # music share
    4: Kind.LINK,
    5: Kind.LINK,  # link card
    6: Kind.FILE,
    7: Kind.OTHER,  # game
    8: Kind.STICKER,  # uploaded GIF
    17: Kind.LOCATION,  # live location sharing
    19: Kind.CHAT_HISTORY,  # merged forward
    24: Kind.LINK,  # note
    33: Kind.LINK,  # mini program
    36: Kind.LINK,  # mini program
    40: Kind.CHAT_HISTORY,  # favourites bundle
    44: Kind.LINK,
    50: Kind.CONTACT,  # Channels profile card
    51: Kind.LINK,  # Channels video
    53: Kind.OTHER,  # 接龙 (group sign-up list)
    57: Kind.TEXT,  # quote / reply
    63: Kind.LINK,  # live stream
    74: Kind.FILE,  # file being uploaded
    87: Kind.SYSTEM,  # group announcement
    88: Kind.LINK,
    2000: Kind.TRANSFER,
    2001: Kind.RED_PACKET,
    2003: Kind.OTHER,  # red-packet cover gift
}

PLACEHOLDERS: dict[int, str] = {
    3: "[图片]",
    34: "[语音]",
    42: "[名片]",
    43: "[视频]",
    62: "[视频]",
    47: "[表情包]",
    48: "[位置]",
    50: "[通话]",
}

APP_PLACEHOLDERS: dict[int, str] = {
    3: "[音乐分享]",
    4: "[链接]",
    5: "[链接]",
    6: "[文件]",
    8: "[表情包]",
    17: "[位置共享]",
    19: "[聊天记录]",
    24: "[笔记]",
    33: "[小程序]",
    36: "[小程序]",
    40: "[收藏]",
    50: "[视频号名片]",
    51: "[视频号]",
    53: "[接龙]",
    57: "[引用]",
    63: "[直播]",
    74: "[文件]",
    87: "[群公告]",
    88: "[直播]",
    2000: "[转账]",
    2001: "[红包]",
    2003: "[红包封面]",
}

TRANSFER_STATUS = {1: "sent", 3: "received", 4: "returned"}

RECALL_MARKERS = ("撤回了一条消息", "recalled a message")


@dataclass
class Content:
    """One message's meaning, independent of which file it came from."""

    kind: Kind
    text: str
    reply_to: str | None = None
    amount: str | None = None
    currency: str | None = None
    attachments: tuple[Attachment, ...] = ()
    extras: dict[str, Any] = field(default_factory=dict)
    actor_name: str | None = None  # a recall/system line's actor as printed ("张三" 撤回了…)
    actor_is_me: bool = False  # "你撤回了一条消息"

    def message(self, **fields: Any) -> Message:
        """The canonical message: what it says from here, where and who from ``fields``
        (``attachments`` may be given to replace the ones the content names)."""
        return Message(platform=PLATFORM, kind=self.kind, text=self.text, reply_to=self.reply_to,
                       amount=self.amount, currency=self.currency,
                       **{"attachments": self.attachments, **fields})


def kind_of(type_: int, subtype: int | None = None) -> Kind:
    if type_ == 49:
        return APP_KINDS.get(subtype or 0, Kind.OTHER)
    return TYPE_KINDS.get(type_, Kind.OTHER)


# ---- XML -----------------------------------------------------------------------------------------

_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_BARE_AMP = re.compile(r"&(?!(?:[A-Za-z][A-Za-z0-9]*|#[0-9]+|#x[0-9A-Fa-f]+);)")
_SENDER_PREFIX = re.compile(r"^([A-Za-z][A-Za-z0-9_\-]{4,}(?:@chatroom)?):\s*\n")


def strip_sender_prefix(content: str) -> tuple[str | None, str]:
    """``wxid_abc:\\n<msg…>`` (group content as some clients store it) -> ("wxid_abc", "<msg…>")."""
    match = _SENDER_PREFIX.match(content)
    if match:
        return match.group(1), content[match.end():]
    return None, content


def parse_xml(text: str | None) -> ET.Element | None:
    """A lenient parse of WeChat XML; None when it is not XML or cannot be repaired."""
    if not text:
        return None
    s = _ILLEGAL_XML.sub("", text).strip().lstrip("\ufeff")
    if not s.startswith("<"):
        _, rest = strip_sender_prefix(s)
        if not rest.lstrip().startswith("<"):
            return None
        s = rest.strip()
    if s.startswith("<?xml"):
        end = s.find("?>")
        s = s[end + 2:].lstrip() if end >= 0 else s
    for candidate in (s, _BARE_AMP.sub("&amp;", s)):
        try:
            return ET.fromstring(candidate)
        except ET.ParseError:
            continue
    return None


class XmlView:
    """Text of elements by path, from a parsed tree or, when parsing failed, by a regex search."""

    def __init__(self, text: str | None):
        self.text = text or ""
        self.root = parse_xml(text)

    @property
    def ok(self) -> bool:
        return self.root is not None

    def node(self, path: str) -> ET.Element | None:
        root = self.root
        if root is None:
            return None
        head, _, rest = path.partition("/")
        if root.tag == head:
            return root if not rest else root.find(rest)
        found = root.find(path)
        if found is None:
            found = root.find(".//" + path)
        return found

    def get(self, path: str) -> str:
        if self.root is not None:
            node = self.node(path)
            return (node.text or "").strip() if node is not None else ""
        # broken XML: the innermost tag, first occurrence
        tag = re.escape(path.rsplit("/", 1)[-1])
        match = re.search(rf"<{tag}(?:\s[^>]*)?>(.*?)</{tag}>", self.text, re.S)
        if not match:
            return ""
        value = match.group(1)
        cdata = re.fullmatch(r"\s*<!\[CDATA\[(.*)\]\]>\s*", value, re.S)
        return cdata.group(1).strip() if cdata else html.unescape(value).strip()

    def attr(self, path: str, name: str) -> str:
        node = self.node(path)
        if node is not None:
            return (node.get(name) or "").strip()
        if self.root is None:
            tag = re.escape(path.rsplit("/", 1)[-1])
            match = re.search(rf"<{tag}\b[^>]*?\s{re.escape(name)}\s*=\s*\"([^\"]*)\"", self.text, re.S)
            if match:
                return html.unescape(match.group(1)).strip()
        return ""


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


# ---- money ----------------------------------------------------------------------------------------

_CURRENCY_SIGNS = (("HK$", "HKD"), ("MOP$", "MOP"), ("US$", "USD"), ("￥", "CNY"), ("¥", "CNY"), ("RMB", "CNY"), ("CNY", "CNY"))


def parse_amount(feedesc: str | None) -> tuple[str | None, str | None]:
    """``"￥5,000.00"`` -> ("5000.00", "CNY"); anything unreadable -> (None, None)."""
    if not feedesc:
        return None, None
    s = feedesc.strip()
    currency = None
    for sign, code in _CURRENCY_SIGNS:
        if sign in s:
            currency = code
            s = s.replace(sign, "")
            break
    s = s.replace(",", "").replace("，", "").replace("元", "").strip()
    match = re.search(r"\d+(?:\.\d+)?", s)
    if not match:
        return None, None
    try:
        Decimal(match.group(0))
    except InvalidOperation:  # pragma: no cover - the regex only lets decimals through
        return None, None
    return match.group(0), currency or "CNY"


# ---- LZ4 (CompressContent) --------------------------------------------------------------------------

MAX_DECOMPRESSED = 64 * 1024 * 1024


def lz4_block_decode(src: bytes, limit: int = MAX_DECOMPRESSED) -> bytes:
    """Decode one raw LZ4 block (no frame, no size prefix), as WeChat writes CompressContent."""
    dst = bytearray()
    i, n = 0, len(src)
    if n == 0:
        raise ValueError("empty LZ4 block")
    while i < n:
        token = src[i]
        i += 1
        literal = token >> 4
        if literal == 15:
            while True:
                if i >= n:
                    raise ValueError("truncated literal length")
                byte = src[i]
                i += 1
                literal += byte
                if byte != 255:
                    break
        if i + literal > n:
            raise ValueError("truncated literals")
        dst += src[i:i + literal]
        i += literal
        if i >= n:
            break  # the last sequence carries literals only
        if i + 2 > n:
            raise ValueError("truncated match offset")
        offset = src[i] | (src[i + 1] << 8)
        i += 2
        if offset == 0 or offset > len(dst):
            raise ValueError("bad match offset")
        match = token & 15
        if match == 15:
            while True:
                if i >= n:
                    raise ValueError("truncated match length")
                byte = src[i]
                i += 1
                match += byte
                if byte != 255:
                    break
        match += 4
        start = len(dst) - offset
        if match <= offset:
            dst += dst[start:start + match]
        else:
            pattern = bytes(dst[start:])
            dst += (pattern * (match // offset + 1))[:match]
        if len(dst) > limit:
            raise ValueError("decompressed data too large")
    return bytes(dst)


def decompress_content(blob: bytes | str | None) -> str | None:
    """CompressContent -> XML text (``\\x00`` removed, as PyWxDump/MemoTrace do); None if unreadable."""
    if blob is None:
        return None
    if isinstance(blob, str):
        return blob
    data = bytes(blob)
    if not data:
        return None
    raw: bytes | None = None
    if _lz4_block is not None:
        for shift in (8, 12):
            try:
                raw = _lz4_block.decompress(data, uncompressed_size=min(max(len(data) << shift, 4096), MAX_DECOMPRESSED))
                break
            except Exception:  # lz4 raises LZ4BlockError; a too-small bound too
                continue
    if raw is None:
        try:
            raw = lz4_block_decode(data)
        except ValueError:
            raw = None
    if raw is None or b"<" not in raw[:64]:
        plain = data.strip(b"\x00 \t\r\n")
        if plain.startswith(b"<") and plain.endswith(b">"):  # some rows keep plain XML
            raw = data
        elif raw is None:
            return None
    return raw.replace(b"\x00", b"").decode("utf-8", errors="replace")


# ---- protobuf (BytesExtra, RoomData) -----------------------------------------------------------------

def _varint(buf: bytes, i: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def iter_protobuf(buf: bytes) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value) of a protobuf message; ints for varints, bytes otherwise."""
    i, n = 0, len(buf)
    while i < n:
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ValueError("field number 0")
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 1:
            if i + 8 > n:
                raise ValueError("truncated fixed64")
            value, i = buf[i:i + 8], i + 8
        elif wire == 2:
            length, i = _varint(buf, i)
            if i + length > n:
                raise ValueError("truncated length-delimited field")
            value, i = buf[i:i + length], i + length
        elif wire == 5:
            if i + 4 > n:
                raise ValueError("truncated fixed32")
            value, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield number, wire, value


def bytes_extra_entries(blob: bytes | None) -> list[tuple[int, str]]:
    """BytesExtra's repeated field 3 as (type, string) pairs.

    Layout (PyWxDump ``get_BytesExtra`` typedef, MemoTrace ``msg.proto``):
    ``message { SubMessage1 f1 = 1; repeated { int32 type = 1; string value = 2; } f3 = 3; }``.
    type 1 = a group message's real sender wxid, 3 = thumbnail path, 4 = media/file path,
    7 = msgsource XML.
    """
    out: list[tuple[int, str]] = []
    if not blob:
        return out
    try:
        for number, wire, value in iter_protobuf(bytes(blob)):
            if number != 3 or wire != 2:
                continue
            kind = None
            text = None
            for number2, wire2, value2 in iter_protobuf(value):
                if number2 == 1 and wire2 == 0:
                    kind = value2
                elif number2 == 2 and wire2 == 2:
                    text = value2.decode("utf-8", errors="replace")
            if kind is not None and text is not None:
                out.append((kind, text))
    except ValueError:
        return out  # keep what was readable
    return out


def bytes_extra_sender(entries: list[tuple[int, str]]) -> str | None:
    for kind, text in entries:
        if kind == 1 and text:
            return text
    return None


def bytes_extra_paths(entries: list[tuple[int, str]]) -> list[str]:
    """FileStorage paths, the media file (type 4) before the thumbnail (type 3)."""
    paths = [(0 if kind == 4 else 1, text) for kind, text in entries if "FileStorage" in text]
    return [text for _, text in sorted(paths, key=lambda item: item[0])]


def room_data_members(blob: bytes | None) -> dict[str, str]:
    """ChatRoom.RoomData: members' group nicknames ``{wxid: display name}`` (MemoTrace roomdata.proto)."""
    names: dict[str, str] = {}
    if not blob:
        return names
    try:
        for number, wire, value in iter_protobuf(bytes(blob)):
            if number != 1 or wire != 2:
                continue
            wxid = display = None
            for number2, wire2, value2 in iter_protobuf(value):
                if number2 == 1 and wire2 == 2:
                    wxid = value2.decode("utf-8", errors="replace")
                elif number2 == 2 and wire2 == 2:
                    display = value2.decode("utf-8", errors="replace")
            if wxid and display:
                names[wxid] = display
    except ValueError:
        return names
    return names


# ---- system lines --------------------------------------------------------------------------------------

_REVOKE_EDIT = re.compile(r"\s*<a\s+href=\"weixin://revoke_edit_click\"[^>]*>.*?</a>", re.S)
_TAG = re.compile(r"<[^>]+>")
_RECALL_ACTOR = re.compile(r"^\s*[\"“「]?(.+?)[\"”」]?\s*(?:撤回了一条消息|recalled a message)")


def clean_system_text(text: str) -> str:
    """A 10000 line as shown: CDATA, the "重新编辑" link and markup removed."""
    s = text.replace("<![CDATA[", "").replace("]]>", "")
    s = _REVOKE_EDIT.sub("", s)
    s = _TAG.sub("", s)
    return html.unescape(s).strip()


def recall_actor(text: str) -> tuple[bool, str | None]:
    """(by me, actor name) of a recall line: 你撤回了一条消息 / "张三" 撤回了一条消息."""
    s = text.strip()
    if s.startswith("你撤回") or s.lower().startswith("you recalled"):
        return True, None
    match = _RECALL_ACTOR.match(s)
    if match:
        return False, match.group(1).strip().strip("\"“”「」") or None
    return False, None


def is_recall_text(text: str) -> bool:
    return any(marker in text for marker in RECALL_MARKERS)


def system_content(text: str, extras: dict[str, Any] | None = None) -> Content:
    extras = dict(extras or {})
    if is_recall_text(text):
        by_me, actor = recall_actor(text)
        return Content(Kind.RECALL, text, extras=extras, actor_name=actor, actor_is_me=by_me)
    return Content(Kind.SYSTEM, text, extras=extras)


def _sysmsg(content: str, resolve: Callable[[str], str | None]) -> Content:
    """A ``<sysmsg type="…">`` document (Type 10002, and some 10000 rows)."""
    view = XmlView(content)
    root = view.root
    sys_type = root.get("type", "") if root is not None else ""
    if sys_type == "revokemsg" or "<revokemsg" in content:
        text = clean_system_text(view.get("revokemsg/replacemsg")) or "撤回了一条消息"
        extras: dict[str, Any] = {"sysmsg": "revokemsg"}
        recalled = view.get("revokemsg/newmsgid")
        if recalled:
            extras["recalled_id"] = recalled
        result = system_content(text, extras)
        if result.kind is not Kind.RECALL:
            result = Content(Kind.RECALL, text, extras=extras)
        return result
    if root is not None and sys_type == "pat":
        template = view.get("pat/template")

        def name_of(match: re.Match[str]) -> str:
            wxid = match.group(1)
            return resolve(wxid) or wxid

        text = re.sub(r"\$\{([^}]+)\}", name_of, template) if template else "拍了拍"
        return Content(Kind.SYSTEM, text, extras={"sysmsg": "pat"})
    if root is not None and root.find(".//content_template") is not None:
        template_node = root.find(".//content_template/template")
        text = (template_node.text or "") if template_node is not None else ""
        for link in root.iter("link"):
            name = link.get("name")
            if not name:
                continue
            members = []
            for member in link.iter("member"):
                nick = member.findtext("nickname") or ""
                user = member.findtext("username") or ""
                members.append(nick or resolve(user) or user)
            separator = link.findtext("separator") or "、"
            text = text.replace(f"${name}$", separator.join(m for m in members if m))
        return system_content(clean_system_text(text) or "[系统消息]", {"sysmsg": sys_type or "template"})
    if root is not None:
        shown = next((node.text.strip() for node in root.iter() if node.tag in ("plain", "text", "content") and (node.text or "").strip()), "")
        text = shown or " ".join(t.strip() for t in root.itertext() if t.strip())
        text = clean_system_text(text)
    else:
        text = clean_system_text(content)
    return system_content(text or "[系统消息]", {"sysmsg": sys_type} if sys_type else None)


# ---- app messages (Type 49) ------------------------------------------------------------------------------

def _quoted_summary(ref_type: int | None, content: str, depth: int) -> str:
    if not content:
        return ""
    _, body = strip_sender_prefix(content)
    if ref_type in (None, 1) and not body.lstrip().startswith("<"):
        return content
    if depth >= 2:
        return PLACEHOLDERS.get(ref_type or 0, "[消息]")
    return interpret(ref_type or 1, 0, body, depth=depth + 1).text


def app_message(subtype: int | None, xml_text: str | None, resolve: Callable[[str], str | None] = lambda _: None, depth: int = 0) -> Content:
    view = XmlView(xml_text)
    xml_type = _int(view.get("appmsg/type"))
    sub = subtype or xml_type or 0
    title = view.get("appmsg/title")
    des = view.get("appmsg/des")
    url = view.get("appmsg/url")
    kind = APP_KINDS.get(sub, Kind.OTHER)
    extras: dict[str, Any] = {"app_type": sub}
    placeholder = APP_PLACEHOLDERS.get(sub, "[应用消息]")
    if not xml_text or (not view.ok and "<appmsg" not in (xml_text or "")):
        if xml_text:
            extras["content_unreadable"] = True
        return Content(kind, placeholder, extras=extras)

    if sub in (6, 74):
        size = _int(view.get("appmsg/appattach/totallen"))
        ext = view.get("appmsg/appattach/fileext")
        md5 = view.get("appmsg/md5")
        if ext:
            extras["file_ext"] = ext
        if md5:
            extras["md5"] = md5
        name = title or None
        return Content(Kind.FILE, title or placeholder, attachments=(Attachment(name=name, size=size),), extras=extras)

    if sub == 57:
        extras_quote: dict[str, Any] = {}
        ref_type = _int(view.get("appmsg/refermsg/type"))
        svrid = view.get("appmsg/refermsg/svrid") or None
        for key, path in (("type", "type"), ("from", "fromusr"), ("sender", "chatusr"), ("name", "displayname"), ("createtime", "createtime")):
            value = view.get(f"appmsg/refermsg/{path}")
            if value:
                extras_quote[key] = _int(value) if key in ("type", "createtime") and _int(value) is not None else value
        ref_content = view.get("appmsg/refermsg/content")
        if ref_content:
            extras_quote["text"] = _quoted_summary(ref_type, ref_content, depth)
        if svrid:
            extras_quote["svrid"] = svrid
        if extras_quote:
            extras["quoted"] = extras_quote
        return Content(Kind.TEXT, title, reply_to=svrid, extras=extras)

    if sub == 2000:
        feedesc = view.get("appmsg/wcpayinfo/feedesc")
        paysubtype = _int(view.get("appmsg/wcpayinfo/paysubtype"))
        memo = view.get("appmsg/wcpayinfo/pay_memo")
        amount, currency = parse_amount(feedesc)
        if paysubtype is not None:
            extras["paysubtype"] = paysubtype
            if paysubtype in TRANSFER_STATUS:
                extras["transfer_status"] = TRANSFER_STATUS[paysubtype]
        for key, path in (("transfer_id", "transferid"), ("transaction_id", "transcationid"), ("payer", "payer_username"), ("receiver", "receiver_username")):
            value = view.get(f"appmsg/wcpayinfo/{path}")
            if value:
                extras[key] = value
        if feedesc:
            extras["feedesc"] = feedesc
        if memo:
            extras["pay_memo"] = memo
        text = " ".join(part for part in ("[转账]", feedesc, memo) if part)
        return Content(Kind.TRANSFER, text, amount=amount, currency=currency, extras=extras)

    if sub == 2001:
        greeting = view.get("appmsg/wcpayinfo/sendertitle") or view.get("appmsg/wcpayinfo/receivertitle") or des
        if greeting:
            extras["greeting"] = greeting
        packet_id = view.get("appmsg/wcpayinfo/paymsgid")
        if packet_id:
            extras["red_packet_id"] = packet_id
        return Content(Kind.RED_PACKET, " ".join(p for p in ("[红包]", greeting) if p), extras=extras)

    if sub in (19, 40):
        record = XmlView(view.get("appmsg/recorditem"))
        items = []
        if record.root is not None:
            for item in record.root.iter("dataitem"):
                entry = {k: v for k, v in (("from", item.findtext("sourcename")), ("time", item.findtext("sourcetime")), ("text", item.findtext("datadesc"))) if v}
                if entry:
                    items.append(entry)
                if len(items) >= 500:
                    break
        if items:
            extras["items"] = items
        if des:
            extras["des"] = des
        text = "\n".join(p for p in (title or placeholder, des) if p)
        return Content(Kind.CHAT_HISTORY, text, extras=extras)

    if sub == 87:
        notice = view.get("appmsg/textannouncement") or title
        return Content(Kind.SYSTEM, notice or placeholder, extras=extras)

    # links, mini programs, music, Channels, notes …
    if url:
        extras["url"] = url
    if des:
        extras["des"] = des
    source = view.get("appmsg/sourcedisplayname") or view.get("appinfo/appname")
    if source:
        extras["source"] = source
    return Content(kind, title or placeholder, extras=extras)


# ---- everything -----------------------------------------------------------------------------------------

def interpret(
    type_: int,
    subtype: int | None,
    content: str | None,
    app_xml: str | None = None,
    display: str | None = None,
    resolve: Callable[[str], str | None] = lambda _: None,
    depth: int = 0,
) -> Content:
    """Native (Type, SubType, StrContent[, CompressContent XML, DisplayContent]) -> Content."""
    content = content or ""
    if type_ == 1:
        return Content(Kind.TEXT, content)
    if type_ == 49:
        xml_text = app_xml if app_xml and "<" in app_xml else (content if "<" in content else None)
        return app_message(subtype, xml_text, resolve, depth)
    if type_ == 10000:
        if content.lstrip().startswith("<sysmsg") or "<revokemsg" in content:
            return _sysmsg(content, resolve)
        return system_content(clean_system_text(content) or "[系统消息]")
    if type_ == 10002:
        return _sysmsg(content, resolve)

    view = XmlView(content) if "<" in content else None
    extras: dict[str, Any] = {}
    text = PLACEHOLDERS.get(type_, "")
    if type_ == 34 and view is not None:
        length = _int(view.attr("voicemsg", "voicelength"))
        if length is not None:
            extras["voice_seconds"] = round(length / 1000, 2)
    elif type_ == 42 and view is not None:
        nickname = view.attr("msg", "nickname")
        username = view.attr("msg", "username")
        if username:
            extras["card_id"] = username
        if nickname:
            text = f"[名片] {nickname}"
    elif type_ in (43, 62) and view is not None:
        length = _int(view.attr("videomsg", "playlength"))
        if length is not None:
            extras["video_seconds"] = length
    elif type_ == 47 and view is not None:
        md5 = view.attr("emoji", "md5")
        if md5:
            extras["md5"] = md5
    elif type_ == 48 and view is not None:
        lat, lon = view.attr("location", "x"), view.attr("location", "y")
        label, poi = view.attr("location", "label"), view.attr("location", "poiname")
        if lat and lon:
            extras["latitude"], extras["longitude"] = lat, lon
        described = " ".join(p for p in (poi, label) if p)
        if described:
            text = f"[位置] {described}"
    elif type_ == 50:
        call = view.get("VoIPBubbleMsg/msg") if view is not None else ""
        call = call or (display or "")
        if call:
            text = f"[通话] {call}"
    kind = TYPE_KINDS.get(type_, Kind.OTHER)
    if kind is Kind.SYSTEM:
        return system_content(clean_system_text(content) or f"[系统消息 {type_}]", {"type": type_})
    if kind is Kind.OTHER:
        text = content if content and "<" not in content else f"[消息类型 {type_}]"
        extras["type"] = type_
    return Content(kind, text or f"[消息类型 {type_}]", extras=extras)
