"""Feishu / Lark messages as returned by the open platform's ``GET /open-apis/im/v1/messages``.

Archiving scripts save the list responses of 获取会话历史消息 as they come:

    {"code": 0, "msg": "success", "data": {"has_more": true, "page_token": "…", "items": [ … ]}}

one page per line, pretty-printed, several pages concatenated, an array of pages, or just the
items (a JSON array or JSON Lines).  Each item is

    {"message_id": "om_…", "root_id", "parent_id", "thread_id", "msg_type": "text",
     "create_time": "1722238025751", "update_time": "…", "deleted": false, "updated": false,
     "chat_id": "oc_…", "sender": {"id": "ou_…", "id_type": "open_id", "sender_type": "user",
     "tenant_key": "…"}, "body": {"content": "{\\"text\\":\\"@_user_1 你好\\"}"},
     "mentions": [{"key": "@_user_1", "id": "ou_…", "id_type": "open_id", "name": "张三"}]}

``body.content`` is itself JSON (接收消息内容结构) — except for recalled messages ("This message
was recalled") and merge_forward ("Merged and Forwarded Message"), which are plain text.

Rules: times are UTC milliseconds → ``--tz``; ``deleted: true`` → a RECALL event (the original
content is gone); ``updated: true`` → ``edited_at`` = update_time and the edited text;
``parent_id`` → ``reply_to``; sender_type ``app`` → ``extras["side"] = "bot"``.  The list API
gives sender ids, not names: ``sender_name`` comes from a name the export carries
(``sender.name`` / ``sender_name``) or from a ``mentions`` entry for that id seen earlier in the file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

import orjson

from ..errors import ParseError
from ..model import Attachment, Conversation, ConversationType, Kind, Message, Record
from . import ParseOptions
from .json_stream import as_dict, as_int, as_str, fail, from_ms, head_keys, parse_messages, short

NAME = "feishu-json"
PLATFORM = "feishu"
DESCRIPTION = "Feishu/Lark im/v1/messages list responses (pages or items) as JSON, JSON Lines or arrays"

_KEY = re.compile(r'"(message_id|msg_type|body|content|create_time|chat_id|items|sender_type)"\s*:')

_PLACEHOLDER = {
    "image": "[图片]",
    "audio": "[语音]",
    "media": "[视频]",
    "sticker": "[表情]",
    "file": "[文件]",
    "folder": "[文件夹]",
    "interactive": "[卡片]",
    "share_chat": "[群名片]",
    "share_user": "[个人名片]",
    "merge_forward": "[合并转发]",
    "location": "[位置]",
    "hongbao": "[红包]",
    "todo": "[任务]",
    "vote": "[投票]",
    "share_calendar_event": "[日程]",
    "calendar": "[日程]",
    "general_calendar": "[日程]",
    "video_chat": "[视频会议]",
    "system": "[系统消息]",
}

RECALLED_TEXT = "撤回了一条消息"
_MAX_DEPTH = 20


def detect(path: Path, head: bytes) -> float:
    keys = head_keys(head, _KEY)
    if keys is None:
        return 0.0
    if {"message_id", "msg_type"} <= keys and ("body" in keys or "content" in keys):
        return 0.97 if ("create_time" in keys or "chat_id" in keys) else 0.9
    if {"message_id", "msg_type", "items"} <= keys:
        return 0.9
    return 0.0


def parse(path: Path, options: ParseOptions) -> Iterator[Record]:
    names: dict[str, str] = {}  # sender id -> name, learnt from mentions as the file is read
    return parse_messages(path, ("data.items", "items"),
                          lambda value, line: _message(value, line, options, names), _conversation)


def _instant(value: Any, options: ParseOptions, field: str):
    ms = as_int(value)
    if ms is None:
        raise fail(f"missing or invalid {field}: {short(value)}")
    try:
        return from_ms(ms, options.tz)
    except (OverflowError, OSError, ValueError):
        raise fail(f"{field} out of range: {short(value)}") from None


def _mention_id(mention: dict) -> str | None:
    ident = mention.get("id")
    if isinstance(ident, dict):  # event payloads nest the ids
        return as_str(ident.get("open_id")) or as_str(ident.get("user_id")) or as_str(ident.get("union_id"))
    return as_str(ident)


def _message(item: Any, line: int, options: ParseOptions, names: dict[str, str]) -> Message:
    if not isinstance(item, dict):
        raise fail(f"expected a JSON object, found {type(item).__name__}")
    message_id = as_str(item.get("message_id"))
    if not message_id:
        if "code" in item and item.get("code") != 0:
            raise fail(f"API error response: code {short(item.get('code'))} ({short(item.get('msg'))})")
        raise fail("not a Feishu message: no message_id")
    chat_id = as_str(item.get("chat_id"))
    if not chat_id:
        raise fail("message has no chat_id")
    msg_type = as_str(item.get("msg_type")) or ""
    sent_at = _instant(item.get("create_time"), options, "create_time")

    mentions = [as_dict(m) for m in item.get("mentions", [])] if isinstance(item.get("mentions"), list) else []
    for mention in mentions:
        mid, mname = _mention_id(mention), as_str(mention.get("name"))
        if mid and mname:
            names[mid] = mname

    sender = as_dict(item.get("sender"))
    sender_id = as_str(sender.get("id"))
    if isinstance(sender.get("sender_id"), dict):  # event-style sender
        sender_id = sender_id or _mention_id({"id": sender["sender_id"]})
    sender_type = as_str(sender.get("sender_type"))
    sender_name = as_str(sender.get("name")) or as_str(item.get("sender_name"))
    if sender_name and sender_id:
        names.setdefault(sender_id, sender_name)
    sender_name = sender_name or (names.get(sender_id) if sender_id else None)

    extras: dict[str, Any] = {"msg_type": msg_type}
    if sender_type:
        extras["sender_type"] = sender_type
        if sender_type == "app":
            extras["side"] = "bot"
    for key in ("root_id", "thread_id", "upper_message_id"):
        if as_str(item.get(key)):
            extras[key] = item[key]
    tenant = as_str(sender.get("tenant_key"))
    if tenant:
        extras["tenant_key"] = tenant
    if mentions:
        extras["mentions"] = [
            {k: v for k, v in (("key", as_str(m.get("key"))), ("id", _mention_id(m)), ("name", as_str(m.get("name")))) if v}
            for m in mentions
        ]

    raw = as_dict(item.get("body")).get("content")
    deleted = item.get("deleted") is True
    edited_at = None
    if deleted:
        kind, text, attachments = Kind.RECALL, RECALLED_TEXT, []
        if isinstance(raw, str) and raw and not raw.lstrip().startswith("{"):
            extras["body"] = raw
    else:
        kind, text, attachments, more = render(msg_type, raw, mentions)
        extras.update(more)
    if item.get("updated") is True and not deleted:
        try:
            edited_at = _instant(item.get("update_time"), options, "update_time")
        except ParseError:  # edited, but when is unreadable: say so rather than lose the message
            extras["updated"] = True

    is_me = True if options.me and options.me in (sender_id, sender_name) else None
    return Message(
        platform=PLATFORM, conversation_id=chat_id, conversation_title=as_str(item.get("chat_name")),
        sent_at=sent_at, kind=kind, text=text, sender_id=sender_id, sender_name=sender_name,
        message_id=message_id, reply_to=as_str(item.get("parent_id")) or None, edited_at=edited_at,
        attachments=tuple(attachments), is_me=is_me, position=line, extras=extras,
    )


def _conversation(message: Message, item: dict) -> Conversation:
    chat_type = as_str(item.get("chat_type"))
    kind = {"p2p": ConversationType.PRIVATE, "group": ConversationType.GROUP, "topic_group": ConversationType.GROUP}.get(
        chat_type or "", ConversationType.UNKNOWN)
    return Conversation(PLATFORM, message.conversation_id, message.conversation_title, kind)


# ---- body.content of each msg_type -------------------------------------------------------

def _decode(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            return raw  # plain text bodies: merge_forward, recalled messages
    return raw


def _replace_mentions(text: str, mentions: list[dict]) -> str:
    # longest key first, so "@_user_1" does not eat the start of "@_user_10"
    for mention in sorted(mentions, key=lambda m: -len(as_str(m.get("key")) or "")):
        key, name = as_str(mention.get("key")), as_str(mention.get("name"))
        if key and name:
            text = text.replace(key, f"@{name}")
    return text.replace("@_all", "@所有人")


def render(msg_type: str, raw: Any, mentions: list[dict] = ()) -> tuple[Kind, str, list[Attachment], dict]:
    """(kind, visible text, attachments, extras) of one item's body.content."""
    content = _decode(raw)
    label = _PLACEHOLDER.get(msg_type, f"[{msg_type or '未知消息'}]")
    if not isinstance(content, dict):
        text = as_str(content) if content is not None else None
        if msg_type == "merge_forward":
            return Kind.CHAT_HISTORY, label, [], ({"body": text} if text else {})
        if msg_type == "text" and text:
            return Kind.TEXT, _replace_mentions(text, list(mentions)), [], {}
        return _kind_of(msg_type), text or label, [], {}
    c = content
    if msg_type == "text":
        return Kind.TEXT, _replace_mentions(as_str(c.get("text")) or "", list(mentions)), [], {}
    if msg_type == "post":
        text, links, images = post_text(c, list(mentions))
        extras: dict[str, Any] = {}
        if links:
            extras["links"] = links
        if images:
            extras["image_keys"] = images
        return Kind.TEXT, text, [], extras
    if msg_type == "image":
        return Kind.IMAGE, label, [], _keys(c, "image_key")
    if msg_type in ("file", "folder"):
        name = as_str(c.get("file_name"))
        return Kind.FILE, name or label, ([Attachment(name=name)] if name else []), _keys(c, "file_key")
    if msg_type == "audio":
        return Kind.VOICE, label, [], _keys(c, "file_key", "duration")
    if msg_type == "media":
        name = as_str(c.get("file_name"))
        return Kind.VIDEO, name or label, ([Attachment(name=name)] if name else []), _keys(c, "file_key", "image_key", "duration")
    if msg_type == "sticker":
        return Kind.STICKER, label, [], _keys(c, "file_key")
    if msg_type == "interactive":
        texts = card_texts(c)
        return Kind.OTHER, "\n".join(texts) or label, [], {}
    if msg_type == "share_chat":
        return Kind.CONTACT, label, [], _keys(c, "chat_id")
    if msg_type == "share_user":
        return Kind.CONTACT, label, [], _keys(c, "user_id")
    if msg_type == "system":
        return Kind.SYSTEM, system_text(c) or label, [], ({"template": c["template"]} if as_str(c.get("template")) else {})
    if msg_type == "merge_forward":
        return Kind.CHAT_HISTORY, label, [], {}
    if msg_type == "location":
        return Kind.LOCATION, as_str(c.get("name")) or label, [], _keys(c, "latitude", "longitude")
    if msg_type == "hongbao":
        return Kind.RED_PACKET, as_str(c.get("text")) or label, [], {}
    if msg_type == "todo":
        summary = as_dict(c.get("summary"))
        title = as_str(summary.get("title")) or ""
        body, _, _ = post_text({"content": summary.get("content")}, []) if isinstance(summary.get("content"), list) else ("", [], [])
        text = "\n".join(x for x in (f"{label} {title}".strip(), body) if x)
        return Kind.OTHER, text, [], _keys(c, "task_id", "due_time")
    if msg_type == "vote":
        options = [o for o in (as_str(v) for v in c.get("options", [])) if o] if isinstance(c.get("options"), list) else []
        return Kind.POLL, "\n".join([f"{label} {as_str(c.get('topic')) or ''}".strip()] + options), [], {}
    if msg_type in ("share_calendar_event", "calendar", "general_calendar"):
        return Kind.OTHER, f"{label} {as_str(c.get('summary')) or ''}".strip(), [], _keys(c, "start_time", "end_time")
    if msg_type == "video_chat":
        return Kind.CALL, f"{label} {as_str(c.get('topic')) or ''}".strip(), [], _keys(c, "start_time")
    title = as_str(c.get("title")) or as_str(c.get("text"))
    return Kind.OTHER, f"{label} {title or ''}".strip(), [], {}


