"""WeChat PC (3.x) decrypted message database: ``MSG*.db`` plus ``MicroMsg.db`` beside it.

The ``MSG`` table holds one row per message (``localId, TalkerId, MsgSvrID, Type, SubType,
CreateTime, IsSender, Sequence, StrTalker, StrContent, CompressContent, BytesExtra, …``).
``StrTalker`` is the conversation (a contact's wxid or a ``…@chatroom`` id); in a group the real
sender's wxid sits in ``BytesExtra`` (protobuf, repeated field 3 entry of type 1); app messages
(Type 49) keep their XML in ``CompressContent`` as a raw LZ4 block. ``MicroMsg.db`` gives names
(``Contact``: UserName, Alias, Remark, NickName) and group members (``ChatRoom``).

The file is opened read-only and immutable (``file:…?mode=ro&immutable=1``) and rows are streamed
from a cursor, one conversation after another.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any, Iterator

from ..errors import ParseError
from ..model import Attachment, Conversation, ConversationType, Kind, Record, from_unix
from . import ParseOptions
from .wechat_common import (
    PLATFORM,
    bytes_extra_entries,
    bytes_extra_paths,
    bytes_extra_sender,
    decompress_content,
    interpret,
    room_data_members,
    strip_sender_prefix,
)

NAME = "wechat-db"
DESCRIPTION = "WeChat PC 3.x decrypted MSG*.db (table MSG; names from MicroMsg.db beside it), as read by PyWxDump/MemoTrace"

SQLITE_MAGIC = b"SQLite format 3\x00"
REQUIRED = ("Type", "CreateTime", "StrTalker", "IsSender")
OPTIONAL = ("localId", "MsgSvrID", "SubType", "Sequence", "StrContent", "CompressContent", "BytesExtra", "DisplayContent")
MEDIA_KINDS = (Kind.IMAGE, Kind.VIDEO, Kind.FILE, Kind.VOICE)


def _connect(path: Path) -> sqlite3.Connection:
    uri = path.resolve().as_uri() + "?mode=ro&immutable=1"
    conn = sqlite3.connect(uri, uri=True)
    # text that is not UTF-8 keeps its bytes as surrogates, which the importer shows escaped and notes
    conn.text_factory = lambda data: data.decode("utf-8", errors="surrogateescape")
    return conn


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table','view')")}


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')]


def detect(path: Path, head: bytes) -> float:
    if not head.startswith(SQLITE_MAGIC) or not path.is_file():
        return 0.0
    try:
        conn = _connect(path)
        try:
            if "MSG" not in _tables(conn):
                return 0.0
            columns = set(_columns(conn, "MSG"))
        finally:
            conn.close()
    except Exception:
        return 0.0
    return 0.95 if all(c in columns for c in REQUIRED) else 0.0


# ---- names (MicroMsg.db) -------------------------------------------------------------------------

class Names:
    """Contacts and group members from MicroMsg.db; empty when the file is not there."""

    def __init__(self) -> None:
        self.contacts: dict[str, dict[str, str]] = {}
        self.rooms: dict[str, list[str]] = {}
        self.room_names: dict[str, dict[str, str]] = {}
        self.source: str | None = None

    @classmethod
    def beside(cls, path: Path) -> "Names":
        names = cls()
        for candidate in (path.parent / "MicroMsg.db", path.parent / "de_MicroMsg.db", path.parent.parent / "MicroMsg.db"):
            if candidate.is_file() and candidate.resolve() != path.resolve():
                try:
                    names._load(candidate)
                    names.source = candidate.name
                except sqlite3.Error:
                    names = cls()  # an unreadable MicroMsg.db only costs us names
                    continue
                break
        return names

    def _load(self, path: Path) -> None:
        conn = _connect(path)
        try:
            tables = _tables(conn)
            if "Contact" in tables:
                cols = set(_columns(conn, "Contact"))
                wanted = [c for c in ("UserName", "Alias", "Remark", "NickName") if c in cols]
                if "UserName" in wanted:
                    for row in conn.execute(f"SELECT {', '.join(wanted)} FROM Contact"):
                        record = {k: (v or "") for k, v in zip(wanted, row)}
                        self.contacts[record["UserName"]] = record
            if "ChatRoom" in tables:
                cols = set(_columns(conn, "ChatRoom"))
                wanted = [c for c in ("ChatRoomName", "UserNameList", "DisplayNameList", "RoomData") if c in cols]
                if "ChatRoomName" in wanted:
                    for row in conn.execute(f"SELECT {', '.join(wanted)} FROM ChatRoom"):
                        record = dict(zip(wanted, row))
                        room = record["ChatRoomName"]
                        members = [m for m in (record.get("UserNameList") or "").split("^G") if m]
                        self.rooms[room] = members
                        display = [d for d in (record.get("DisplayNameList") or "").split("^G")]
                        group_names = {m: d for m, d in zip(members, display) if d}
                        data = record.get("RoomData")
                        if isinstance(data, (bytes, bytearray)):
                            group_names.update(room_data_members(bytes(data)))
                        self.room_names[room] = group_names
        finally:
            conn.close()

    def title(self, wxid: str) -> str | None:
        contact = self.contacts.get(wxid)
        if not contact:
            return None
        return contact.get("Remark") or contact.get("NickName") or None

    def display(self, wxid: str, room: str | None = None) -> str | None:
        """As WeChat shows a sender: your remark, then the group nickname, then their nickname."""
        contact = self.contacts.get(wxid, {})
        if contact.get("Remark"):
            return contact["Remark"]
        if room and self.room_names.get(room, {}).get(wxid):
            return self.room_names[room][wxid]
        return contact.get("NickName") or None


_WXID_DIR = re.compile(r"^(wxid_[A-Za-z0-9_\-]+|[A-Za-z][A-Za-z0-9_\-]{5,19})$")


def own_wxid(path: Path, names: Names, options: ParseOptions) -> str | None:
    """The exporting account: options.me when it names a contact, else the ``WeChat Files/<wxid>`` folder."""
    me = options.me
    if me:
        if me in names.contacts:
            return me
        for wxid, contact in names.contacts.items():
            if me in (contact.get("Alias"), contact.get("NickName")):
                return wxid
    parts = path.resolve().parts
    for index, part in enumerate(parts[:-1]):
        if part == "WeChat Files" and index + 1 < len(parts) - 1 and _WXID_DIR.match(parts[index + 1]):
            return parts[index + 1]
        if part == "Msg" and index > 0 and _WXID_DIR.match(parts[index - 1]) and parts[index - 1].startswith("wxid_"):
            return parts[index - 1]
    if me and me.startswith("wxid_"):
        return me
    return None


# ---- parse ---------------------------------------------------------------------------------------

def _conversation(room: str, names: Names, me: str | None, me_name: str) -> Conversation:
    is_group = room.endswith("@chatroom")
    if is_group:
        members = tuple((m, names.display(m, room)) for m in names.rooms.get(room, []))
    else:
        members = ((me, me_name), (room, names.display(room) or room))
    return Conversation(
        platform=PLATFORM,
        conversation_id=room,
        title=names.title(room),
        type=ConversationType.GROUP if is_group else ConversationType.PRIVATE,
        members=members,
    )


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def parse(path: Path, options: ParseOptions) -> Iterator[Record]:
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            magic = handle.read(len(SQLITE_MAGIC))
    except OSError as error:
        raise ParseError(str(path), None, f"cannot read: {error}") from None
    if magic != SQLITE_MAGIC:
        raise ParseError(str(path), None, "not a SQLite database (a WeChat MSG*.db must be decrypted first)")
    try:
        conn = _connect(path)
        tables = _tables(conn)
    except sqlite3.Error as error:
        raise ParseError(str(path), None, f"cannot open as SQLite: {error}") from None
    try:
        if "MSG" not in tables:
            raise ParseError(str(path), None, "no MSG table: not a WeChat message database")
        columns = set(_columns(conn, "MSG"))
        missing = [c for c in REQUIRED if c not in columns]
        if missing:
            raise ParseError(str(path), None, f"MSG table lacks column(s) {', '.join(missing)}")
        names = Names.beside(path)
        if not names.contacts and "Contact" in tables:  # a merged database (PyWxDump merge_all.db)
            try:
                names._load(path)
                names.source = path.name
            except sqlite3.Error:
                names = Names()
        me = own_wxid(path, names, options)
        yield from _rows(path, conn, columns, names, me, options)
    except sqlite3.Error as error:
        raise ParseError(str(path), None, f"database error: {error}") from None
    finally:
        conn.close()


def _rows(path: Path, conn: sqlite3.Connection, columns: set[str], names: Names, me: str | None, options: ParseOptions) -> Iterator[Record]:
    select = list(REQUIRED) + [c if c in columns else f"NULL AS {c}" for c in OPTIONAL]
    order = ["StrTalker", "CreateTime"] + (["Sequence"] if "Sequence" in columns else []) + (["localId"] if "localId" in columns else ["rowid"])
    if "localId" not in columns:
        select[len(REQUIRED) + OPTIONAL.index("localId")] = "rowid AS localId"
    cursor = conn.execute(f"SELECT {', '.join(select)} FROM MSG ORDER BY {', '.join(order)}")
    me_name = (names.display(me) if me else None) or options.me or "我"
    current: str | None = None
    title: str | None = None
    index = 0
    for row in cursor:
        index += 1
        (type_, create_time, talker, is_sender, local_id, svrid, subtype, sequence,
         content, compressed, extra, display) = row
        talker = _text(talker)
        is_sender = str(is_sender).strip() == "1"
        position = local_id if isinstance(local_id, int) else index
        if talker != current:
            current = talker
            conversation = _conversation(talker, names, me, me_name)
            title = conversation.title
            yield conversation
        try:
            type_ = int(type_)
            subtype = int(subtype) if subtype is not None else 0
            instant = from_unix(int(create_time), options.tz)
        except (TypeError, ValueError, OverflowError, OSError):
            raise ParseError(str(path), None, f"MSG row localId={local_id}: bad Type/SubType/CreateTime") from None
        is_group = talker.endswith("@chatroom")
        entries = bytes_extra_entries(extra if isinstance(extra, (bytes, bytearray)) else None)
        content_text = _text(content)
        sender_id: str | None = None
        if is_sender:
            sender_id = me
        elif is_group:
            sender_id = bytes_extra_sender(entries)
            if sender_id is None:  # content prefixed "wxid:\n" (older / mobile-merged rows)
                prefix, rest = strip_sender_prefix(content_text)
                if prefix and (prefix in names.rooms.get(talker, ()) or prefix.startswith("wxid_")):
                    sender_id, content_text = prefix, rest
        else:
            sender_id = talker
        app_xml = decompress_content(compressed) if type_ == 49 else None

        def resolve(wxid: str) -> str | None:
            return names.display(wxid, talker if is_group else None)

        meaning = interpret(type_, subtype, content_text, app_xml, _text(display), resolve)
        extras = dict(meaning.extras)
        if type_ == 49 and compressed and app_xml is None:
            extras["compress_content_unreadable"] = True
        extras["local_id"] = local_id
        attachments = meaning.attachments
        if meaning.kind in MEDIA_KINDS:
            paths = bytes_extra_paths(entries)
            if paths:
                first = attachments[0] if attachments else Attachment()
                name = first.name or re.split(r"[\\/]", paths[0])[-1]
                attachments = (Attachment(name=name, size=first.size, path=paths[0]),) + attachments[1:]
        is_me = is_sender
        sender_name = None
        if meaning.kind in (Kind.SYSTEM, Kind.RECALL):
            sender_id = None
            is_me = False
            if meaning.actor_is_me:
                sender_id, sender_name, is_me = me, me_name, True
            elif meaning.actor_name:
                sender_name = meaning.actor_name
        elif is_me:
            sender_name = me_name
        elif sender_id:
            sender_name = names.display(sender_id, talker if is_group else None) or sender_id
        if options.me and not is_me and options.me in (sender_id, sender_name):
            is_me = True
        yield meaning.message(
            conversation_id=talker,
            conversation_title=title,
            sent_at=instant,
            sender_id=sender_id,
            sender_name=sender_name,
            message_id=str(svrid) if svrid not in (None, 0, "") else None,
            attachments=attachments,
            is_me=is_me,
            position=position,
            extras=extras,
        )
