"""Slack workspace export: the folder Slack's "Export data" ZIP unzips to (or the ZIP itself).

Layout (Slack help "How to read Slack data exports"): ``users.json`` (``org_users.json`` on
Enterprise Grid), ``channels.json`` — plus ``groups.json`` (private channels), ``dms.json`` and
``mpims.json`` in exports of all conversations — and one folder per conversation (public and private
channels and group DMs by name, DMs by id) holding ``YYYY-MM-DD.json`` day files, each a JSON array
of message objects as the Web API returns them.

* ``conversation_id`` is the channel id from the metadata files (the folder name when a folder has
  no metadata entry); title ``#name`` for channels, member names for DMs and group DMs.
* ``message_id`` is ``ts``; ``sent_at`` is ``ts`` (Unix seconds, exact to the microsecond) shown
  in ``--tz`` (UTC by default).  ``position`` is the 1-based index of the message in its day file;
  ``extras["file"]`` is the day file's path relative to the export, ``extras["line"]`` its line.
* Mentions ``<@U…>``, ``<#C…|name>``, ``<!here>``, links ``<url|label>`` are rendered as Slack shows
  them (``@display name``, ``#name``, ``@here``, the label) and ``&amp; &lt; &gt;`` unescaped; link
  targets go to ``extras["links"]``.
* Subtypes: joins/leaves/topic/purpose/rename/archive/pins … → SYSTEM; ``tombstone`` and
  ``message_deleted`` → RECALL; ``huddle_thread`` (and legacy ``sh_room_created``) → CALL;
  ``bot_message`` (or any message with ``bot_id``) → its kind with ``extras["side"] = "bot"``;
  messages with ``files`` (``file_share`` in older exports) → IMAGE/VIDEO/VOICE when every file is
  of that type, else FILE, with :class:`~chataudit.model.Attachment` records (name, size, MIME,
  ``url_private`` without its query as path; an export holds no bytes, so no hash); unknown
  subtypes → OTHER.  ``edited.ts`` → ``edited_at``; ``thread_ts`` ≠ ``ts`` → ``reply_to`` the
  thread root's ts.
"""

from __future__ import annotations

import json
import re
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any, Iterator

import ijson

from ..errors import ParseError
from ..model import Attachment, Conversation, ConversationType, Kind, Message, Record, instant_problem
from . import ParseOptions, read_whole
from .json_stream import MAX_JSON_DEPTH, guarded_events

NAME = "slack-export"
PLATFORM = "slack"
DESCRIPTION = (
    "Slack workspace export (Export data ZIP, unzipped or not): users.json, channels.json, groups.json, "
    "dms.json, mpims.json and <conversation>/YYYY-MM-DD.json day files"
)

DAY_FILE = re.compile(r"^\d{4}-\d{2}-\d{2}\.json$")
USERS_FILES = ("users.json", "org_users.json")
CONVERSATION_FILES = ("channels.json", "groups.json", "mpims.json", "dms.json")

SYSTEM_SUBTYPES = {
    "channel_join", "channel_leave", "channel_topic", "channel_purpose", "channel_name", "channel_archive",
    "channel_unarchive", "channel_convert_to_private", "channel_convert_to_public", "channel_posting_permissions",
    "channel_canvas_updated", "group_join", "group_leave", "group_topic", "group_purpose", "group_name",
    "group_archive", "group_unarchive", "pinned_item", "unpinned_item", "bot_add", "bot_remove",
    "bot_enable", "bot_disable", "reminder_add", "reminder_delete", "joiner_notification",
    "joiner_notification_for_inviter", "app_conversation_join", "app_conversation_leave",
    "sh_room_shared", "slackbot_response_added", "assistant_app_thread",
}
RECALL_SUBTYPES = {"tombstone", "message_deleted"}
CALL_SUBTYPES = {"huddle_thread", "sh_room_created"}
TEXT_SUBTYPES = {
    None, "", "bot_message", "me_message", "thread_broadcast", "reply_broadcast", "slackbot_response",
    "message_replied", "message_changed", "file_share", "file_comment", "file_mention", "reply_to_thread",
}
_SYSTEM_SUFFIXES = ("_join", "_leave", "_topic", "_purpose", "_name", "_archive", "_unarchive")


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


