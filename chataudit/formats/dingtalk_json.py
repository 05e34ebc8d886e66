"""DingTalk (钉钉) robot messages: the JSON DingTalk delivers to an enterprise robot.

An enterprise robot (HTTP callback or Stream mode, topic ``/v1.0/im/bot/messages/get``) receives
every message addressed to it as

    {"msgId": "msg…", "conversationId": "cid…", "conversationType": "2",
     "conversationTitle": "售后服务群", "senderId": "$:LWCP_v1:$…", "senderStaffId": "manager123",
     "senderNick": "张三", "senderCorpId": "ding…", "chatbotCorpId": "ding…",
     "chatbotUserId": "$:LWCP_v1:$…", "robotCode": "ding…", "isAdmin": false,
     "createAt": 1613630252678, "atUsers": [{"dingtalkId": "…", "staffId": "…"}],
     "msgtype": "text", "text": {"content": "你好"}}

``msgtype`` text | richText | picture | audio | video | file (plus markdown and cards from other
robots); non-text content is under ``content`` ({"downloadCode"}, {"richText": […]},
{"duration", "downloadCode", "recognition"}, {"fileName", "spaceId", "fileId", "downloadCode"}).
Archiving robots write the callbacks one object per line or as a JSON array.

Rules: ``conversationType`` "1" is a one-to-one chat, "2" a group; ``createAt`` is UTC ms →
``--tz``; the sender is ``senderStaffId`` (the employee's userid) when there is one, else the
encrypted ``senderId``; ``extras["side"]`` is "external" when ``senderCorpId`` differs from
``chatbotCorpId``, "bot" when the sender is the robot, "internal" otherwise.  ``sessionWebhook``
(a short-lived credential for replying) is deliberately not kept.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

from ..model import Attachment, Conversation, ConversationType, Kind, Message, Record
from . import ParseOptions
from .json_stream import as_dict, as_int, as_str, fail, from_ms, head_keys, parse_messages, short

NAME = "dingtalk-json"
PLATFORM = "dingtalk"
DESCRIPTION = "DingTalk robot callback / Stream messages (msgId, conversationId, senderNick, createAt) as JSON Lines or an array"

_KEY = re.compile(r'"(msgId|conversationId|conversationType|senderNick|createAt|senderStaffId|chatbotUserId|msgtype)"\s*:')

_PLACEHOLDER = {
    "picture": "[图片]",
    "audio": "[语音]",
    "video": "[视频]",
    "file": "[文件]",
    "markdown": "[Markdown]",
    "interactiveCard": "[卡片]",
    "actionCard": "[卡片]",
    "link": "[链接]",
}


def detect(path: Path, head: bytes) -> float:
    keys = head_keys(head, _KEY)
    if keys is None:
        return 0.0
    if {"msgId", "conversationId"} <= keys and ("senderNick" in keys or "createAt" in keys):
        return 0.97 if ("msgtype" in keys and "conversationType" in keys) else 0.9
    return 0.0


def parse(path: Path, options: ParseOptions) -> Iterator[Record]:
    return parse_messages(path, (), lambda value, line: _message(value, line, options), _conversation)


def _message(rec: Any, line: int, options: ParseOptions) -> Message:
    if not isinstance(rec, dict):
        raise fail(f"expected a JSON object, found {type(rec).__name__}")
    msg_id = as_str(rec.get("msgId"))
    if not msg_id:
        if "errcode" in rec:
            raise fail(f"API error response: errcode {short(rec.get('errcode'))} ({short(rec.get('errmsg'))})")
        raise fail("not a DingTalk robot message: no msgId")
    conversation_id = as_str(rec.get("conversationId"))
    if not conversation_id:
        raise fail("message has no conversationId")
    ms = as_int(rec.get("createAt"))
    if ms is None:
        raise fail(f"missing or invalid createAt: {short(rec.get('createAt'))}")
    try:
        sent_at = from_ms(ms, options.tz)
    except (OverflowError, OSError, ValueError):
        raise fail(f"createAt out of range: {short(rec.get('createAt'))}") from None

    staff_id = as_str(rec.get("senderStaffId"))
    sender_uid = as_str(rec.get("senderId"))
    sender_id = staff_id or sender_uid
    nick = as_str(rec.get("senderNick"))
    msgtype = as_str(rec.get("msgtype")) or ""

    extras: dict[str, Any] = {"msgtype": msgtype}
    if staff_id and sender_uid:
        extras["senderId"] = sender_uid
    sender_corp, bot_corp = as_str(rec.get("senderCorpId")), as_str(rec.get("chatbotCorpId"))
    bot_user = as_str(rec.get("chatbotUserId"))
    if bot_user and sender_uid == bot_user:
        extras["side"] = "bot"
    elif sender_corp and bot_corp:
        extras["side"] = "internal" if sender_corp == bot_corp else "external"
    for key in ("senderCorpId", "robotCode"):
        if as_str(rec.get(key)):
            extras[key] = rec[key]
    if isinstance(rec.get("isAdmin"), bool):
        extras["isAdmin"] = rec["isAdmin"]
    if isinstance(rec.get("isInAtList"), bool):
        extras["isInAtList"] = rec["isInAtList"]
    at_users = [as_dict(u) for u in rec.get("atUsers", [])] if isinstance(rec.get("atUsers"), list) else []
    at_users = [{k: v for k, v in u.items() if k in ("dingtalkId", "staffId") and as_str(v)} for u in at_users]
    if any(at_users):
        extras["atUsers"] = [u for u in at_users if u]

    kind, text, attachments, more = render(msgtype, rec)
    extras.update(more)
    is_me = True if options.me and options.me in (staff_id, sender_uid, nick) else None
    return Message(
        platform=PLATFORM, conversation_id=conversation_id, conversation_title=as_str(rec.get("conversationTitle")),
        sent_at=sent_at, kind=kind, text=text, sender_id=sender_id, sender_name=nick, message_id=msg_id,
        attachments=tuple(attachments), is_me=is_me, position=line, extras=extras,
    )


def _conversation(message: Message, rec: dict) -> Conversation:
    kind = {"1": ConversationType.PRIVATE, "2": ConversationType.GROUP}.get(
        as_str(rec.get("conversationType")) or "", ConversationType.UNKNOWN)
    return Conversation(PLATFORM, message.conversation_id, message.conversation_title, kind)


def _codes(content: dict) -> dict:
    return {k: content[k] for k in ("downloadCode", "pictureDownloadCode") if as_str(content.get(k))}


def render(msgtype: str, rec: dict) -> tuple[Kind, str, list[Attachment], dict]:
    """(kind, visible text, attachments, extras) of a robot message."""
    content = as_dict(rec.get("content"))
    label = _PLACEHOLDER.get(msgtype, f"[{msgtype or '未知消息'}]")
    if msgtype == "text":
        text = as_str(as_dict(rec.get("text")).get("content")) or as_str(content.get("content")) or ""
        return Kind.TEXT, text.strip(), [], {}
    if msgtype == "richText":
        parts: list[str] = []
        codes: list[str] = []
        nodes = content.get("richText") if isinstance(content.get("richText"), list) else []
        for node in nodes:
            node = as_dict(node)
            if as_str(node.get("text")) is not None:
                parts.append(as_str(node.get("text")) or "")
            elif node.get("type") == "picture" or "downloadCode" in node or "pictureDownloadCode" in node:
                parts.append("[图片]")
                code = as_str(node.get("downloadCode")) or as_str(node.get("pictureDownloadCode"))
                if code:
                    codes.append(code)
        extras = {"downloadCodes": codes} if codes else {}
        return Kind.TEXT, "".join(parts).strip(), [], extras
    if msgtype == "picture":
        return Kind.IMAGE, label, [], _codes(content)
    if msgtype == "audio":
        recognition = as_str(content.get("recognition"))
        extras = _codes(content)
        if content.get("duration") not in (None, ""):
            extras["duration"] = content["duration"]
        if recognition:
            extras["recognition"] = recognition
        return Kind.VOICE, f"{label} {recognition}" if recognition else label, [], extras
    if msgtype == "video":
        extras = _codes(content)
        for key in ("duration", "videoType"):
            if content.get(key) not in (None, ""):
                extras[key] = content[key]
        return Kind.VIDEO, label, [], extras
    if msgtype == "file":
        name = as_str(content.get("fileName"))
        size = as_int(content.get("fileSize"))
        extras = _codes(content)
        for key in ("spaceId", "fileId"):
            if as_str(content.get(key)):
                extras[key] = content[key]
        attachments = [Attachment(name=name, size=size)] if name or size is not None else []
        return Kind.FILE, name or label, attachments, extras
    if msgtype == "markdown":
        md = as_dict(rec.get("markdown")) or content
        return Kind.TEXT, (as_str(md.get("text")) or as_str(md.get("title")) or label).strip(), [], {}
    if msgtype == "link":
        link = as_dict(rec.get("link")) or content
        extras = {k: link[k] for k in ("messageUrl", "picUrl") if as_str(link.get(k))}
        return Kind.LINK, " ".join(x for x in (as_str(link.get("title")), as_str(link.get("text"))) if x) or label, [], extras
    if msgtype in ("actionCard", "interactiveCard"):
        card = as_dict(rec.get(msgtype)) or content
        text = "\n".join(x for x in (as_str(card.get("title")), as_str(card.get("text"))) if x)
        return Kind.OTHER, text or label, [], {}
    # a type this reader does not know: kept, with what it says
    fallback = as_str(content.get("text")) or as_str(content.get("content")) or as_str(content.get("title"))
    return Kind.OTHER, f"{label} {fallback}" if fallback else label, [], {}