def _kind_of(msg_type: str) -> Kind:
    return {
        "text": Kind.TEXT, "post": Kind.TEXT, "image": Kind.IMAGE, "file": Kind.FILE, "folder": Kind.FILE,
        "audio": Kind.VOICE, "media": Kind.VIDEO, "sticker": Kind.STICKER, "share_chat": Kind.CONTACT,
        "share_user": Kind.CONTACT, "system": Kind.SYSTEM, "merge_forward": Kind.CHAT_HISTORY,
        "location": Kind.LOCATION, "hongbao": Kind.RED_PACKET, "vote": Kind.POLL, "video_chat": Kind.CALL,
    }.get(msg_type, Kind.OTHER)


def _keys(content: dict, *keys: str) -> dict:
    return {k: content[k] for k in keys if content.get(k) not in (None, "")}


def post_text(content: dict, mentions: list[dict]) -> tuple[str, list[str], list[str]]:
    """The visible text of a rich-text post: title, then one line per paragraph."""
    block = content
    if "content" not in block:  # send-side shape {"zh_cn": {"title", "content"}}
        for locale in ("zh_cn", "en_us", "ja_jp"):
            if isinstance(block.get(locale), dict):
                block = block[locale]
                break
        else:
            block = next((v for v in block.values() if isinstance(v, dict) and "content" in v), block)
    names = {as_str(m.get("key")): as_str(m.get("name")) for m in mentions}
    lines: list[str] = []
    links: list[str] = []
    images: list[str] = []
    title = as_str(block.get("title"))
    if title:
        lines.append(title)
    paragraphs = block.get("content") if isinstance(block.get("content"), list) else []
    for paragraph in paragraphs:
        parts: list[str] = []
        for element in paragraph if isinstance(paragraph, list) else [paragraph]:
            e = as_dict(element)
            tag = as_str(e.get("tag"))
            if tag in ("text", "md", "code_block"):
                parts.append(as_str(e.get("text")) or "")
            elif tag == "a":
                parts.append(as_str(e.get("text")) or as_str(e.get("href")) or "")
                if as_str(e.get("href")):
                    links.append(e["href"])
            elif tag == "at":
                uid = as_str(e.get("user_id")) or ""
                name = as_str(e.get("user_name")) or names.get(uid) or ("所有人" if uid in ("all", "@_all") else uid)
                parts.append(f"@{name}")
            elif tag == "img":
                parts.append("[图片]")
                if as_str(e.get("image_key")):
                    images.append(e["image_key"])
            elif tag == "media":
                parts.append("[视频]")
            elif tag == "emotion":
                parts.append(f"[{as_str(e.get('emoji_type')) or '表情'}]")
            elif tag == "hr":
                parts.append("---")
            elif tag:
                parts.append(as_str(e.get("text")) or "")
        lines.append("".join(parts))
    return "\n".join(lines).strip("\n"), links, images