# ---- where the export lives: a folder, or the ZIP itself ----------------------------------------

class _Export:
    """Read access to an export root: a folder (possibly one level down after unzipping) or a .zip."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.zip: zipfile.ZipFile | None = None
        self.prefix = ""
        self.names: list[str] = []
        if path.is_dir():
            self.root = _folder_root(path)
        else:
            self.root = path
            self.zip = zipfile.ZipFile(path)
            names = [n for n in self.zip.namelist() if not n.startswith("__MACOSX/")]
            tops = {n.split("/", 1)[0] for n in names if "/" in n}
            if not any(n in USERS_FILES + CONVERSATION_FILES for n in names) and len(tops) == 1:
                self.prefix = tops.pop() + "/"
            self.names = [n[len(self.prefix):] for n in names if n.startswith(self.prefix)]

    def close(self) -> None:
        if self.zip is not None:
            self.zip.close()

    def display(self, rel: str) -> str:
        return str(self.root / rel) if self.zip is None else f"{self.path}/{self.prefix}{rel}"

    def exists(self, rel: str) -> bool:
        if self.zip is None:
            return (self.root / rel).is_file()
        return rel in self.names

    def open(self, rel: str) -> IO[bytes]:
        if self.zip is None:
            return open(self.root / rel, "rb")
        return self.zip.open(self.prefix + rel)

    def conversation_folders(self) -> dict[str, list[str]]:
        """Folder name → its day files (relative paths), both sorted."""
        found: dict[str, list[str]] = {}
        if self.zip is None:
            for folder in sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith((".", "__MACOSX"))):
                days = sorted(f.name for f in folder.iterdir() if f.is_file() and DAY_FILE.match(f.name))
                if days:
                    found[folder.name] = [f"{folder.name}/{d}" for d in days]
        else:
            for name in self.names:
                parts = name.split("/")
                if len(parts) == 2 and DAY_FILE.match(parts[1]):
                    found.setdefault(parts[0], []).append(name)
            found = {k: sorted(v) for k, v in sorted(found.items())}
        return found


def _looks_like_root(folder: Path) -> bool:
    return any((folder / name).is_file() for name in USERS_FILES + CONVERSATION_FILES)


def _folder_root(path: Path) -> Path:
    """The export root: ``path`` itself, or its only subfolder (a ZIP unzipped into a folder of its own)."""
    if _looks_like_root(path):
        return path
    subfolders = [p for p in path.iterdir() if p.is_dir() and not p.name.startswith((".", "__MACOSX"))]
    if len(subfolders) == 1 and _looks_like_root(subfolders[0]):
        return subfolders[0]
    return path


# ---- detection -------------------------------------------------------------------------------

def _has_day_folder(root: Path, limit: int = 200) -> bool:
    for count, folder in enumerate(root.iterdir()):
        if count > limit:
            break
        if folder.is_dir():
            for inner_count, file in enumerate(folder.iterdir()):
                if inner_count > 50:
                    break
                if DAY_FILE.match(file.name) and file.is_file():
                    return True
    return False


def _confidence(has_users: bool, has_channels: bool, has_other: bool, has_days: bool) -> float:
    if not has_days:
        return 0.0
    if has_users and has_channels:
        return 0.95
    if has_users and has_other:
        return 0.9
    if has_users or has_channels or has_other:
        return 0.6
    return 0.0


def detect(path: Path, head: bytes) -> float:
    try:
        if path.is_dir():
            # only the export's own folder: a folder that merely contains one (a mixed folder of
            # several platforms) is walked by the importer, which then finds the export inside
            root = path
            return _confidence(
                any((root / n).is_file() for n in USERS_FILES),
                (root / "channels.json").is_file(),
                any((root / n).is_file() for n in CONVERSATION_FILES[1:]),
                _has_day_folder(root),
            )
        if path.suffix.lower() == ".zip" and head.startswith(b"PK"):
            export = _Export(path)
            try:
                names = set(export.names)
                has_days = any(len(n.split("/")) == 2 and DAY_FILE.match(n.split("/")[1]) for n in names)
                return _confidence(
                    any(n in names for n in USERS_FILES),
                    "channels.json" in names,
                    any(n in names for n in CONVERSATION_FILES[1:]),
                    has_days,
                )
            finally:
                export.close()
        return 0.0  # a single day file is not an export: the importer hands over the whole folder
    except Exception:
        return 0.0


# ---- metadata --------------------------------------------------------------------------------

def _json_error_line(export: _Export, rel: str) -> tuple[int | None, str]:
    """Line and message of a JSON syntax error, found by re-reading the file (only on the error path)."""
    data = b""
    try:
        with export.open(rel) as handle:
            data = handle.read()
        json.loads(data.decode("utf-8-sig"))
    except json.JSONDecodeError as error:
        return error.lineno, error.msg
    except UnicodeDecodeError as error:
        return data.count(b"\n", 0, error.start) + 1, f"cannot decode text as UTF-8: {error.reason}"
    except ValueError as error:
        return None, str(error)
    except RecursionError:
        return None, f"nested deeper than {MAX_JSON_DEPTH} levels"
    return None, "malformed JSON"


def _items(export: _Export, rel: str) -> Iterator[dict]:
    """Objects of a top-level JSON array, streamed (users.json can be large)."""
    try:
        with export.open(rel) as handle:
            for item in ijson.items(guarded_events(_BomSkipper(handle), export.display(rel)), "item"):
                if isinstance(item, dict):
                    yield item
    except (ijson.JSONError, UnicodeDecodeError):
        line, message = _json_error_line(export, rel)
        raise ParseError(export.display(rel), line, f"malformed JSON: {message}") from None


class _BomSkipper:
    """A binary reader without a leading UTF-8 BOM (ijson rejects it; some re-zipped exports have one)."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        first = handle.read(3)
        self.pending = b"" if first == b"\xef\xbb\xbf" else first

    def read(self, size: int = -1) -> bytes:
        if not self.pending:
            return self.handle.read(size)
        if size is None or size < 0:
            data, self.pending = self.pending + self.handle.read(), b""
        elif size <= len(self.pending):
            data, self.pending = self.pending[:size], self.pending[size:]
        else:
            data, self.pending = self.pending + self.handle.read(size - len(self.pending)), b""
        return data


