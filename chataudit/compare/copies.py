"""Which messages a copy named on the command line holds.

A copy is named by a source label (``--label`` at import), a conversation (id, ``platform:native_id``,
native id or title), or an export file. A file is read into a temporary archive and compared from
there, so comparing never changes the user's archive (an edited copy merged into the user's own
conversation would change every later verdict); ``keep=True`` imports it instead, as a source of its
own labelled with the file name. ``COPY@CONVERSATION`` picks one conversation of a label or file
that holds several.

The archive stores a message once however many sources hold it, but records every source's sighting
of it (what that copy showed: sender name, offset, position); a copy named by label or file is read
through its sightings, so it always means everything its files held.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import importer
from ..errors import ChatAuditError
from ..store import Archive
from .align import Side

WHOLE_CONVERSATION = (
    "SELECT m.id, m.sent_at_ms, m.utc_offset_min, m.sender_id, m.sender_name, m.kind, m.text, m.position,"
    " NULL, m.amount, m.extras FROM messages m WHERE m.conversation = ?"
)


def sighted_by(marks: str) -> str:
    """The messages of one conversation as the given sources showed them (one row per message)."""
    return (
        "SELECT m.id, m.sent_at_ms, si.utc_offset_min, m.sender_id, si.sender_name, m.kind, m.text, si.position,"
        " min(si.source), m.amount, si.extras FROM sightings si JOIN messages m ON m.id = si.message"
        f" WHERE m.conversation = ? AND si.source IN ({marks}) GROUP BY m.id"
    )


@dataclass
class Copy:
    """One copy of a conversation, loaded."""

    name: str  # as the user gave it
    conversation: dict[str, Any]  # id, platform, native_id, title, type (of the archive)
    sources: list[dict[str, Any]]  # id, path, sha256, format, label (empty: the whole conversation)
    side: Side
    notes: list[str] = field(default_factory=list)
    # per message of ``side``: (amount, extras as stored) — what an OCR-tolerant comparison of a
    # screenshot needs (amounts of transfer cards, the crop's provenance); see compare/screenshots.py
    details: list[tuple[str | None, str | None]] = field(default_factory=list)

    @property
    def shown_name(self) -> str:
        """The name as given, with the chat's title when the copy is a conversation named by its id
        ("7 “客户王女士”"): an archive id alone tells a reader nothing."""
        title = self.conversation.get("title")
        if self.sources or not title or title == self.name:
            return self.name
        return f"{self.name} “{title}”"

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "conversation": self.conversation,
            "sources": self.sources,
            "messages": len(self.side),
        }


def load_copies(archive: Archive, refs: list[str], *, tz: str | None = None, keep: bool = False,
                base: Path | None = None) -> list[Copy]:
    return [load_copy(archive, ref, tz=tz, keep=keep, base=base) for ref in refs]


def load_copy(archive: Archive, ref: str, *, tz: str | None = None, keep: bool = False,
              base: Path | None = None) -> Copy:
    """Resolve ``ref`` (label, file, conversation, or any of the first two ``@CONVERSATION``) and load it.

    An export file is read into a temporary archive and the user's archive is left untouched,
    unless ``keep`` (``compare --keep``) asks to import it. Files under ``base`` (an upload's
    folder, as for ``import_paths``) are named by their path below it.
    """
    if not ref.strip():  # Path('') is the current folder: an empty reference would import all of it
        raise ChatAuditError("an empty copy reference names no copy: give a source label, a conversation "
                             "or an export file (see `chataudit sources`)")
    candidates = [(ref, None)]
    if "@" in ref:
        candidates += [(ref[:at], ref[at + 1:]) for at, char in enumerate(ref) if char == "@"]
    for head, conversation_ref in candidates:
        if not head or conversation_ref == "":
            continue
        labelled = _labelled(archive, head)
        if labelled:
            return _load_sources(archive, ref, labelled, conversation_ref)
        if Path(head).exists():
            if keep:
                return _load_sources(archive, ref, _import_file(archive, Path(head), tz, base), conversation_ref)
            return _read_file(archive, ref, Path(head), conversation_ref, tz)
        if conversation_ref is None and _is_conversation(archive, ref):
            conversation = dict(archive.resolve_conversation(ref))
            side, details = _side(archive.db, WHOLE_CONVERSATION, [conversation["id"]])
            return Copy(ref, _conversation_info(conversation), [], side, details=details)
    raise ChatAuditError(
        f"no copy {ref!r}: not a source label, an export file or a conversation "
        "(see `chataudit sources` and `chataudit conversations`)"
    )


def _is_conversation(archive: Archive, ref: str) -> bool:
    try:
        archive.resolve_conversation(ref)
    except ChatAuditError as error:
        if "ambiguous" in str(error):
            raise
        return False
    return True


def _labelled(archive: Archive, label: str) -> list[dict[str, Any]]:
    return [dict(r) for r in archive.db.execute(
        "SELECT id, path, sha256, format, label, message_count FROM sources WHERE label = ? ORDER BY id", (label,))]


def _read_file(archive: Archive, name: str, path: Path, conversation_ref: str | None, tz: str | None) -> Copy:
    """A copy read from an export file without importing it into ``archive``."""
    with importer.temporary_archive(archive, path, tz) as temporary:
        copy = _load_sources(temporary, name, _file_sources(temporary, path), conversation_ref)
    # ids of the temporary archive mean nothing in the user's: the conversation is named as the
    # archive knows it (if it does), the file's messages and sources have no id
    known = archive.db.execute("SELECT id FROM conversations WHERE platform = ? AND native_id = ?",
                               (copy.conversation["platform"], copy.conversation["native_id"])).fetchone()
    copy.conversation["id"] = known[0] if known else None
    copy.sources = [{**source, "id": None} for source in copy.sources]
    copy.side.ids = [None] * len(copy.side.ids)
    copy.notes.append("read from the file for this comparison only; the archive was not changed")
    return copy


def _file_sources(archive: Archive, path: Path) -> list[dict[str, Any]]:
    """The sources of a temporary archive holding only ``path``."""
    rows = [dict(r) for r in archive.db.execute(
        "SELECT id, path, sha256, format, label, message_count FROM sources ORDER BY id")]
    if not rows:
        raise ChatAuditError(f"{path}: holds no chat export that could be read")
    return rows


def _import_file(archive: Archive, path: Path, tz: str | None, base: Path | None = None) -> list[dict[str, Any]]:
    before = archive.db.execute("SELECT coalesce(max(id), 0) FROM sources").fetchone()[0]
    summary = importer.import_paths(archive, [path], label=path.name, tz=tz, base=base)
    for outcome in summary.files:
        if outcome.error:
            raise ChatAuditError(outcome.error)
    ids = {r[0] for r in archive.db.execute("SELECT id FROM sources WHERE id > ?", (before,))}
    if any(outcome.already_imported for outcome in summary.files):
        if path.is_file() and path.suffix.lower() != ".zip":
            sha256, _ = importer.file_sha256(path)
        elif path.is_dir():
            sha256, _ = importer.folder_sha256(path)
        else:
            sha256 = None
        row = archive.source_by_sha256(sha256) if sha256 else None
        if row is not None:
            ids.add(row["id"])
        for outcome in summary.files:
            if outcome.already_imported and not row:
                for found in archive.db.execute("SELECT id FROM sources WHERE path = ?", (outcome.path,)):
                    ids.add(found[0])
    if not ids:
        raise ChatAuditError(f"{path}: holds no chat export that could be imported")
    marks = ",".join("?" * len(ids))
    return [dict(r) for r in archive.db.execute(
        f"SELECT id, path, sha256, format, label, message_count FROM sources WHERE id IN ({marks}) ORDER BY id",
        sorted(ids),
    )]


def _load_sources(archive: Archive, name: str, sources: list[dict[str, Any]], conversation_ref: str | None) -> Copy:
    ids = [s["id"] for s in sources]
    marks = ",".join("?" * len(ids))
    described = [{k: s[k] for k in ("id", "path", "sha256", "format", "label")} for s in sources]
    conversation = _pick_conversation(archive, archive.db, name, ids, conversation_ref)
    side, details = _side(archive.db, sighted_by(marks), [conversation["id"], *ids])
    return Copy(name, _conversation_info(conversation), described, side, details=details)


def _pick_conversation(
    archive: Archive, db: sqlite3.Connection, name: str, source_ids: list[int], conversation_ref: str | None
) -> dict[str, Any]:
    marks = ",".join("?" * len(source_ids))
    held = db.execute(
        f"SELECT c.* FROM conversations c WHERE c.id IN"
        f" (SELECT DISTINCT m.conversation FROM sightings si JOIN messages m ON m.id = si.message"
        f"  WHERE si.source IN ({marks})) ORDER BY c.id",
        source_ids,
    ).fetchall()
    if conversation_ref is not None:
        wanted = dict(archive.resolve_conversation(conversation_ref))
        for row in held:
            if (row["platform"], row["native_id"]) == (wanted["platform"], wanted["native_id"]):
                return dict(row)
        raise ChatAuditError(f"copy {name!r} holds no message of conversation {conversation_ref!r}")
    if not held:
        raise ChatAuditError(f"copy {name!r} holds no messages")
    if len(held) > 1:
        listed = ", ".join(f"{r['platform']}:{r['native_id']} ({r['title'] or r['native_id']})" for r in held[:8])
        more = f" and {len(held) - 8} more" if len(held) > 8 else ""
        raise ChatAuditError(
            f"copy {name!r} holds {len(held)} conversations: {listed}{more}; "
            f"name one as {name}@CONVERSATION"
        )
    return dict(held[0])


def _side(db: sqlite3.Connection, sql: str, params: list[Any]) -> tuple[Side, list[tuple[str | None, str | None]]]:
    ms, sender, names, kind, text, offsets, ids, positions = [], [], [], [], [], [], [], []
    details = []
    for row in db.execute(f"{sql} ORDER BY m.sent_at_ms, m.id", params):
        details.append((row[9], row[10]))
        ms.append(row[1])
        offsets.append(row[2])
        sender.append(row[3] or row[4] or "")
        names.append(row[4] or row[3] or "")
        kind.append(row[5])
        text.append(row[6])
        positions.append(row[7])
        ids.append(row[0])
    return Side(ms, sender, kind, text, names=names, offsets=offsets, ids=ids, positions=positions), details


def _conversation_info(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in ("id", "platform", "native_id", "title", "type")}
