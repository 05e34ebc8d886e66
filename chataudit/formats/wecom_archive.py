"""WeCom (企业微信) 会话内容存档: the decrypted messages of the Finance SDK's GetChatData.

An enterprise that archives its chats pulls them with ``GetChatData`` and decrypts each
``encrypt_chat_msg`` with ``DecryptData``; archiving scripts write the decrypted messages as
JSON Lines (one per line) or a JSON array.  Each message is

    {"msgid": "…", "action": "send"|"recall"|"switch", "from": "…", "tolist": ["…"],
     "roomid": "…", "msgtime": 1603875615723, "msgtype": "text", "text": {"content": "…"}}

with the content under a key named after the type (``image``, ``file``, ``revoke``, ``agree``,
``redpacket``, ``chatrecord``, ``mixed`` …; ``doc`` for docmsg, ``info`` for markdown/news,
``redpacket`` for external_redpacket).  "switch" entries are enterprise-switch logs
``{"msgid", "action": "switch", "time", "user"}``.  ``seq`` (from GetChatData) may be present.

Rules (documented in the README):

* conversation: ``roomid`` for a group; for a one-to-one chat the two ids (``from`` and the single
  ``tolist`` entry) sorted and joined with ``|`` so both directions land in one conversation
  (without a roomid and with several recipients: all the ids, sorted, joined the same way);
  switch logs go to the pseudo-conversation ``(switch)``;
* time: ``msgtime`` is UTC milliseconds → shown in ``--tz``; a value below 10^11 is taken as
  seconds (the documentation's own meeting_voice_call / voip_doc_share samples are in seconds);
* side: generated ids starting ``wo``/``wm`` (24+ characters) are external contacts, ``wb``
  robots, anything else an employee's userid → ``extras["side"]`` = external | bot | internal;
* red packets: ``totalamount`` is in fen → ``amount`` in yuan ("0.20"), currency CNY.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import orjson

from ..model import Attachment, Conversation, ConversationType, Kind, Message, Record
from . import ParseOptions
from .json_stream import as_dict, as_int, as_str, fail, from_ms, head_keys, parse_messages, short

NAME = "wecom-archive"
PLATFORM = "wecom"
DESCRIPTION = "WeCom 会话内容存档: GetChatData messages decrypted by the Finance SDK, as JSON Lines or a JSON array"

SWITCH_CONVERSATION = "(switch)"

_KEY = re.compile(r'"(msgid|action|msgtime|msgtype|tolist|roomid|encrypt_chat_msg|publickey_ver)"\s*:')

# where each msgtype keeps its content, when not under its own name
_PAYLOAD_KEY = {
    "external_redpacket": "redpacket",
    "docmsg": "doc",
    "markdown": "info",
    "news": "info",
    "voiptext": "info",
    "qydiskfile": "info",
    "meeting_notification": "info",
}

_PLACEHOLDER = {
    "image": "[图片]",
    "voice": "[语音]",
    "video": "[视频]",
    "emotion": "[表情]",
    "file": "[文件]",
    "link": "[链接]",
    "location": "[位置]",
    "card": "[名片]",
    "weapp": "[小程序]",
    "chatrecord": "[聊天记录]",
    "todo": "[待办]",
    "vote": "[投票]",
    "collect": "[填表]",
    "redpacket": "[红包]",
    "external_redpacket": "[红包]",
    "meeting": "[会议邀请]",
    "docmsg": "[在线文档]",
    "markdown": "[Markdown]",
    "news": "[图文]",
    "calendar": "[日程]",
    "meeting_voice_call": "[音频存档]",
    "voip_doc_share": "[音频共享文档]",
    "voiptext": "[音视频通话]",
    "qydiskfile": "[微盘文件]",
    "sphfeed": "[视频号]",
    "meeting_notification": "[会议通知]",
}


def detect(path: Path, head: bytes) -> float:
    keys = head_keys(head, _KEY)
    if keys is None:
        return 0.0
    if {"msgid", "encrypt_chat_msg"} <= keys:
        return 0.6  # still encrypted: ours, but parse will say to decrypt it first
    if {"msgid", "action", "msgtime"} <= keys:
        return 0.97 if ("msgtype" in keys or "tolist" in keys) else 0.9
    if {"msgid", "action", "msgtype"} <= keys and ("tolist" in keys or "roomid" in keys):
        return 0.8
    return 0.0


def parse(path: Path, options: ParseOptions) -> Iterator[Record]:
    return parse_messages(path, ("chatdata",), lambda value, line: _message(value, line, options), _conversation)


# ---- one message -------------------------------------------------------------------------

_GENERATED_ID = re.compile(r"w[bmo][A-Za-z0-9_-]{22,}")


def side_of(user_id: str | None) -> str | None:
    """external (a generated wo…/wm… external_userid), bot (wb…), internal (an employee's userid).

    External and robot ids are 32 generated characters; an employee's userid is whatever the
    admin chose, so a short "wmeng" stays internal.
    """
    if not user_id:
        return None
    if _GENERATED_ID.fullmatch(user_id):
        return "bot" if user_id.startswith("wb") else "external"
    return "internal"


def _is_me(options: ParseOptions, *candidates: str | None) -> bool | None:
    if options.me and any(c and c == options.me for c in candidates):
        return True
    return None


def _instant(value: Any, options: ParseOptions, extras: dict, field: str):
    ms = as_int(value)
    if ms is None:
        raise fail(f"missing or invalid {field}: {short(value)}")
    if 0 <= ms < 10**11:  # documented samples of some types carry seconds
        extras[f"{field}_unit"] = "s"
        ms *= 1000
    try:
        return from_ms(ms, options.tz)
    except (OverflowError, OSError, ValueError):
        raise fail(f"{field} out of range: {short(value)}") from None


def _tolist(value: Any) -> list[str]:
    if isinstance(value, list):
        return [s for s in (as_str(v) for v in value) if s]
    text = as_str(value)
    return [t for t in re.split(r"[,;]", text) if t] if text else []


def _message(rec: Any, line: int, options: ParseOptions) -> Message:
    if not isinstance(rec, dict):
        raise fail(f"expected a JSON object, found {type(rec).__name__}")
    msgid = as_str(rec.get("msgid"))
    if not msgid:
        if "errcode" in rec:
            raise fail(f"API error response: errcode {short(rec.get('errcode'))} ({short(rec.get('errmsg'))})")
        raise fail("not a WeCom archive message: no msgid")
    if "encrypt_chat_msg" in rec and "msgtype" not in rec and rec.get("action") != "switch":
        raise fail("encrypted chatdata (encrypt_chat_msg): decrypt it with the Finance SDK's DecryptData first")
    action = as_str(rec.get("action")) or "send"
    extras: dict[str, Any] = {}
    seq = as_int(rec.get("seq"))
    if seq is not None:
        extras["seq"] = seq

    if action == "switch":
        user = as_str(rec.get("user")) or as_str(rec.get("from"))
        sent_at = _instant(rec.get("time", rec.get("msgtime")), options, extras, "time")
        extras["action"] = "switch"
        if side_of(user):
            extras["side"] = side_of(user)
        return Message(
            platform=PLATFORM, conversation_id=SWITCH_CONVERSATION, conversation_title="切换企业日志",
            sent_at=sent_at, kind=Kind.SYSTEM, text=f"{user or '?'} 切换了企业", sender_id=user,
            message_id=msgid, is_me=_is_me(options, user), position=line, extras=extras,
        )

    sender = as_str(rec.get("from"))
    tolist = _tolist(rec.get("tolist"))
    roomid = as_str(rec.get("roomid")) or ""
    msgtype = as_str(rec.get("msgtype")) or ""
    sent_at = _instant(rec.get("msgtime"), options, extras, "msgtime")
    if roomid:
        conversation_id = roomid
    elif sender and tolist:
        conversation_id = "|".join(sorted({sender, *tolist}))
    else:
        raise fail("message has neither roomid nor from + tolist")

    extras["msgtype"] = msgtype
    if action != "send":
        extras["action"] = action
    if side_of(sender):
        extras["side"] = side_of(sender)
    if roomid and tolist:
        extras["tolist"] = tolist

    key = _PAYLOAD_KEY.get(msgtype, msgtype)
    payload = rec.get(key)
    if not isinstance(payload, dict):
        payload = rec.get(msgtype) if isinstance(rec.get(msgtype), dict) else rec  # flattened exports
    if msgtype in ("meeting_voice_call", "voip_doc_share"):
        for top in ("voiceid", "voipid"):
            if as_str(rec.get(top)):
                extras[top] = rec[top]

    kind, text, attachments, more = render(msgtype, payload)
    extras.update(more)
    amount = currency = reply_to = None
    if kind is Kind.RED_PACKET:
        fen = as_int(payload.get("totalamount"))
        if fen is not None:
            amount = str((Decimal(fen) / 100).quantize(Decimal("0.01")))
            currency = "CNY"
    if msgtype == "revoke" or action == "recall":
        kind = Kind.RECALL
        reply_to = as_str(payload.get("pre_msgid"))
        text = "撤回了一条消息"
    return Message(
        platform=PLATFORM, conversation_id=conversation_id, sent_at=sent_at, kind=kind, text=text,
        sender_id=sender, message_id=msgid, reply_to=reply_to, amount=amount, currency=currency,
        attachments=tuple(attachments), is_me=_is_me(options, sender), position=line, extras=extras,
    )


def _conversation(message: Message, rec: dict) -> Conversation:
    if message.conversation_id == SWITCH_CONVERSATION:
        return Conversation(PLATFORM, SWITCH_CONVERSATION, "切换企业日志", ConversationType.UNKNOWN)
    tolist = _tolist(rec.get("tolist"))
    people = sorted({p for p in (message.sender_id, *tolist) if p})
    if as_str(rec.get("roomid")):
        kind = ConversationType.GROUP
    elif len(people) == 2:
        kind = ConversationType.PRIVATE
    else:
        kind = ConversationType.UNKNOWN
    return Conversation(PLATFORM, message.conversation_id, None, kind, tuple((p, None) for p in people))


# ---- content of each msgtype -------------------------------------------------------------

def _json_field(value: Any) -> dict:
    """Content of mixed / chatrecord items: a JSON string (as documented) or already an object."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            decoded = orjson.loads(value)
        except orjson.JSONDecodeError:
            return {"content": value}
        return decoded if isinstance(decoded, dict) else {"content": as_str(decoded) or ""}
    return {}


def _media(payload: dict, name: str | None = None, size_key: str = "filesize") -> tuple[list[Attachment], dict]:
    extras: dict[str, Any] = {}
    for key in ("md5sum", "sdkfileid", "fileext", "play_length", "voice_size", "imagesize"):
        value = payload.get(key)
        if value not in (None, ""):
            extras[key] = value
    size = as_int(payload.get(size_key))
    if name or size is not None:
        return [Attachment(name=name, size=size)], extras
    return [], extras


def _join(*parts: Any) -> str:
    return " ".join(p for p in (as_str(x) for x in parts) if p and p.strip())


def render(msgtype: str, payload: dict, depth: int = 0) -> tuple[Kind, str, list[Attachment], dict]:
    """(kind, visible text, attachments, extras) of one msgtype's content object."""
    p = as_dict(payload)
    label = _PLACEHOLDER.get(msgtype, f"[{msgtype or '未知消息'}]")
    if msgtype == "text":
        return Kind.TEXT, as_str(p.get("content")) or "", [], {}
    if msgtype == "markdown":
        return Kind.TEXT, as_str(p.get("content")) or as_str(p.get("markdown")) or label, [], {}
    if msgtype == "image":
        attachments, extras = _media(p)
        return Kind.IMAGE, label, attachments, extras
    if msgtype == "voice":
        attachments, extras = _media(p, size_key="voice_size")
        return Kind.VOICE, label, attachments, extras
    if msgtype == "video":
        attachments, extras = _media(p)
        return Kind.VIDEO, label, attachments, extras
    if msgtype == "emotion":
        attachments, extras = _media(p, size_key="imagesize")
        return Kind.STICKER, label, attachments, extras
    if msgtype in ("file", "voip_doc_share", "qydiskfile"):
        name = as_str(p.get("filename"))
        attachments, extras = _media(p, name)
        return Kind.FILE, name or label, attachments, extras
    if msgtype == "link":
        extras = {k: p[k] for k in ("link_url", "description", "image_url") if as_str(p.get(k))}
        return Kind.LINK, _join(p.get("title")) or as_str(p.get("link_url")) or label, [], extras
    if msgtype == "weapp":
        extras = {k: p[k] for k in ("username", "displayname", "description") if as_str(p.get(k))}
        return Kind.LINK, _join(label, p.get("displayname"), p.get("title")), [], extras
    if msgtype == "docmsg":
        extras = {k: p[k] for k in ("link_url", "doc_creator") if as_str(p.get(k))}
        return Kind.LINK, _join(label, p.get("title")), [], extras
    if msgtype == "news":
        items = [as_dict(i) for i in p.get("item", []) if isinstance(i, dict)] if isinstance(p.get("item"), list) else []
        titles = [t for t in (as_str(i.get("title")) for i in items) if t]
        urls = [u for u in (as_str(i.get("url")) for i in items) if u]
        return Kind.LINK, "\n".join(titles) or label, [], ({"urls": urls} if urls else {})
    if msgtype == "location":
        extras = {k: p[k] for k in ("latitude", "longitude", "zoom") if p.get(k) is not None}
        if as_str(p.get("address")):
            extras["address"] = p["address"]
        return Kind.LOCATION, _join(p.get("title"), p.get("address")) or label, [], extras
    if msgtype == "card":
        extras = {k: p[k] for k in ("corpname", "userid") if as_str(p.get(k))}
        return Kind.CONTACT, _join(label, p.get("corpname"), p.get("userid")), [], extras
    if msgtype in ("revoke",):
        return Kind.RECALL, "撤回了一条消息", [], ({"pre_msgid": p["pre_msgid"]} if as_str(p.get("pre_msgid")) else {})
    if msgtype in ("agree", "disagree"):
        when = p.get("agree_time", p.get("disagree_time"))
        extras = {k: v for k, v in (("userid", p.get("userid")), (f"{msgtype}_time", when)) if v is not None}
        verb = "同意" if msgtype == "agree" else "不同意"
        return Kind.SYSTEM, f"{as_str(p.get('userid')) or '对方'} {verb}存档会话内容", [], extras
    if msgtype in ("redpacket", "external_redpacket"):
        extras = {k: p[k] for k in ("type", "totalcnt", "totalamount") if p.get(k) is not None}
        return Kind.RED_PACKET, _join(label, p.get("wish")), [], extras
    if msgtype == "chatrecord":
        return _chatrecord(p, label, depth)
    if msgtype == "mixed":
        return _mixed(p, depth)
    if msgtype == "vote":
        options = [o for o in (as_str(v) for v in p.get("voteitem", [])) if o] if isinstance(p.get("voteitem"), list) else []
        extras = {k: p[k] for k in ("votetype", "voteid") if p.get(k) is not None}
        if options:
            extras["voteitem"] = options
        return Kind.POLL, "\n".join([_join(label, p.get("votetitle"))] + options), [], extras
    if msgtype == "collect":
        extras = {k: p[k] for k in ("room_name", "creator", "create_time") if as_str(p.get(k))}
        return Kind.POLL, _join(label, p.get("title")), [], extras
    if msgtype == "todo":
        return Kind.OTHER, "\n".join(x for x in (_join(label, p.get("title")), as_str(p.get("content"))) if x), [], {}
    if msgtype == "meeting":
        extras = {k: p[k] for k in ("starttime", "endtime", "address", "meetingtype", "meetingid", "status") if p.get(k) not in (None, "")}
        return Kind.OTHER, _join(label, p.get("topic")), [], extras
    if msgtype == "calendar":
        extras = {k: p[k] for k in ("starttime", "endtime", "place", "creatorname", "attendeename") if p.get(k) not in (None, "")}
        return Kind.OTHER, _join(label, p.get("title")), [], extras
    if msgtype == "meeting_voice_call":
        extras = {k: p[k] for k in ("endtime", "sdkfileid") if p.get(k) not in (None, "")}
        return Kind.CALL, label, [], extras
    if msgtype == "voiptext":
        extras = {k: p[k] for k in ("callduration", "invitetype") if p.get(k) is not None}
        seconds = as_int(p.get("callduration"))
        return Kind.CALL, label + (f" {seconds}秒" if seconds is not None else ""), [], extras
    if msgtype == "sphfeed":
        extras = {k: p[k] for k in ("feed_type", "sph_name") if p.get(k) is not None}
        return Kind.OTHER, "\n".join(x for x in (_join(label, p.get("sph_name")), as_str(p.get("feed_desc"))) if x), [], extras
    if msgtype == "meeting_notification":
        return Kind.SYSTEM, as_str(p.get("content")) or label, [], {k: p[k] for k in ("meeting_id", "notification_type") if p.get(k) is not None}
    # a type this reader does not know (接龙, 笔记, later additions): kept, with what it says
    title = as_str(p.get("title")) or as_str(p.get("content"))
    return Kind.OTHER, _join(label, title), [], {}


def _chatrecord(p: dict, label: str, depth: int) -> tuple[Kind, str, list[Attachment], dict]:
    items = p.get("item") if isinstance(p.get("item"), list) else []
    lines = [_join(label, p.get("title"))]
    attachments: list[Attachment] = []
    for item in items:
        item = as_dict(item)
        native = as_str(item.get("type")) or ""
        inner = native[len("ChatRecord"):].lower() if native.startswith("ChatRecord") else native.lower()
        if depth > 8:
            lines.append(f"[{native}]")
            continue
        _, text, found, _ = render(inner, _json_field(item.get("content")), depth + 1)
        attachments.extend(found)
        lines.append(text or f"[{native}]")
    return Kind.CHAT_HISTORY, "\n".join(x for x in lines if x), attachments, {"items": len(items)}


def _mixed(p: dict, depth: int) -> tuple[Kind, str, list[Attachment], dict]:
    items = p.get("item") if isinstance(p.get("item"), list) else []
    parts: list[str] = []
    attachments: list[Attachment] = []
    types: list[str] = []
    for item in items:
        item = as_dict(item)
        inner = as_str(item.get("type")) or ""
        types.append(inner)
        if depth > 8:
            parts.append(f"[{inner}]")
            continue
        _, text, found, _ = render(inner, _json_field(item.get("content")), depth + 1)
        attachments.extend(found)
        text = text.rstrip("\n")
        if text:
            parts.append(text)
    return Kind.TEXT, "\n".join(parts), attachments, {"parts": types}