def _display_name(user: dict) -> str | None:
    profile = _dict(user.get("profile"))
    for value in (profile.get("display_name"), profile.get("real_name"), user.get("real_name"), user.get("name")):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


class _Directory:
    """Who is who and which folder is which conversation."""

    def __init__(self, export: _Export) -> None:
        self.users: dict[str, dict[str, Any]] = {}
        self.bots: dict[str, str] = {}
        self.conversations: dict[str, dict[str, Any]] = {}  # folder name → metadata
        self.channel_names: dict[str, str] = {}
        for rel in USERS_FILES:
            if export.exists(rel):
                for user in _items(export, rel):
                    uid = user.get("id")
                    if not isinstance(uid, str):
                        continue
                    profile = _dict(user.get("profile"))
                    self.users[uid] = {
                        "display": _display_name(user),
                        "name": _str(user.get("name")),
                        "real_name": _str(user.get("real_name")) or _str(profile.get("real_name")),
                        "is_bot": user.get("is_bot") is True,
                    }
                    bot_id = _str(profile.get("bot_id"))
                    if bot_id and _display_name(user):
                        self.bots[bot_id] = _display_name(user)
        for rel in CONVERSATION_FILES:
            if not export.exists(rel):
                continue
            for item in _items(export, rel):
                cid = item.get("id")
                if not isinstance(cid, str):
                    continue
                members = [m for m in _list(item.get("members")) if isinstance(m, str)]
                name = _str(item.get("name"))
                if rel in ("channels.json", "groups.json"):
                    kind, title = ConversationType.CHANNEL, f"#{name or cid}"
                elif rel == "mpims.json":
                    kind, title = ConversationType.GROUP, ", ".join(self.name_of(m) for m in members) or name or cid
                else:
                    kind, title = ConversationType.PRIVATE, ", ".join(self.name_of(m) for m in members) or cid
                entry = {"id": cid, "name": name, "type": kind, "title": title, "members": members, "source": rel}
                self.conversations.setdefault(cid, entry)
                if name:
                    self.conversations.setdefault(name, entry)
                    self.channel_names[cid] = name

    def name_of(self, uid: str) -> str:
        user = self.users.get(uid)
        return (user or {}).get("display") or uid