def system_text(content: dict) -> str:
    """A system message's template with its placeholders filled: "{from_user} 邀请 {to_chatters} 加入群聊"."""
    template = as_str(content.get("template")) or ""

    def fill(match: re.Match) -> str:
        value = content.get(match.group(1))
        if isinstance(value, list):
            return ", ".join(s for s in (as_str(v) for v in value) if s)
        if isinstance(value, dict):
            return as_str(value.get("text")) or ""
        return as_str(value) or ""

    return re.sub(r"\{(\w+)\}", fill, template).strip()


def card_texts(value: Any, depth: int = 0) -> list[str]:
    """The readable strings of an interactive card (title, text elements, buttons), in order, once."""
    out: list[str] = []

    def walk(node: Any, level: int) -> None:
        if level > _MAX_DEPTH:
            return
        if isinstance(node, list):
            for child in node:
                walk(child, level + 1)
        elif isinstance(node, dict):
            for key in ("title", "text", "content"):
                if isinstance(node.get(key), str) and node[key].strip() and node.get("tag") not in ("img",):
                    out.append(node[key].strip())
            for key, child in node.items():
                if isinstance(child, (dict, list)):
                    walk(child, level + 1)

    walk(value, depth)
    seen: set[str] = set()
    return [t for t in out if not (t in seen or seen.add(t))]
