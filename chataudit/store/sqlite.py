"""SQLite archive: schema by numbered migrations, one transaction per imported source.

The store knows the canonical model, never a file format.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import sqlite3
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import orjson
from sqlcipher3 import dbapi2 as sqlcipher

from ..errors import ChatAuditError
from ..model import Conversation, Message, Record, canonical_bytes, canonical_fields_bytes, storage_problem, utc_ms
from ..textindex import index_body

BATCH = 5000
ROWID_SHIFT = 1 << 31  # fts rowid = sent_at seconds * 2^31 + message id


def fts_rowid(sent_at_ms: int, message_id: int) -> int:
    """A message's full-text row id, as the SQL ``(sent_at_ms / 1000) * ROWID_SHIFT + id`` computes it
    (SQLite's and PostgreSQL's integer division truncate toward zero, Python's ``//`` floors)."""
    seconds = sent_at_ms // 1000 if sent_at_ms >= 0 else -(-sent_at_ms // 1000)
    return seconds * ROWID_SHIFT + message_id


def fts_rowid_bounds(since_ms: int | None, until_ms: int | None) -> list[tuple[str, int]]:
    """The full-text row ids of a period [since, until) as (operator, bound) conditions on ``rowid``:
    a row id holds whole seconds, so the bounds are the seconds at or before ``since`` and at or after
    ``until`` (the search's own instant test then drops what is outside by milliseconds)."""
    bounds = []
    if since_ms is not None:
        bounds.append((">=", _int64((since_ms // 1000) * ROWID_SHIFT)))
    if until_ms is not None:
        bounds.append(("<", _int64(-(-until_ms // 1000) * ROWID_SHIFT)))
    return bounds


# What a batch of new messages (MESSAGE_INSERT rows) numbered from ``first_id`` on stores beside itself
# and hands the batch hooks; one definition for every store, since the rows' column order is this module's.

def sighting_rows(source_id: int, first_id: int, batch: list[tuple]) -> list[tuple]:
    """Each message's sighting by this source (SIGHTING_INSERT's columns)."""
    return [(source_id, id_, r[17], r[4], r[6], r[10], r[2], r[15]) for id_, r in enumerate(batch, first_id)]


def fts_rows(first_id: int, batch: list[tuple], bodies: list[Any]) -> list[tuple]:
    """Each message's full-text row (rowid, the store's index text)."""
    return [(fts_rowid(r[5], id_), body) for id_, r, body in zip(range(first_id, first_id + len(batch)), batch, bodies)]


def stored_rows(first_id: int, batch: list[tuple]) -> list[tuple]:
    """The rows as stored, for the batch hooks: (id, platform, conversation, message_id … extras, source,
    position, occurrence)."""
    return [(id_, r[1], r[0], *r[2:18], r[20]) for id_, r in enumerate(batch, first_id)]


def default_db_path() -> Path | str:
    return db_location(os.environ.get("CHATAUDIT_DB") or "chataudit.db")


POSTGRES_URL = re.compile(r"^postgres(?:ql)?://", re.I)


def is_postgres(location: Any) -> bool:
    """True when an archive location is a PostgreSQL connection string (postgresql://…)."""
    return location is not None and bool(POSTGRES_URL.match(str(location)))


def db_location(text: str | os.PathLike[str]) -> Path | str:
    """--db / $CHATAUDIT_DB as given: a connection string stays a string, anything else is a file path."""
    return str(text) if is_postgres(text) else Path(text)


def archive_exists(location: Any) -> bool:
    """Whether there is an archive to open (a PostgreSQL database is asked when it is opened)."""
    return is_postgres(location) or Path(location).exists()


@dataclass(frozen=True)
class SourceInfo:
    """What is known of a source before its records are read."""

    path: str
    sha256: str
    size: int
    format: str
    label: str | None = None


@dataclass
class ImportResult:
    source: SourceInfo
    source_id: int | None
    messages: int = 0
    new: int = 0
    already_imported: bool = False

    @property
    def duplicates(self) -> int:
        return self.messages - self.new


@dataclass(frozen=True)
class ConversationRow:
    id: int
    platform: str
    native_id: str
    title: str | None
    type: str
    message_count: int
    first_at: str | None
    last_at: str | None
    senders: int


@functools.cache
def _migrations() -> tuple[tuple[int, str], ...]:
    """The package's migration scripts, read once per process (every Archive() checks them)."""
    folder = resources.files(__package__) / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return tuple(sorted(found))


def iso_from_ms(ms: int | None, offset_min: int = 0, tz: Any = None) -> str | None:
    """An instant as ISO 8601 in the offset the export showed (or in ``tz``); milliseconds only when there are any."""
    if ms is None:
        return None
    zone_ = tz or timezone(timedelta(minutes=offset_min))
    moment = EPOCH_UTC + timedelta(milliseconds=ms)
    return moment.astimezone(zone_).isoformat(timespec="milliseconds" if ms % 1000 else "seconds")


EPOCH_UTC = datetime(1970, 1, 1, tzinfo=timezone.utc)


# An encrypted archive is opened through SQLCipher's build of the same DB-API module, whose classes
# are its own: code that catches the store's errors catches these tuples.
SQLITE_ERRORS = (sqlite3.Error, sqlcipher.Error)
DATABASE_ERRORS = (sqlite3.DatabaseError, sqlcipher.DatabaseError)
OPERATIONAL_ERRORS = (sqlite3.OperationalError, sqlcipher.OperationalError)


# SQLITE_BUSY_SNAPSHOT: a write asked for on a connection whose open statement still reads an older
# snapshot of the database; it clears only when that statement ends, never by waiting
BUSY_SNAPSHOT = getattr(sqlite3, "SQLITE_BUSY_SNAPSHOT", 517)


class _Waiting:
    """A connection on which writers wait their turn for the archive's one write lock.

    SQLite lets one writer at a time in; its own busy timeout waits inside C, where Ctrl-C cannot
    stop it, and then fails with "database is locked". Here a statement run outside a transaction
    (which is how every writer starts: ``BEGIN IMMEDIATE`` or a single autocommit write) that finds
    the lock taken is tried again in short slices, without a limit, and ``on_wait`` hears once that
    it waits. Inside a transaction nothing is retried (the lock is held, or SQLite must report);
    nor is ``executemany`` (outside a transaction each row commits alone, so a retry could repeat
    rows: every writer here runs it inside BEGIN IMMEDIATE). Readers are never blocked by a writer
    (WAL), so they never wait here.
    """

    on_wait: Callable[[], None] | None = None
    # None: wait as long as it takes (an import). A number: give up after that many seconds and let
    # SQLite's "database is locked" through (an audit entry that must not hold up its read forever).
    wait_limit_s: float | None = None

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        if self.in_transaction:
            return super().execute(sql, parameters)
        told = False
        started = time.monotonic()
        while True:
            try:
                return super().execute(sql, parameters)
            except OPERATIONAL_ERRORS as error:
                if error.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or error.sqlite_errorcode == BUSY_SNAPSHOT:
                    raise  # BUSY_SNAPSHOT: this connection's own open read is older than the last commit; waiting never ends it
                if self.wait_limit_s is not None and time.monotonic() - started >= self.wait_limit_s:
                    raise
            if not told and self.on_wait is not None:
                self.on_wait()
                told = True

    def execute_once(self, sql: str, parameters: Any = (), /) -> Any:
        """One try, no waiting (for a write that would rather not happen than wait)."""
        return super().execute(sql, parameters)


class WaitingConnection(_Waiting, sqlite3.Connection):
    """A plain archive's connection (see :class:`_Waiting`)."""


class CipherWaitingConnection(_Waiting, sqlcipher.Connection):
    """An encrypted archive's connection: SQLCipher, keyed before its first read."""


WAIT_SLICE_MS = 250  # one try at the write lock; Ctrl-C is heard between tries
FROM_VAULT = object()  # Archive(key=…) default: the key the vault derives for the file, if encrypted


def connect(path: str | os.PathLike[str], key: bytes | None, *, create: bool = True) -> Any:
    """A connection to an archive file: plain SQLite, or SQLCipher keyed with ``key`` (32 raw bytes,
    so no PBKDF2 runs at open; the vault's argon2id made it). ``create=False`` opens with mode=rw:
    never creates the file, even if it vanished since the caller looked. Rows are name-indexable."""
    module, factory = (sqlite3, WaitingConnection) if key is None else (sqlcipher, CipherWaitingConnection)
    target = os.fspath(path) if create else f"{Path(path).absolute().as_uri()}?mode=rw"
    db = module.connect(target, uri=not create, isolation_level=None, factory=factory, timeout=WAIT_SLICE_MS / 1000)
    try:
        if key is not None:
            db.execute("PRAGMA cipher_log_level = NONE")  # its errors reach the caller as exceptions
            db.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
            # sorts and temporary tables in memory, never in a plaintext temporary file
            db.execute("PRAGMA temp_store = MEMORY")
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()  # a wrong key fails here
        db.row_factory = module.Row
    except BaseException:
        db.close()
        raise
    return db


def _vault_key(path: Path) -> bytes | None:
    from ..vault.keys import archive_key

    return archive_key(path)
NOT_STORES = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):/")  # postgresql://…, file:/… (not C:/ on Windows)


class Archive:
    """One archive file. Use as a context manager or call :meth:`close`.

    ``create=False`` refuses a file that does not exist (a mistyped --db must not become a new,
    empty archive); ``on_wait`` is called once when a write has to wait for another process.
    """

    # what the full-text index is given of a message's text, made with the rows (by the importer's
    # parsing process): FTS5's body here; a store that indexes another form of it names its own
    index_text: Callable[[str | None], Any] = staticmethod(index_body)

    def __new__(cls, path: Any = None, *args: Any, **kwargs: Any) -> "Archive":
        if cls is Archive and is_postgres(path if path is not None else default_db_path()):
            from .postgres import PostgresArchive

            return super().__new__(PostgresArchive)
        return super().__new__(cls)

    def __init__(self, path: str | os.PathLike[str] | None = None, *, create: bool = True,
                 on_wait: Callable[[], None] | None = None, key: bytes | None | object = FROM_VAULT):
        self.path = Path(path) if path is not None else default_db_path()
        # called as hook(archive, source_id) inside each source's import transaction, after its
        # messages are stored; an exception rolls the whole source back (the ledger signs here)
        self.after_import: list[Callable[["Archive", int], None]] = []
        # called as hook(archive, source_id, first_new_id, batch_number, stored) after each stored batch
        # of an import, numbered from 0 (the ledger makes the batch's message leaves while the next is
        # parsed); stored: the batch's new rows as SQLite holds them, in the ledger's MESSAGE_COLUMNS
        # order, when they are known without reading them back (else None)
        self.after_batch: list[Callable[["Archive", int, int, int, list[tuple] | None], None]] = []
        # called as hook(archive) by close(), after the last commit (the ledger tells its witness file)
        self.on_close: list[Callable[["Archive"], None]] = []
        _check_location(self.path, create)
        # the raw key of an encrypted archive (None: plain); see chataudit.vault
        self.key: bytes | None = _vault_key(self.path) if key is FROM_VAULT else key  # type: ignore[assignment]
        try:
            self.db = connect(self.path, self.key, create=create)
        except SQLITE_ERRORS as error:
            raise ChatAuditError(database_error_line(self.path, error) or f"{self.path}: cannot open ({error})") from None
        self.db.on_wait = on_wait
        self.db.create_function("index_body", 1, index_body, deterministic=True)
        try:
            _refuse_foreign_database(self.db, self.path)
            for pragma in (
                "journal_mode=WAL",
                "synchronous=NORMAL",
                "foreign_keys=ON",
                "cache_size=-131072",
            ):
                self.db.execute(f"PRAGMA {pragma}")
            self.migrate()
        except DATABASE_ERRORS as error:
            self.db.close()
            line = database_error_line(self.path, error)
            if line is None:
                raise
            raise ChatAuditError(line) from None
        except BaseException:
            self.db.close()
            raise

    # ---- lifecycle --------------------------------------------------------------------------

    def close(self) -> None:
        try:
            if not self.db.in_transaction:
                for hook in self.on_close:
                    hook(self)
        finally:
            self.db.close()

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def migrate(self) -> int:
        """Apply every numbered migration the file has not seen yet, in order; returns the schema version.

        Applied numbers are recorded one by one (not only the highest), so a migration that lands
        with a lower number than one already applied is still applied.
        """
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (number INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        applied = {row[0] for row in self.db.execute("SELECT number FROM schema_migrations")}
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if not applied and version:  # an archive from before the bookkeeping: 1..version were applied
            applied = set(range(1, version + 1))
            self.db.executemany("INSERT OR IGNORE INTO schema_migrations VALUES (?, 'before bookkeeping')",
                                [(n,) for n in sorted(applied)])
        for number, script in _migrations():
            if number in applied:
                continue
            self.db.execute("BEGIN IMMEDIATE")
            # another process may have applied it while this one waited for the lock
            if self.db.execute("SELECT 1 FROM schema_migrations WHERE number = ?", (number,)).fetchone():
                self.db.execute("COMMIT")
                version = max(number, self.db.execute("PRAGMA user_version").fetchone()[0])
                continue
            try:
                for statement in _split_sql(script):
                    self.db.execute(statement)
                self.db.execute("INSERT INTO schema_migrations VALUES (?, ?)",
                                (number, datetime.now(timezone.utc).isoformat(timespec="seconds")))
                self.db.execute(f"PRAGMA user_version = {max(number, version)}")
                self.db.execute("COMMIT")
            except Exception:
                self.db.execute("ROLLBACK")
                raise
            version = max(number, version)
        return version

    @property
    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    # ---- import -------------------------------------------------------------------------------

    def source_by_sha256(self, sha256: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM sources WHERE sha256 = ?", (sha256,)).fetchone()

    def import_records(
        self, source: SourceInfo, records: Iterable[Record], progress: Any = None, *,
        prepared: Iterable[list[Any]] | None = None,
    ) -> ImportResult:
        """Store one source's records in one transaction: all of it, or (on any error) nothing.

        A source seen before (same SHA-256) adds nothing. Messages already in the archive
        (same content hash and occurrence) are counted as duplicates and not stored again.
        ``prepared``: the records already made into batches by :func:`prepare` (the importer does
        that in a second process while this one writes); ``records`` is then ignored.
        """
        existing = self.source_by_sha256(source.sha256)
        if existing is not None:
            return ImportResult(source, existing["id"], existing["message_count"], 0, True)
        db = self.db
        db.execute("BEGIN IMMEDIATE")  # waits while another process writes (see WaitingConnection)
        # the same file may have been imported by another process while this one waited
        existing = self.source_by_sha256(source.sha256)
        if existing is not None:
            db.execute("ROLLBACK")
            return ImportResult(source, existing["id"], existing["message_count"], 0, True)
        try:
            cursor = db.execute(
                "INSERT INTO sources (sha256, path, size, format, label, imported_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (source.sha256, source.path, source.size, source.format, source.label,
                 datetime.now(timezone.utc).isoformat(timespec="seconds")),
            )
            source_id = cursor.lastrowid
            first_new_id = (db.execute("SELECT max(id) FROM messages").fetchone()[0] or 0) + 1
            # a large first import: the secondary indexes are built once at its end (sorted, faster than
            # kept up to date row by row); the transaction restores them whatever happens
            rebuilt = self._drop_secondary_indexes() if prepared is not None else []
            total = self._insert_records(source_id, prepare(records, body=self.index_text) if prepared is None
                                         else prepared, progress)
            if rebuilt:
                threads = db.execute("PRAGMA threads").fetchone()[0]
                db.execute("PRAGMA threads = 2")  # the index sorts may use a second core
                for statement in rebuilt:
                    db.execute(statement)
                db.execute(f"PRAGMA threads = {int(threads)}")
            if progress is not None:
                progress(total, "indexing")
            new = db.execute(
                "SELECT count(*) FROM messages WHERE source = ?", (source_id,)
            ).fetchone()[0]
            self.refresh_conversation_stats(
                row[0] for row in db.execute("SELECT DISTINCT conversation FROM messages WHERE id >= ?", (first_new_id,))
            )
            db.execute(
                "UPDATE sources SET message_count = ?, new_count = ? WHERE id = ?",
                (total, new, source_id),
            )
            if progress is not None and self.after_import:
                progress(total, "signing")
            for hook in self.after_import:
                hook(self, source_id)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self.settle()
        return ImportResult(source, source_id, total, new)

    def settle(self) -> None:
        """Work a committed bulk write left for later that its readers would pay for (none here;
        PostgreSQL's GIN pending lists, see :class:`chataudit.store.postgres.PostgresArchive`)."""

    def _drop_secondary_indexes(self) -> list[str]:
        """When the archive holds no message yet: drop the indexes an import does not read
        (:data:`REBUILT_INDEXES`) and return the statements that create them again."""
        if self.db.execute("SELECT 1 FROM messages LIMIT 1").fetchone():
            return []
        marks = ", ".join("?" * len(REBUILT_INDEXES))
        found = self.db.execute(f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name IN ({marks})",
                                REBUILT_INDEXES).fetchall()
        for name, _sql in found:
            self.db.execute(f'DROP INDEX "{name}"')
        return [sql for _name, sql in found]

    def _insert_records(self, source_id: int, batches: Iterable[list[Any]], progress: Any) -> int:
        conversation_ids: dict[tuple[str, str], int] = {}
        number = Occurrences()
        batch: list[tuple] = []
        bodies: list[str] = []
        total = stored = 0
        exact = True  # every staged row of the batch is stored as it is (see _stored_as_given)
        # a record's conversation may be stored under another native id (see _resolve_conversation)
        filed_as: dict[tuple[str, str], str] = {}
        for items in batches:
            for item in items:
                if type(item) is not tuple:  # a Conversation
                    key = (item.platform, item.conversation_id)
                    conversation_ids[key], filed_as[key] = self._resolve_conversation(item)
                    continue
                platform, native, title, fields, position, digest, body, as_given = item
                exact = exact and as_given
                key = (platform, native)
                conversation = conversation_ids.get(key)
                if conversation is None:
                    conversation_ids[key], filed_as[key] = self._resolve_conversation(Conversation(platform, native, title))
                    conversation = conversation_ids[key]
                if filed_as[key] != native:  # the content hash covers the conversation id it is filed under
                    digest = hashlib.sha256(canonical_row_bytes(fields, filed_as[key])).digest()
                occurrence = number(conversation, fields[4], digest)
                batch.append((conversation, *fields, source_id, position, digest,
                              int.from_bytes(digest[:8], "big", signed=True), occurrence))
                bodies.append(body)
                total += 1
                if len(batch) >= BATCH:
                    self._store_batch(batch, bodies, source_id, stored, exact)
                    stored += 1
                    batch.clear()
                    bodies.clear()
                    exact = True
                    if progress is not None:
                        progress(total)
        if batch:
            self._store_batch(batch, bodies, source_id, stored, exact)
        if progress is not None:
            progress(total)
        return total

    def _store_batch(self, batch: list[tuple], bodies: list[str], source_id: int, number: int,
                     exact: bool = False) -> None:
        """Keep the messages of a batch not yet archived with their full-text rows (``bodies``, made
        with the rows), and record this source's sighting of every message in the batch (new or
        already there).

        The rows go straight into ``messages`` (INSERT OR IGNORE). When every one was new (a first
        import, a grown re-export's new part) they were numbered in batch order, so the sightings and
        full-text rows are known without a lookup; otherwise each row's message is found by its
        identity, set-based, from a staging table. ``exact``: every value is stored as given; when
        the whole batch is new the batch hooks then get its stored rows and need not read them back."""
        db = self.db
        before = db.execute("SELECT coalesce(max(id), 0) FROM messages").fetchone()[0]
        inserted = db.executemany(MESSAGE_INSERT, batch).rowcount
        if inserted == len(batch):
            db.executemany(SIGHTING_INSERT, sighting_rows(source_id, before + 1, batch))
            db.executemany("INSERT INTO message_fts (rowid, body) VALUES (?, ?)", fts_rows(before + 1, batch, bodies))
        else:
            self._store_seen(batch, bodies, source_id, before)
        stored = None
        if exact and inserted == len(batch) and self.after_batch:
            stored = stored_rows(before + 1, batch)
        for hook in self.after_batch:
            hook(self, source_id, before + 1, number, stored)

    def _store_seen(self, batch: list[tuple], bodies: list[str], source_id: int, before: int) -> None:
        """The sightings and new full-text rows of a batch some of whose messages were already
        archived: each row's message found by its identity (conversation, instant, content key,
        occurrence) in one join."""
        db = self.db
        db.execute(f"CREATE TEMP TABLE IF NOT EXISTS staging_seen ({SEEN_COLUMNS}, body)")
        db.executemany(f"INSERT INTO temp.staging_seen ({SEEN_COLUMNS}, body) VALUES ({', '.join('?' * 11)})",
                       [(r[0], r[5], r[19], r[20], r[17], r[4], r[6], r[10], r[2], r[15], body)
                        for r, body in zip(batch, bodies)])
        join = (" FROM temp.staging_seen s JOIN messages m ON m.conversation = s.conversation"
                " AND m.sent_at_ms = s.sent_at_ms AND m.content_key = s.content_key AND m.occurrence = s.occurrence")
        db.execute(
            "INSERT OR IGNORE INTO sightings (source, message, position, sender_name, utc_offset_min,"
            " edited_at_ms, message_id, extras)"
            f" SELECT ?, m.id, s.position, s.sender_name, s.utc_offset_min, s.edited_at_ms, s.message_id,"
            f" s.extras{join} ORDER BY s.rowid",
            (source_id,),
        )
        db.execute(f"INSERT INTO message_fts (rowid, body) SELECT (s.sent_at_ms / 1000) * ? + m.id, s.body{join}"
                   " WHERE m.id > ?", (ROWID_SHIFT, before))
        db.execute("DELETE FROM temp.staging_seen")

    def _resolve_conversation(self, conversation: Conversation) -> tuple[int, str]:
        """(archive id, native id) the conversation is stored under, creating it if need be.

        Its native id and aliases are looked up among the keys stored conversations are known by;
        the oldest conversation owning any of them takes it (so a reply imported later joins the
        thread its parent is in). Its keys not yet owned are then claimed for that conversation.
        Two stored conversations that a new record links are not merged: their messages' identity
        (the content hash covers the native id) must not change after the fact.
        """
        keys = list(dict.fromkeys((conversation.conversation_id, *conversation.aliases)))
        owner = None
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            found = self.db.execute(
                f"SELECT min(conversation) FROM conversation_aliases WHERE platform = ?"
                f" AND alias IN ({', '.join('?' * len(chunk))})",
                (conversation.platform, *chunk),
            ).fetchone()[0]
            if found is not None and (owner is None or found < owner):
                owner = found
        if owner is not None:
            native = self.db.execute("SELECT native_id FROM conversations WHERE id = ?", (owner,)).fetchone()[0]
            if native != conversation.conversation_id:
                conversation = replace(conversation, conversation_id=native)
        archive_id = self._upsert_conversation(conversation)
        self.db.executemany(
            "INSERT OR IGNORE INTO conversation_aliases (platform, alias, conversation) VALUES (?, ?, ?)",
            [(conversation.platform, key, archive_id) for key in keys],
        )
        return archive_id, conversation.conversation_id

    def _upsert_conversation(self, conversation: Conversation) -> int:
        members = (
            orjson.dumps([list(m) for m in conversation.members]).decode()
            if conversation.members
            else None
        )
        row = self.db.execute(
            "INSERT INTO conversations (platform, native_id, title, type, members)"
            " VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (platform, native_id) DO UPDATE SET"
            "  title = coalesce(excluded.title, title),"
            "  type = CASE WHEN excluded.type = 'unknown' THEN type ELSE excluded.type END,"
            "  members = coalesce(excluded.members, members)"
            " RETURNING id",
            (conversation.platform, conversation.conversation_id, conversation.title,
             str(conversation.type), members),
        ).fetchone()
        return row[0]

    # ---- queries ------------------------------------------------------------------------------

    def conversations(self, tz: Any = None) -> list[ConversationRow]:
        """Every conversation with counts; first/last instants shown in ``tz`` (default UTC)."""
        rows = self.db.execute(
            "SELECT c.id, c.platform, c.native_id, c.title, c.type,"
            " coalesce(s.message_count, 0) AS message_count, s.first_ms, s.last_ms, coalesce(s.senders, 0) AS senders"
            " FROM conversations c LEFT JOIN conversation_stats s ON s.conversation = c.id"
            " ORDER BY s.last_ms DESC, c.id"
        ).fetchall()
        return [
            ConversationRow(r["id"], r["platform"], r["native_id"], r["title"], r["type"],
                            r["message_count"], iso_from_ms(r["first_ms"], tz=tz), iso_from_ms(r["last_ms"], tz=tz),
                            r["senders"])
            for r in rows
        ]

    def refresh_conversation_stats(self, conversations: Iterable[int]) -> None:
        """Recompute the kept counts of these conversations from their messages (set-based).

        Runs in the caller's transaction; every change to messages (import, purge, redaction of a
        sender) calls it for the conversations it touched, so ``conversations`` reads the counts
        instead of aggregating every message per request.
        """
        ids = sorted(set(conversations))
        for start in range(0, len(ids), DELETE_BATCH):
            chunk = ids[start:start + DELETE_BATCH]
            marks = ",".join("?" * len(chunk))
            self.db.execute(f"DELETE FROM conversation_stats WHERE conversation IN ({marks})", chunk)
            self.db.execute(
                "INSERT INTO conversation_stats (conversation, message_count, first_ms, last_ms, senders)"
                " SELECT conversation, count(*), min(sent_at_ms), max(sent_at_ms),"
                " count(DISTINCT coalesce(sender_id, sender_name))"
                f" FROM messages WHERE conversation IN ({marks}) GROUP BY conversation",
                chunk,
            )

    def resolve_conversation(self, ref: str) -> sqlite3.Row:
        """A conversation by archive id, ``platform:native_id``, native id or exact title.

        The one place a conversation reference given by a user is read: every command's
        --conversation (and compare's, evidence's, governance's references) come here.
        """
        ref = str(ref)
        if not ref.strip():
            raise ChatAuditError("an empty conversation reference names no conversation (see `chataudit conversations`)")
        row = None
        if ref.isascii() and ref.isdigit() and int(ref) <= SQLITE_MAX_INT:
            row = self.db.execute("SELECT * FROM conversations WHERE id = ?", (int(ref),)).fetchone()
        if row is None and ":" in ref:
            platform, native = ref.split(":", 1)
            row = self.db.execute(
                "SELECT * FROM conversations WHERE platform = ? AND native_id = ?", (platform, native)
            ).fetchone()
        if row is None:
            rows = self.db.execute(
                "SELECT * FROM conversations WHERE native_id = ? OR title = ?", (ref, ref)
            ).fetchall()
            if len(rows) > 1:
                ids = ", ".join(str(r["id"]) for r in rows)
                raise ChatAuditError(f"conversation {ref!r} is ambiguous (ids {ids}); give the id")
            row = rows[0] if rows else None
        if row is None:
            raise ChatAuditError(f"no conversation {ref!r} (see `chataudit conversations`)")
        return row

    def timeline(
        self, conversation: int, since_ms: int | None = None, until_ms: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Messages of one conversation in time order, streamed."""
        return self.select_messages("m.conversation = ?", [conversation], since_ms, until_ms)

    def select_messages(
        self,
        where: str = "1",
        params: Iterable[Any] = (),
        since_ms: int | None = None,
        until_ms: int | None = None,
        with_clause: str = "",
    ) -> Iterator[dict[str, Any]]:
        """Messages matching a condition over ``m`` (and an optional WITH clause before it), in a
        time window, oldest first, streamed as message dicts."""
        sql = with_clause + MESSAGE_SELECT + f" WHERE ({where})"
        values: list[Any] = list(params)
        if since_ms is not None:
            sql += " AND m.sent_at_ms >= ?"
            values.append(since_ms)
        if until_ms is not None:
            sql += " AND m.sent_at_ms < ?"
            values.append(until_ms)
        sql += " ORDER BY m.sent_at_ms, m.id"
        return (message_dict(row) for row in self.db.execute(sql, values))

    def source_view(self, source: int, conversation: int | None = None) -> Iterator[dict[str, Any]]:
        """Every message one source holds — also those an earlier source brought first — as that
        copy showed it (its sender name, offset, position and ids), in time order, streamed."""
        sql = (
            "SELECT m.*, c.platform AS c_platform, c.native_id AS conversation_native_id,"
            " c.title AS conversation_title, s.path AS source_path, s.label AS source_label,"
            " s.sha256 AS source_sha256, si.position AS seen_position, si.sender_name AS seen_sender_name,"
            " si.utc_offset_min AS seen_offset, si.edited_at_ms AS seen_edited_at_ms,"
            " si.message_id AS seen_message_id, si.extras AS seen_extras"
            " FROM sightings si JOIN messages m ON m.id = si.message"
            " JOIN conversations c ON c.id = m.conversation JOIN sources s ON s.id = si.source"
            " WHERE si.source = ?"
        )
        params: list[Any] = [source]
        if conversation is not None:
            sql += " AND m.conversation = ?"
            params.append(conversation)
        sql += " ORDER BY m.sent_at_ms, si.position, m.id"
        for row in self.db.execute(sql, params):
            shown = message_dict(row)
            shown.update(
                sender_name=row["seen_sender_name"],
                sent_at=iso_from_ms(row["sent_at_ms"], row["seen_offset"]),
                edited_at=iso_from_ms(row["seen_edited_at_ms"], row["seen_offset"]),
                message_id=row["seen_message_id"],
                position=row["seen_position"],
                extras=orjson.loads(row["seen_extras"]) if row["seen_extras"] else {},
            )
            yield shown

    def search(
        self,
        expression: str,
        *,
        platform: str | None = None,
        sender: str | None = None,
        conversation: int | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """Messages matching an FTS5 expression (see :mod:`chataudit.search`), newest first."""
        sql = (
            MESSAGE_SELECT
            + " JOIN (SELECT rowid AS key FROM message_fts WHERE message_fts MATCH ?"
        )
        params: list[Any] = [expression]
        for operator, bound in fts_rowid_bounds(since_ms, until_ms):
            sql += f" AND rowid {operator} ?"
            params.append(bound)
        sql += " ORDER BY rowid DESC) hits ON m.id = (hits.key & ?)"
        params.append(ROWID_SHIFT - 1)
        conditions = []
        if platform:
            conditions.append("m.platform = ?")
            params.append(platform)
        if sender:
            conditions.append("(m.sender_id = ? OR m.sender_name = ?)")
            params.extend([sender, sender])
        if conversation is not None:
            conditions.append("m.conversation = ?")
            params.append(conversation)
        if since_ms is not None:
            conditions.append("m.sent_at_ms >= ?")
            params.append(since_ms)
        if until_ms is not None:
            conditions.append("m.sent_at_ms < ?")
            params.append(until_ms)
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        sql += " ORDER BY hits.key DESC LIMIT ?"
        params.append(limit)
        try:
            return [message_dict(row) for row in self.db.execute(sql, params)]
        except OPERATIONAL_ERRORS as error:
            raise ChatAuditError(f"search: {error}") from None

    def delete_messages(self, message_ids: Iterable[int]) -> int:
        """Delete messages with everything that points at them: their full-text index rows and the
        rows of every table with a foreign key to ``messages`` (sightings, findings …).

        Runs in the caller's transaction. Only the ledger's purge should call it: a message deleted
        any other way is reported by ``verify`` as tampering.
        """
        ids = list(message_ids)
        referencing = _referencing(self.db, "messages")
        touched: set[int] = set()
        for start in range(0, len(ids), DELETE_BATCH):
            chunk = ids[start:start + DELETE_BATCH]
            marks = ",".join("?" * len(chunk))
            touched.update(row[0] for row in self.db.execute(
                f"SELECT DISTINCT conversation FROM messages WHERE id IN ({marks})", chunk))
            self.db.execute(
                "INSERT INTO message_fts (message_fts, rowid, body)"
                f" SELECT 'delete', (sent_at_ms / 1000) * ? + id, index_body(text) FROM messages WHERE id IN ({marks})",
                (ROWID_SHIFT, *chunk),
            )
            for table, column in referencing:
                self.db.execute(f'DELETE FROM "{table}" WHERE "{column}" IN ({marks})', chunk)
            self.db.execute(f"DELETE FROM messages WHERE id IN ({marks})", chunk)
        self.refresh_conversation_stats(touched)
        return len(ids)

    def setting(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_setting(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def location(self) -> str:
        """Where this archive is, as a person reads it (a package's custody log names it)."""
        return str(Path(self.path).resolve())

    def stats(self) -> dict[str, int]:
        one = lambda sql: self.db.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "sources": one("SELECT count(*) FROM sources"),
            "conversations": one("SELECT count(*) FROM conversations"),
            "messages": one("SELECT count(*) FROM messages"),
        }

    def sources(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.execute("SELECT * FROM sources ORDER BY id")]


MESSAGE_COLUMNS = (
    "conversation, platform, message_id, sender_id, sender_name, sent_at_ms, utc_offset_min, kind, text,"
    " reply_to, edited_at_ms, amount, currency, attachments, is_me, extras, source, position,"
    " content_hash, content_key, occurrence"
)

# Indexes that no statement of an import reads before its messages are all stored: a first import
# into an empty archive builds them at its end (messages_identity stays: it finds duplicates).
REBUILT_INDEXES = ("messages_source", "messages_sender", "messages_timing", "sightings_message")

MESSAGE_INSERT = f"INSERT OR IGNORE INTO messages ({MESSAGE_COLUMNS}) VALUES ({', '.join('?' * 21)})"
SIGHTING_INSERT = ("INSERT OR IGNORE INTO sightings (source, message, position, sender_name, utc_offset_min,"
                   " edited_at_ms, message_id, extras) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
# a staged row's identity and what its sighting keeps
SEEN_COLUMNS = ("conversation, sent_at_ms, content_key, occurrence, position, sender_name, utc_offset_min,"
                " edited_at_ms, message_id, extras")

MESSAGE_SELECT = (
    "SELECT m.*, c.platform AS c_platform, c.native_id AS conversation_native_id,"
    " c.title AS conversation_title, s.path AS source_path, s.label AS source_label,"
    " s.sha256 AS source_sha256"
    " FROM messages m JOIN conversations c ON c.id = m.conversation"
    " JOIN sources s ON s.id = m.source"
)

MESSAGE_KEYS = (
    "id", "platform", "conversation", "conversation_native_id", "conversation_title",
    "message_id", "sender_id", "sender_name", "sent_at", "kind", "text", "reply_to", "edited_at",
    "amount", "currency", "attachments", "is_me", "extras", "source_label", "source_path",
    "source_sha256", "position", "content_hash",
)


def prepare(records: Iterable[Record], size: int = BATCH, *, bodies: bool = True,
            body: Callable[[str | None], Any] = index_body) -> Iterator[list[Any]]:
    """The records in batches of what the store needs of them that the archive does not decide:
    a Conversation as it is, a message as (platform, conversation id, title, row fields, position,
    content hash, full-text body — ``body`` of the text, the store's :attr:`Archive.index_text`;
    None without ``bodies``: a lake has no full-text index —, stored as given). Pure (no archive):
    the importer runs it in a second process, ``spark import`` on the executors."""
    batch: list[Any] = []
    for record in records:
        if isinstance(record, Message):
            row = message_row(record, 0, 0)
            batch.append((record.platform, record.conversation_id, record.conversation_title,
                          row[1:16], row[17], row[18], body(record.text) if bodies else None,
                          _stored_as_given(row)))
        else:
            batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class Occurrences:
    """The occurrence number of each message of one source, in the source's order: identical messages
    at the same instant in one conversation are numbered, so that two real "好的" in the same minute
    are both kept while a re-import of either adds nothing (a run of one instant per conversation)."""

    __slots__ = ("last_instant",)

    def __init__(self) -> None:
        self.last_instant: dict[int, tuple[int, dict[bytes, int]]] = {}

    def __call__(self, conversation: int, sent_ms: int, digest: bytes) -> int:
        instant, seen = self.last_instant.get(conversation, (None, {}))
        if instant != sent_ms:
            seen = {}
            self.last_instant[conversation] = (sent_ms, seen)
        occurrence = seen.get(digest, 0)
        seen[digest] = occurrence + 1
        return occurrence


def canonical_row_bytes(fields: tuple, conversation_id: str) -> bytes:
    """The canonical bytes of a prepared message's row fields (platform … extras, as in
    :func:`prepare`) filed under ``conversation_id``."""
    (platform, _message_id, sender_id, sender_name, sent_ms, _offset, kind, text, reply_to, _edited, amount,
     currency, attachments, _is_me, _extras) = fields
    return canonical_fields_bytes(platform, conversation_id, sender_id or sender_name or "", sent_ms, kind, text,
                                  amount, currency, orjson.loads(attachments) if attachments else [], reply_to)


_STR_OR_NONE = (str, type(None))


def _stored_as_given(row: tuple) -> bool:
    """True when SQLite keeps every value of a :func:`message_row` as it is (text in the TEXT
    columns, integers in the INTEGER ones: no type affinity converts anything), so the ledger may
    sign the row as staged instead of reading it back. The values message_row computes always
    are; those a format hands over as they are (ids, names, text, amount, position) are checked."""
    types = _STR_OR_NONE
    return (type(row[1]) is str and type(row[8]) is str and type(row[2]) in types and type(row[3]) in types
            and type(row[4]) in types and type(row[9]) in types and type(row[11]) in types
            and type(row[12]) in types and type(row[17]) in (int, type(None)))


def message_row(message: Message, conversation: int, source_id: int) -> tuple:
    """The messages-table row of one record (without its occurrence number)."""
    problem = storage_problem(message)
    if problem:
        raise ValueError(problem)  # the importer refuses it first, with its file and line
    sent = message.sent_at
    offset = sent.utcoffset()
    digest = hashlib.sha256(canonical_bytes(message)).digest()
    return (
        conversation,
        message.platform,
        message.message_id,
        message.sender_id,
        message.sender_name,
        utc_ms(sent),
        int(offset.total_seconds() // 60) if offset else 0,
        str(message.kind),
        message.text,
        message.reply_to,
        utc_ms(message.edited_at) if message.edited_at else None,
        message.amount,
        message.currency,
        orjson.dumps([a.as_dict() for a in message.attachments]).decode() if message.attachments else None,
        None if message.is_me is None else int(message.is_me),
        orjson.dumps(message.extras).decode() if message.extras else None,
        source_id,
        message.position,
        digest,
        int.from_bytes(digest[:8], "big", signed=True),
    )


def message_dict(row: sqlite3.Row) -> dict[str, Any]:
    """A stored message as the stable JSON shape documented in the README."""
    offset = row["utc_offset_min"]
    return {
        "id": row["id"],
        "platform": row["platform"],
        "conversation": row["conversation"],
        "conversation_native_id": row["conversation_native_id"],
        "conversation_title": row["conversation_title"],
        "message_id": row["message_id"],
        "sender_id": row["sender_id"],
        "sender_name": row["sender_name"],
        "sent_at": iso_from_ms(row["sent_at_ms"], offset),
        "kind": row["kind"],
        "text": row["text"],
        "reply_to": row["reply_to"],
        "edited_at": iso_from_ms(row["edited_at_ms"], offset),
        "amount": row["amount"],
        "currency": row["currency"],
        "attachments": orjson.loads(row["attachments"]) if row["attachments"] else [],
        "is_me": None if row["is_me"] is None else bool(row["is_me"]),
        "extras": orjson.loads(row["extras"]) if row["extras"] else {},
        "source_label": row["source_label"],
        "source_path": row["source_path"],
        "source_sha256": row["source_sha256"],
        "position": row["position"],
        "content_hash": row["content_hash"].hex(),
    }


DELETE_BATCH = 500  # ids per statement, below SQLite's limit on bound parameters
SQLITE_MAX_INT = (1 << 63) - 1


def _int64(value: int) -> int:
    """A bound clamped to SQLite's integers (a --since in year 9999 means "after everything")."""
    return max(-SQLITE_MAX_INT - 1, min(SQLITE_MAX_INT, value))


# SQLite result codes that say something about the file or the machine, not about chataudit's SQL:
# these reach the user as one line; any other error is a bug and keeps its traceback.
ENVIRONMENT_ERRORS = {
    "SQLITE_NOTADB": "not an archive file, is it the right file? (or an encrypted archive whose .vault header is missing)",
    "SQLITE_CORRUPT": "the archive file is damaged (truncated or overwritten); restore it from a copy",
    "SQLITE_CANTOPEN": "cannot open the archive file",
    "SQLITE_READONLY": "the archive file is read-only here",
    "SQLITE_PERM": "no permission to use the archive file",
    "SQLITE_AUTH": "no permission to use the archive file",
    "SQLITE_FULL": "the disk is full",
    "SQLITE_IOERR": "the archive file could not be read or written (disk error)",
    "SQLITE_BUSY": "another process holds the archive",
    "SQLITE_LOCKED": "another process holds the archive",
    "SQLITE_PROTOCOL": "another process holds the archive",
}


def database_error_line(path: Path | str, error: Exception) -> str | None:
    """One line naming the archive and what is wrong with it, or None when ``error`` is a bug."""
    name = getattr(error, "sqlite_errorname", None) or ""
    if name.startswith("SQLITE_CANTOPEN") or str(error) == "unable to open database file":
        name = "SQLITE_CANTOPEN"
    for prefix, meaning in ENVIRONMENT_ERRORS.items():
        if name == prefix or name.startswith(prefix + "_"):
            return f"{path}: {meaning} (SQLite: {error})"
    return None


def _check_location(path: Path, create: bool) -> None:
    """Refuse what is not an archive file before SQLite gets to create or misread it."""
    scheme = NOT_STORES.match(str(path))
    if scheme:  # the URL is not echoed: it may carry a password
        raise ChatAuditError(f"--db: {scheme.group(1)}:// archives are not supported; give the path of an SQLite "
                             "archive file or a postgresql:// connection string")
    if path.is_dir():
        raise ChatAuditError(f"{path}: is a folder, not an archive file")
    if path.exists():
        return
    if not create:
        raise ChatAuditError(f"{path}: no such archive (check --db or $CHATAUDIT_DB; `chataudit import` creates one)")
    parent = path.absolute().parent
    if not parent.is_dir():
        raise ChatAuditError(f"{path}: cannot create the archive, folder {parent} does not exist")


def _refuse_foreign_database(db: sqlite3.Connection, path: Path) -> None:
    """Another program's SQLite database is not silently given chataudit's tables (an archive from
    before the migrations' bookkeeping is recognised by its own tables)."""
    names = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if names and "schema_migrations" not in names and not {"sources", "conversations", "messages"} <= names:
        raise ChatAuditError(f"{path}: an SQLite database of another program, not a chataudit archive")


def _referencing(db: sqlite3.Connection, table: str) -> list[tuple[str, str]]:
    """(table, column) of every foreign key that points at ``table``."""
    found = []
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
        for fk in db.execute(f'PRAGMA foreign_key_list("{name}")').fetchall():
            if fk[2] == table:
                found.append((name, fk[3]))
    return found


def _split_sql(script: str) -> list[str]:
    """Statements of a migration file, split where SQLite says a statement is complete (so that
    triggers with BEGIN … END and semicolons in literals stay whole)."""
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        if not buffer and (not line.strip() or line.strip().startswith("--")):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