# ---- day files -------------------------------------------------------------------------------

_WS = re.compile(r"[ \t\r\n]*")


def _array_items(text: str, where: str) -> Iterator[tuple[int, int, Any]]:
    """(1-based index, line, value) of each element of the JSON array in ``text``, with exact error lines."""
    decoder = json.JSONDecoder()
    counted_to, line = 0, 1

    def line_at(offset: int) -> int:
        nonlocal counted_to, line
        line += text.count("\n", counted_to, offset)
        counted_to = offset
        return line

    pos = _WS.match(text, 0).end()
    if pos >= len(text):
        raise ParseError(where, line_at(pos), "empty day file (expected a JSON array)")
    if text[pos] != "[":
        raise ParseError(where, line_at(pos), "a day file must hold a JSON array of messages")
    pos = _WS.match(text, pos + 1).end()
    if text.startswith("]", pos):
        return
    index = 0
    while True:
        index += 1
        try:
            value, end = decoder.raw_decode(text, pos)
        except RecursionError:
            raise ParseError(where, line_at(pos), f"message {index} is JSON nested deeper than {MAX_JSON_DEPTH} levels "
                                                  "(refused: no chat export nests so deep)") from None
        except json.JSONDecodeError as error:
            if _WS.match(text, error.pos).end() >= len(text):
                raise ParseError(where, error.lineno, f"day file ends inside message {index} (truncated)") from None
            raise ParseError(where, error.lineno, f"malformed JSON in message {index}: {error.msg}") from None
        yield index, line_at(pos), value
        pos = _WS.match(text, end).end()
        if pos >= len(text):
            raise ParseError(where, line_at(pos), "day file ends inside its array (truncated)")
        if text[pos] == ",":
            pos = _WS.match(text, pos + 1).end()
            continue
        if text[pos] == "]":
            rest = _WS.match(text, pos + 1).end()
            if rest != len(text):
                raise ParseError(where, line_at(rest), "extra data after the array")
            return
        raise ParseError(where, line_at(pos), f"expected ',' or ']' after message {index}")


# ---- text rendering --------------------------------------------------------------------------

_TOKEN = re.compile(r"<([^<>\n]*)>")


def _render(text: str, directory: _Directory, links: list[str]) -> str:
    """Slack's markup as the client shows it: mentions resolved, link labels, entities unescaped."""

    def replace(match: re.Match) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            uid = target[1:]
            return "@" + (directory.users.get(uid, {}).get("display") or label or uid)
        if target.startswith("#"):
            cid = target[1:]
            return "#" + (label or directory.channel_names.get(cid) or cid)
        if target.startswith("!"):
            command = target[1:]
            if command in ("here", "channel", "everyone"):
                return "@" + command
            if command.startswith("subteam^"):
                return label or "@" + command.split("^", 1)[1]
            if command.startswith("date^"):
                return label or command
            return label or "@" + command
        links.append(target)
        if label:
            return label
        return target[len("mailto:"):] if target.startswith("mailto:") else target

    rendered = _TOKEN.sub(replace, text)
    return rendered.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _blocks_text(blocks: Any, directory: _Directory) -> str:
    """Plain text of rich_text / section blocks, for messages whose ``text`` is empty."""
    out: list[str] = []

    def walk(element: Any) -> None:
        if isinstance(element, list):
            for item in element:
                walk(item)
            return
        if not isinstance(element, dict):
            return
        kind = element.get("type")
        if kind in ("text", "mrkdwn", "plain_text") and isinstance(element.get("text"), str):
            out.append(element["text"])
        elif kind == "link":
            out.append(_str(element.get("text")) or _str(element.get("url")) or "")
        elif kind == "user":
            out.append("@" + directory.name_of(str(element.get("user_id"))))
        elif kind == "channel":
            cid = str(element.get("channel_id"))
            out.append("#" + directory.channel_names.get(cid, cid))
        elif kind == "emoji":
            unicode = _str(element.get("unicode"))
            out.append((_emoji(unicode) if unicode else "") or f":{element.get('name')}:")
        elif kind == "broadcast":
            out.append("@" + str(element.get("range")))
        else:
            if kind in ("rich_text_section", "rich_text_preformatted", "rich_text_quote", "section") and out:
                out.append("\n")
            for key in ("elements", "text", "fields"):
                if isinstance(element.get(key), (list, dict)):
                    walk(element[key])

    walk(blocks)
    return "".join(out).strip()


def _emoji(codepoints: str) -> str:
    try:
        return "".join(chr(int(cp, 16)) for cp in codepoints.split("-"))
    except (ValueError, OverflowError):
        return ""


# ---- messages --------------------------------------------------------------------------------

_TS = re.compile(r"^(\d{1,12})(?:\.(\d{1,9}))?$")


def _instant(value: Any, tz) -> datetime | None:  # noqa: ANN001
    """A Slack ``ts`` ("1585910460.000400") as an aware datetime, exact to the microsecond."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = f"{value:.6f}"
    if not isinstance(value, str):
        return None
    match = _TS.match(value.strip())
    if not match:
        return None
    micro = int((match.group(2) or "0")[:6].ljust(6, "0"))
    try:
        moment = datetime.fromtimestamp(int(match.group(1)), timezone.utc) + timedelta(microseconds=micro)
        return moment.astimezone(tz)
    except (ValueError, OverflowError, OSError):  # beyond year 9999
        return None


def _file_kind(files: list[dict]) -> Kind:
    """IMAGE/VIDEO/VOICE when every available file is of that type, else FILE."""
    kinds = set()
    for file in files:
        mime = _str(file.get("mimetype")) or ""
        subtype = _str(file.get("subtype")) or ""
        if not mime and not subtype:
            continue  # a deleted or hidden file says nothing of its type
        if subtype == "slack_audio" or mime.startswith("audio/"):
            kinds.add(Kind.VOICE)
        elif subtype == "slack_video" or mime.startswith("video/"):
            kinds.add(Kind.VIDEO)
        elif mime.startswith("image/"):
            kinds.add(Kind.IMAGE)
        else:
            kinds.add(Kind.FILE)
    return kinds.pop() if len(kinds) == 1 else Kind.FILE


def _attachment(file: dict) -> Attachment:
    url = file.get("url_private_download") or file.get("url_private")
    size = file.get("size")
    name = file.get("name") if isinstance(file.get("name"), str) and file.get("name") else file.get("title")
    mime = file.get("mimetype")
    return Attachment(
        name=name if isinstance(name, str) and name else None,
        size=size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
        mime=mime if isinstance(mime, str) and mime else None,
        path=url.split("?", 1)[0] if isinstance(url, str) and url else None,
    )


def _kind_of(subtype: str | None, files: list[dict]) -> Kind:
    if subtype in RECALL_SUBTYPES:
        return Kind.RECALL
    if subtype in CALL_SUBTYPES:
        return Kind.CALL
    if subtype in SYSTEM_SUBTYPES or (subtype and subtype.endswith(_SYSTEM_SUFFIXES)):
        return Kind.SYSTEM
    if files or subtype == "file_share":
        return _file_kind(files) if files else Kind.FILE
    if subtype in TEXT_SUBTYPES:
        return Kind.TEXT
    return Kind.OTHER


def _message(obj: Any, index: int, line: int, rel: str, where: str, conversation: dict, directory: _Directory,
             options: ParseOptions) -> Message:
    """One message object; optional fields of an unexpected type are treated as absent."""
    if not isinstance(obj, dict):
        raise ParseError(where, line, f"message {index} is not a JSON object")
    sent_at = _instant(obj.get("ts"), options.tz)
    if sent_at is None:
        raise ParseError(where, line, f"message {index} has no valid 'ts' (got {obj.get('ts')!r:.40})")
    ts = _str(obj.get("ts")) or f"{obj.get('ts'):.6f}"
    subtype = _str(obj.get("subtype"))
    extras: dict[str, Any] = {"file": rel, "line": line}
    if subtype:
        extras["subtype"] = subtype
    if obj.get("type") not in (None, "message"):
        extras["type"] = obj.get("type") if isinstance(obj.get("type"), str) else str(obj.get("type"))

    # the message_changed event form carries the message inside
    inner = obj.get("message") if subtype == "message_changed" and isinstance(obj.get("message"), dict) else obj
    if inner is not obj and _str(inner.get("ts")):
        extras["changed_ts"] = inner["ts"]  # the message this edit event is about

    user = _str(inner.get("user"))
    bot_id = _str(inner.get("bot_id"))
    profile = _dict(inner.get("user_profile"))
    sender_id = user or bot_id
    sender_name = next((v.strip() for v in (profile.get("display_name"), profile.get("real_name"))
                        if isinstance(v, str) and v.strip()), None)
    if subtype == "bot_message" or (bot_id and not profile):
        extras["side"] = "bot"
        if bot_id:
            extras["bot_id"] = bot_id
        sender_name = (_str(inner.get("username")) or _str(_dict(inner.get("bot_profile")).get("name"))
                       or directory.bots.get(bot_id or "") or sender_name)
    if sender_name is None and user:
        sender_name = directory.users.get(user, {}).get("display")

    links: list[str] = []
    text = _render(_str(inner.get("text")) or "", directory, links)
    if not text.strip() and inner.get("blocks"):
        text = _blocks_text(inner.get("blocks"), directory)
    unfurls = []
    for att in _list(inner.get("attachments")):
        entry = {k: v for k, v in _dict(att).items()
                 if k in ("title", "title_link", "from_url", "service_name", "fallback", "text") and isinstance(v, str) and v}
        if entry:
            unfurls.append(entry)
    if unfurls:
        extras["attachments"] = unfurls
        if not text.strip():
            text = "\n".join(_render(u.get("fallback") or u.get("text") or u.get("title") or "", directory, links)
                             for u in unfurls).strip()
    if links:
        extras["links"] = links

    files = [f for f in _list(inner.get("files")) if isinstance(f, dict)]
    if not files and isinstance(inner.get("file"), dict):  # exports before 2019: one "file" object
        files = [inner["file"]]
    kind = _kind_of(subtype, files)
    attachments = tuple(_attachment(f) for f in files if _str(f.get("name")) or _str(f.get("title")))
    gone = [f.get("id") for f in files if f.get("mode") in ("tombstone", "hidden_by_limit")]
    if gone:
        extras["files_unavailable"] = gone
    transcripts = [_str(_dict(_dict(f.get("transcription")).get("preview")).get("content")) for f in files]
    if any(transcripts):
        extras["transcripts"] = [t for t in transcripts if t]
    if files:
        extras["file_ids"] = [f.get("id") for f in files]
        if not text.strip():
            names = [a.name for a in attachments if a.name]
            text = ", ".join(names) if names else ("This file was deleted." if gone else "[file]")

    if kind is Kind.CALL:
        room = _dict(inner.get("room"))
        creator = _str(room.get("created_by"))
        if creator:
            extras["posted_by"] = sender_id
            sender_id, sender_name = creator, directory.name_of(creator)
        participants = [p for p in _list(room.get("participant_history")) or _list(room.get("participants"))
                        if isinstance(p, str)]
        if participants:
            extras["participants"] = participants
        start, end = room.get("date_start"), room.get("date_end")
        minutes = None
        if (isinstance(start, (int, float)) and isinstance(end, (int, float)) and not isinstance(start, bool)
                and not isinstance(end, bool) and 0 < start <= end < 10**11):
            extras["duration_s"] = int(end - start)
            minutes = round((end - start) / 60)
        if not text.strip() or text.strip() == "A huddle started":
            who = ", ".join(directory.name_of(p) for p in participants)
            text = "Huddle" + (f" ({minutes} min)" if minutes is not None else "") + (f": {who}" if who else "")
    if kind is Kind.RECALL and not text.strip():
        text = "This message was deleted."
    if subtype == "message_deleted" and _str(obj.get("deleted_ts")):
        extras["deleted_ts"] = obj["deleted_ts"]

    edited_at = None
    edited = _dict(inner.get("edited"))
    if edited:
        edited_at = _instant(edited.get("ts"), options.tz)
        if _str(edited.get("user")) and edited["user"] != user:
            extras["edited_by"] = edited["user"]
    elif subtype == "message_changed":
        edited_at = sent_at

    thread_ts = _str(inner.get("thread_ts"))
    reply_to = thread_ts if thread_ts and thread_ts != ts else None
    if thread_ts and thread_ts == ts and inner.get("reply_count"):
        extras["reply_count"] = inner.get("reply_count")
        if isinstance(inner.get("reply_users"), list):
            extras["reply_users"] = inner["reply_users"]
    for key in ("client_msg_id", "team", "inviter", "hidden", "upload", "parent_user_id"):
        if inner.get(key) not in (None, "", False):
            extras[key] = inner[key]
    reactions = [{"name": r["name"], "count": r.get("count"), "users": _list(r.get("users"))}
                 for r in _list(inner.get("reactions")) if isinstance(r, dict) and _str(r.get("name"))]
    if reactions:
        extras["reactions"] = reactions

    is_me = None
    if options.me:
        me = options.me.strip().lower()
        info = directory.users.get(sender_id or "", {})
        candidates = {sender_id, sender_name, info.get("name"), info.get("display"), info.get("real_name")}
        is_me = me in {c.lower() for c in candidates if isinstance(c, str)}

    return Message(
        platform=PLATFORM,
        conversation_id=conversation["id"],
        conversation_title=conversation["title"],
        sent_at=sent_at,
        kind=kind,
        text=text,
        sender_id=sender_id,
        sender_name=sender_name,
        message_id=ts,
        reply_to=reply_to,
        edited_at=edited_at,
        attachments=attachments,
        is_me=is_me,
        position=index,
        extras=extras,
    )


def _day_messages(export: _Export, rel: str, conversation: dict, directory: _Directory,
                  options: ParseOptions) -> Iterator[Message]:
    where = export.display(rel)
    with export.open(rel) as handle:
        data = read_whole(handle, where)  # one conversation-day: the unit Slack writes
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ParseError(where, line, f"not UTF-8: {error.reason} at byte {error.start}") from None
    for index, line, obj in _array_items(text, where):
        try:
            message = _message(obj, index, line, rel, where, conversation, directory, options)
        except ParseError:
            raise
        except (TypeError, ValueError, AttributeError, KeyError, OverflowError) as error:  # a shape we did not foresee
            raise ParseError(where, line, f"unexpected structure in message {index}: {error}") from None
        problem = instant_problem(message)  # checked here too: the importer knows only the folder and index
        if problem:
            raise ParseError(where, line, problem)
        yield message


def parse(path: Path, options: ParseOptions) -> Iterator[Record]:
    """Per conversation folder (sorted): a Conversation record, then its messages day file by day file."""
    path = Path(path)
    try:
        export = _Export(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise ParseError(str(path), None, f"not a Slack export folder or ZIP: {error}") from None
    try:
        directory = _Directory(export)
        folders = export.conversation_folders()
        if not folders:
            raise ParseError(str(path), None, "no conversation folders with YYYY-MM-DD.json day files")
        for folder, days in folders.items():
            meta = directory.conversations.get(folder) or {
                "id": folder, "title": f"#{folder}", "type": ConversationType.UNKNOWN, "members": [],
            }
            yield Conversation(
                platform=PLATFORM,
                conversation_id=meta["id"],
                title=meta["title"],
                type=meta["type"],
                members=tuple((m, directory.users.get(m, {}).get("display")) for m in meta["members"]),
            )
            for rel in days:
                yield from _day_messages(export, rel, meta, directory, options)
    finally:
        export.close()
