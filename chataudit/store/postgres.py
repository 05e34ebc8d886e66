"""The PostgreSQL archive: the team store behind the same :class:`~chataudit.store.Archive` interface.

``--db postgresql://user@host:port/dbname`` (or ``$CHATAUDIT_DB``) opens it. The schema comes from
the same numbered migrations in PostgreSQL's dialect (``migrations/pg/NNNN_*.sql``); the history
guards that SQLite has as triggers are PL/pgSQL triggers. Capabilities' SQL runs through
:class:`~chataudit.store.pgsql.PgConnection`; what the store does in bulk it does natively here:
an import stages each batch with ``COPY`` and stores it set-based, search asks the GIN-indexed
``tsvector`` index (:mod:`chataudit.store.pgsearch`).

Writers take turns on the archive's write lock (an advisory lock, see pgsql.py): an import's
messages, ledger leaves and signed checkpoint are one serialised append, while its files are
parsed in parallel and readers are never blocked.
"""

from __future__ import annotations

import functools
import itertools
import re
from datetime import datetime, timezone
from importlib import resources
from typing import Any, Callable, Iterable
from urllib.parse import urlsplit

import psycopg

from ..errors import ChatAuditError
from . import pgsearch
from .pgsql import WRITE_LOCK, PgConnection, PgCursor, sqlite_error
from .sqlite import (DELETE_BATCH, FROM_VAULT, MESSAGE_COLUMNS, MESSAGE_SELECT, ROWID_SHIFT, Archive,
                     fts_rowid_bounds, fts_rows, message_dict, sighting_rows, stored_rows)

IDENTITY = ("m.conversation = s.conversation AND m.sent_at_ms = s.sent_at_ms AND m.content_key = s.content_key"
            " AND m.occurrence = s.occurrence")
# Set by the command line: called before a PostgreSQL archive is opened (refuses a command that does not
# run on PostgreSQL yet, see cli.POSTGRES_COMMANDS).
opening_check: Callable[[], None] | None = None
LAST_INSTANT = 4291747200000  # 2106-01-01: later instants (and earlier than 1970) have open-ended partitions
ROWID_BITS = ROWID_SHIFT.bit_length() - 1  # an index row id >> ROWID_BITS: its message's second
SEARCH_WINDOW = 4096  # newest index rows searched first (see PostgresArchive.search)
STAGING_COLUMNS = (
    "seq BIGINT, conversation BIGINT, platform TEXT, message_id TEXT, sender_id TEXT, sender_name TEXT,"
    " sent_at_ms BIGINT, utc_offset_min BIGINT, kind TEXT, text TEXT, reply_to TEXT, edited_at_ms BIGINT,"
    " amount TEXT, currency TEXT, attachments TEXT, is_me BIGINT, extras TEXT, source BIGINT, position BIGINT,"
    " content_hash BYTEA, content_key BIGINT, occurrence BIGINT, body TEXT"
)


@functools.cache
def _migrations() -> tuple[tuple[int, str], ...]:
    folder = resources.files(__package__) / "migrations" / "pg"
    found = [(int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8"))
             for entry in folder.iterdir() if entry.name.endswith(".sql")]
    return tuple(sorted(found))


def shown(url: str) -> str:
    """A connection string without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    user = f"{parts.username}@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    return parts._replace(netloc=f"{user}{host}{port}").geturl()


def key_name(url: str) -> str:
    """A file name for what belongs to this database outside it (its signing key): host, port, database."""
    parts = urlsplit(url)
    name = f"{parts.hostname or 'localhost'}-{parts.port or 5432}-{parts.path.lstrip('/') or 'postgres'}"
    return "postgresql-" + re.sub(r"[^A-Za-z0-9._-]", "_", name)


class PostgresArchive(Archive):
    """An archive in a PostgreSQL database (see the module's docstring)."""

    index_text = staticmethod(pgsearch.index_text)  # tsvector text, made by the importer's parsing process

    def settle(self) -> None:
        """Merge the GIN pending lists of the index partitions written since the last call. A GIN
        index takes a bulk write's entries into an unsorted pending list (up to 4 MB each) that every
        search of the partition reads whole until a vacuum merges it: after a 10M import, a rare
        term's search read 170 of them (0.4 s instead of a few ms) while autovacuum worked through
        the months for 20 minutes. Merged here, after the commit (≈ 60 ms a month written); a role
        that does not own the indexes leaves it to autovacuum."""
        if self.db.in_transaction:  # (the months wait for the call after the commit)
            return
        months = self.__dict__.pop("_months_written", set())
        if not months:
            return
        parts = [datetime.fromtimestamp(m / 1000, timezone.utc).strftime("message_fts_p%Y_%m") for m in sorted(months)]
        try:
            self.db.raw.execute(
                "SELECT gin_clean_pending_list(i.indexrelid::regclass) FROM pg_index i"
                " JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam"
                " WHERE a.amname = 'gin' AND i.indrelid IN (SELECT to_regclass(p) FROM unnest($1::text[]) p)",
                (parts,)).fetchall()
        except psycopg.errors.InsufficientPrivilege:
            pass

    def location(self) -> str:
        return shown(self.url)  # the connection string without its password

    def __init__(self, path: Any = None, *, create: bool = True, on_wait: Callable[[], None] | None = None,
                 key: Any = FROM_VAULT):
        from .sqlite import default_db_path

        if opening_check is not None:
            opening_check()
        self.url = str(path if path is not None else default_db_path())
        self.path = self.url  # type: ignore[assignment]
        self.after_import = []
        self.after_batch = []
        self.on_close = []
        if key not in (FROM_VAULT, None):
            raise ChatAuditError(f"{shown(self.url)}: encryption at rest (chataudit encrypt) is for SQLite archive files;"
                                 " on PostgreSQL use the server's disk encryption")
        self.key = None
        try:
            self.db = PgConnection(self.url)
        except psycopg.Error as error:
            first = (str(error).strip().splitlines() or ["?"])[-1]
            raise ChatAuditError(f"{shown(self.url)}: cannot connect to PostgreSQL ({first})") from None
        self.db.on_wait = on_wait
        try:
            self.migrate()
            self.db.load_catalog()
        except BaseException:
            self.db.close()
            raise

    def migrate(self) -> int:
        """Apply every numbered PostgreSQL migration the database has not seen, each in its own
        transaction under the write lock (two processes opening a new archive apply each once)."""
        raw = self.db.raw
        try:
            tables = {r[0] for r in raw.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()}
            if tables and "schema_migrations" not in tables:
                raise ChatAuditError(f"{shown(self.url)}: a database of another program, not a chataudit archive"
                                     " (give an empty database)")
            version = 0
            for number, script in _migrations():
                if "schema_migrations" in tables and number in self._applied():
                    version = max(version, number)
                    continue
                with raw.transaction():
                    raw.execute("SELECT pg_advisory_xact_lock($1)", (WRITE_LOCK,))
                    raw.execute("CREATE TABLE IF NOT EXISTS schema_migrations"
                                " (number BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)")
                    tables.add("schema_migrations")
                    if raw.execute("SELECT 1 FROM schema_migrations WHERE number = $1", (number,)).fetchone():
                        continue
                    raw.execute(script)
                    raw.execute("INSERT INTO schema_migrations VALUES ($1, to_char(now() AT TIME ZONE 'UTC',"
                                " 'YYYY-MM-DD\"T\"HH24:MI:SS+00:00'))", (number,))
                version = max(version, number)
            return version
        except psycopg.Error as error:
            raise ChatAuditError(f"{shown(self.url)}: cannot set up the archive ({sqlite_error(error)})") from None

    def _applied(self) -> set[int]:
        return {r[0] for r in self.db.raw.execute("SELECT number FROM schema_migrations").fetchall()}

    @property
    def schema_version(self) -> int:
        return self.db.raw.execute("SELECT coalesce(max(number), 0) FROM schema_migrations").fetchone()[0]

    def _native(self, sql: str, params: Iterable[Any] = (), *, prepare: bool | None = None) -> PgCursor:
        """PostgreSQL's own SQL (no translation), on the archive's connection; ``prepare`` as
        psycopg's (None: a prepared statement from its 5th run on, False: never)."""
        cursor = self.db.cursor()
        try:
            cursor._cursor.execute(sql, tuple(params), prepare=prepare)
        except psycopg.Error as error:
            raise sqlite_error(error) from None
        return cursor

    # ---- import: COPY into a staging table, then set-based -------------------------------------------

    def _staging(self) -> str:
        self._native(f"CREATE TEMP TABLE IF NOT EXISTS staging_rows ({STAGING_COLUMNS})")
        self._native("TRUNCATE staging_rows")
        return "COPY staging_rows FROM STDIN"

    def _drop_secondary_indexes(self) -> list[str]:
        """PostgreSQL keeps its indexes through a first import (its COPY path gains little from a rebuild)."""
        return []

    def _store_batch(self, batch: list[tuple], bodies: list[str], source_id: int, number: int,
                     exact: bool = False) -> None:
        """A batch of messages none of which is archived yet goes straight in by COPY (:meth:`_copy_new`).
        Else stage it by COPY; store the messages not yet archived (numbered as SQLite numbers
        them: the largest id + 1 on, in staging order), this source's sighting of every message in
        the batch, and the new messages' index rows."""
        raw = self.db.raw
        self.ensure_partitions(row[5] for row in batch)  # row[5]: sent_at_ms (MESSAGE_COLUMNS)
        try:
            if self._all_new(batch, number):
                self._copy_new(batch, bodies, source_id, number, exact)
                return
            stage = self._staging()
            with raw.cursor().copy(stage) as copy:
                for seq, (row, body) in enumerate(zip(batch, bodies)):
                    copy.write_row((seq, *row, body))
            raw.execute("ANALYZE staging_rows")  # a temporary table has no statistics: the joins below need them
            before = raw.execute("SELECT coalesce(max(id), 0) FROM messages").fetchone()[0]
            columns = MESSAGE_COLUMNS
            # the batch's period, as constants: only its months' partitions are read
            period = f" AND m.sent_at_ms BETWEEN {int(min(r[5] for r in batch))} AND {int(max(r[5] for r in batch))}"
            raw.execute(
                f"INSERT INTO messages (id, {columns})"
                f" SELECT $1 + row_number() OVER (ORDER BY seq), {columns} FROM ("
                "  SELECT DISTINCT ON (conversation, sent_at_ms, content_key, occurrence) * FROM staging_rows s"
                f"  WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE {IDENTITY}{period})"
                "  ORDER BY conversation, sent_at_ms, content_key, occurrence, seq) fresh ORDER BY seq",
                (before,))
            raw.execute(
                "INSERT INTO sightings (source, message, position, sender_name, utc_offset_min, edited_at_ms,"
                " message_id, extras)"
                " SELECT $1, m.id, s.position, s.sender_name, s.utc_offset_min, s.edited_at_ms, s.message_id, s.extras"
                f" FROM staging_rows s JOIN messages m ON {IDENTITY}{period} ORDER BY s.seq ON CONFLICT DO NOTHING",
                (source_id,))
            raw.execute(
                "INSERT INTO message_fts (rowid, words)"
                " SELECT (s.sent_at_ms / 1000) * $1 + m.id, s.body::tsvector"
                f" FROM staging_rows s JOIN messages m ON {IDENTITY}{period} WHERE m.id > $2 ON CONFLICT DO NOTHING",
                (ROWID_SHIFT, before))
            raw.execute("TRUNCATE staging_rows")
        except psycopg.Error as error:
            raise sqlite_error(error) from None
        for hook in self.after_batch:
            hook(self, source_id, before + 1, number, None)  # the ledger reads the stored rows back

    def _all_new(self, batch: list[tuple], number: int) -> bool:
        """True when no message of the batch is archived yet and no two of them are the same
        message (identity: conversation, instant, content key, occurrence). Asked under the write
        lock, so it stays true until the batch is stored.

        A message later than every archived message of its conversation cannot be archived: only
        the others are looked up (none in a first import, or in a later export of a conversation).
        The latest instant of each conversation is asked once per import (batch ``number`` 0 starts
        one) and then kept up to date from the batches themselves."""
        identities = {(r[0], r[5], r[19], r[20]) for r in batch}
        if len(identities) != len(batch):
            return False
        if number == 0 or not hasattr(self, "_latest"):
            self._latest: dict[int, int | None] = {}
        latest = self._latest
        unknown = {r[0] for r in batch}.difference(latest)
        if unknown:
            latest.update(self.db.raw.execute(
                "SELECT c, (SELECT max(m.sent_at_ms) FROM messages m WHERE m.conversation = c)"
                " FROM unnest($1::text::bigint[]) c", ("{" + ",".join(map(str, unknown)) + "}",)).fetchall())
        doubtful = [i for i in identities if latest[i[0]] is not None and i[1] <= latest[i[0]]]
        for conversation, instant, _key, _occurrence in identities:  # the batch is stored next, whichever way
            if latest[conversation] is None or instant > latest[conversation]:
                latest[conversation] = instant
        if not doubtful:
            return True
        arrays = ["{" + ",".join(map(str, column)) + "}" for column in zip(*doubtful)]  # (dumped in C)
        instants = [i[1] for i in doubtful]
        # one index probe per message (LATERAL … LIMIT 1), in the batch's months only: a join would
        # read every message of the archive
        found = self.db.raw.execute(
            "SELECT EXISTS (SELECT 1 FROM unnest($1::text::bigint[], $2::text::bigint[], $3::text::bigint[],"
            " $4::text::bigint[]) s(conversation, sent_at_ms, content_key, occurrence) CROSS JOIN LATERAL"
            f" (SELECT 1 FROM messages m WHERE {IDENTITY} AND m.sent_at_ms BETWEEN $5 AND $6 LIMIT 1) hit)",
            (*arrays, min(instants), max(instants))).fetchone()[0]
        return not found

    def _copy_new(self, batch: list[tuple], bodies: list[str], source_id: int, number: int, exact: bool) -> None:
        """A batch of new messages straight into their tables by COPY: numbered in batch order from
        the largest id + 1 (as SQLite numbers them), so the sightings and index rows are known
        without a lookup, and the ledger gets the rows without reading them back (``exact``)."""
        raw = self.db.raw
        before = raw.execute("SELECT coalesce(max(id), 0) FROM messages").fetchone()[0]
        ids = range(before + 1, before + 1 + len(batch))
        cursor = raw.cursor()
        with cursor.copy(f"COPY messages (id, {MESSAGE_COLUMNS}) FROM STDIN") as copy:
            for id_, row in zip(ids, batch):
                copy.write_row((id_, *row))
        with cursor.copy("COPY sightings (source, message, position, sender_name, utc_offset_min, edited_at_ms,"
                         " message_id, extras) FROM STDIN") as copy:
            for row in sighting_rows(source_id, before + 1, batch):
                copy.write_row(row)
        with cursor.copy("COPY message_fts (rowid, words) FROM STDIN") as copy:
            for row in fts_rows(before + 1, batch, bodies):
                copy.write_row(row)
        stored = None
        if exact and self.after_batch:
            stored = stored_rows(before + 1, batch)
        for hook in self.after_batch:
            hook(self, source_id, before + 1, number, stored)

    def ensure_partitions(self, instants: Iterable[int]) -> None:
        """The month partitions of messages and message_fts for these instants (migration pg/0024),
        made before the rows are stored, in a short transaction on a connection of its own: the
        caller's open transaction keeps no lock on them and readers wait for nothing."""
        seen: set[int] = self.__dict__.setdefault("_months_seen", set())
        months = {_month_start(max(t, 0)) for t in instants if t is not None and -1000 < t < LAST_INSTANT}
        self.__dict__.setdefault("_months_written", set()).update(months)  # for settle()
        months -= seen
        if not months:
            return
        try:
            with psycopg.connect(self.url, autocommit=True) as side:
                with side.transaction():
                    side.execute("SET LOCAL lock_timeout = '30s'")
                    side.execute("SELECT chataudit_month_partitions(%s::bigint[])", (sorted(months),))
        except psycopg.Error as error:
            raise ChatAuditError(f"{shown(self.url)}: cannot add the month partitions of messages"
                                 f" ({sqlite_error(error)})") from None
        seen |= months

    # ---- search -------------------------------------------------------------------------------------------

    def search(self, expression: str, *, platform: str | None = None, sender: str | None = None,
               conversation: int | None = None, since_ms: int | None = None, until_ms: int | None = None,
               limit: int = 50) -> list[dict[str, Any]]:
        """Messages matching an FTS5 expression (see :mod:`chataudit.search`), newest first: the
        same rows in the same order as the SQLite archive (index row = sent second · 2^31 + id).

        One statement, one round trip (:func:`search_statement`)."""
        rowid_bounds = fts_rowid_bounds(since_ms, until_ms)
        conditions, values = [], []
        for clause, given in (("m.platform = ${}", [platform] if platform else []),
                              ("(m.sender_id = ${} OR m.sender_name = ${})", [sender, sender] if sender else []),
                              ("m.conversation = ${}", [conversation] if conversation is not None else []),
                              ("m.sent_at_ms >= ${}", [since_ms] if since_ms is not None else []),
                              ("m.sent_at_ms < ${}", [until_ms] if until_ms is not None else [])):
            if given:
                conditions.append(clause)
                values.extend(given)
        hits_first = not (platform or sender or conversation is not None) and all(
            _exact_in_index(instant) for instant in (since_ms, until_ms))
        sql = search_statement(tuple(operator for operator, _ in rowid_bounds), tuple(conditions), int(limit),
                               hits_first)
        params = [pgsearch.tsquery_text(expression), *(bound for _, bound in rowid_bounds), *values]
        try:
            # hits first over the whole archive, any plan is good (one join of ``limit`` hits):
            # prepared from its 5th run on a connection (psycopg's default), and after 5 more the
            # server may keep a generic plan, so a kept connection (`serve`'s) stops planning it.
            # Else never prepared, planned for each search's own values: filtered by the messages,
            # the best plan depends on the term's frequency; in a period, a generic plan cannot tell
            # how many index rows the period holds, and may sort them all instead of walking the
            # newest (a month of 20,000 messages: 14 ms a search instead of 1).
            prepared = hits_first and not rowid_bounds
            rows = self._native(sql, params, prepare=None if prepared else False).fetchall()
            return [message_dict(row) for row in rows]
        except Exception as error:
            if isinstance(error, ChatAuditError):
                raise
            raise ChatAuditError(f"search: {error}") from None

    # ---- deletion ------------------------------------------------------------------------------------------

    def delete_messages(self, message_ids: Iterable[int]) -> int:
        """As on SQLite: the messages, their index rows and every row that references them.

        A month partition all of whose messages go, none of them held, is emptied whole (TRUNCATE of
        messages_pYYYY_MM and message_fts_pYYYY_MM, see :meth:`_empty_months`); the rest go row by row."""
        ids = list(message_ids)
        touched: set[int] = set()
        referencing = [(t, c) for t, c in self._native(
            "SELECT c.conrelid::regclass::text, a.attname::text FROM pg_constraint c"
            " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]"
            " WHERE c.contype = 'f' AND c.confrelid = 'messages'::regclass").fetchall()]
        ids = self._empty_months(ids, referencing, touched)
        for start in range(0, len(ids), DELETE_BATCH):
            chunk = ids[start:start + DELETE_BATCH]
            touched.update(r[0] for r in self._native(
                "SELECT DISTINCT conversation FROM messages WHERE id = ANY($1)", (chunk,)).fetchall())
            self._native("DELETE FROM message_fts WHERE rowid IN"
                         " (SELECT (sent_at_ms / 1000) * $1 + id FROM messages WHERE id = ANY($2))", (ROWID_SHIFT, chunk))
            for table, column in referencing:
                self._native(f'DELETE FROM "{table}" WHERE "{column}" = ANY($1)', (chunk,))
            self._native("DELETE FROM messages WHERE id = ANY($1)", (chunk,))
        self.refresh_conversation_stats(touched)
        return len(ids)


    def _empty_months(self, ids: list[int], referencing: list[tuple[str, str]], touched: set[int]) -> list[int]:
        """Empty every month partition whose messages are all among ``ids``; returns the ids left for
        the row path (and notes the months emptied in ``emptied_months``).

        Same outcome as the row path, for a fraction of the work (no dead rows, no per-row index
        and trigger work): TRUNCATE fires no row trigger, so a month is emptied only when every
        row trigger that DELETE would fire on messages is in MONTH_PURGE, whose statements do the
        same set-based; a month with a message under an active legal hold keeps the row path,
        where the hold's trigger refuses as on SQLite. The ledger is the caller's and unchanged (one
        purge event per leaf). A month whose partitions another session is reading (a lock not had
        within MONTH_LOCK_WAIT) takes the row path too. Within the caller's transaction: a
        rollback brings the month back."""
        self.emptied_months: list[str] = []
        if not ids or not self.empties_months or not self.db.in_transaction:
            return ids
        triggers = {r[0] for r in self._native(
            "SELECT tgname::text FROM pg_trigger WHERE tgrelid = 'messages'::regclass AND NOT tgisinternal"
            " AND tgenabled <> 'D' AND (tgtype & 8) <> 0").fetchall()}  # 8: fires on DELETE
        if not triggers <= set(MONTH_PURGE):
            return ids
        due = {part: count for part, count in self._native(
            "SELECT tableoid::regclass::text, count(*) FROM messages WHERE id = ANY($1) GROUP BY 1", (ids,)).fetchall()
            if re.fullmatch(r"messages_p\d{4}_\d{2}", part)}
        emptied: list[int] = []
        for part in sorted(due):
            fts = "message_fts_" + part.removeprefix("messages_")
            if self._native(f"SELECT count(*) FROM {part}").fetchone()[0] != due[part] \
                    or self._native(f"SELECT EXISTS (SELECT 1 FROM {part} m WHERE {HELD})").fetchone()[0]:
                continue
            if not self._lock_month(part, fts):
                continue
            month_ids = [r[0] for r in self._native(f"SELECT id FROM {part}").fetchall()]
            touched.update(r[0] for r in self._native(f"SELECT DISTINCT conversation FROM {part}").fetchall())
            for table, column in referencing:
                self._native(f'DELETE FROM "{table}" WHERE "{column}" = ANY($1)', (month_ids,))
            for name in sorted(triggers):
                for statement in MONTH_PURGE[name]:
                    if "$1" in statement:
                        self._native(statement, (month_ids,))
            self._native(f"TRUNCATE {part}, {fts}")
            self.emptied_months.append(part.removeprefix("messages_p").replace("_", "-"))
            emptied.extend(month_ids)
        if emptied:
            for name in sorted(triggers):  # what the triggers do after the last row, once
                for statement in MONTH_PURGE[name]:
                    if "$1" not in statement:
                        self._native(statement)
        gone = set(emptied)
        return [i for i in ids if i not in gone]

    def _lock_month(self, part: str, fts: str) -> bool:
        """The month's two partitions locked for TRUNCATE (waiting at most MONTH_LOCK_WAIT for readers)."""
        raw = self.db.raw
        raw.execute("SAVEPOINT chataudit_month")
        try:
            raw.execute(f"SET LOCAL lock_timeout = '{MONTH_LOCK_WAIT}'")
            raw.execute(f"LOCK TABLE {part}, {fts} IN ACCESS EXCLUSIVE MODE")
            locked = True
        except psycopg.errors.LockNotAvailable:
            raw.execute("ROLLBACK TO SAVEPOINT chataudit_month")
            locked = False
        raw.execute("RELEASE SAVEPOINT chataudit_month")
        raw.execute("SET LOCAL lock_timeout = DEFAULT")
        return locked

    empties_months = True  # False: every purge takes the row path (the tests compare both)


# Row triggers on messages that fire on DELETE, and what each does for a whole month of ids ($1) at
# once (a statement without $1 runs once, after the months are emptied). A DELETE trigger not named
# here (a capability's new one) makes a purge take the row path, where it fires.
MONTH_PURGE: dict[str, tuple[str, ...]] = {
    "governance_hold_keeps_messages": (),  # a month with a held message keeps the row path (HELD)
    "messages_cascade": ("DELETE FROM sightings WHERE message = ANY($1)",  # migrations/pg/0024
                         "DELETE FROM pii_findings WHERE message = ANY($1)"),
    "supervision_alerts_purged": ("UPDATE supervision_alerts SET matched = NULL WHERE message = ANY($1)",),
    "pii_message_deleted": ("DELETE FROM pii_rescan WHERE message = ANY($1)",  # privacy/scan.py
                            "UPDATE pii_scan_state SET scanned_through = (SELECT coalesce(max(id), 0) FROM messages)"
                            " WHERE scanned_through > (SELECT coalesce(max(id), 0) FROM messages)"),
}
# A message m under an active legal hold (the condition of chataudit_hold_keeps_messages, pg/0007).
HELD = ("EXISTS (SELECT 1 FROM governance_holds h WHERE h.released_at IS NULL AND h.conversation = m.conversation)"
        " OR EXISTS (SELECT 1 FROM governance_hold_identities i JOIN governance_holds h ON h.id = i.hold"
        " WHERE h.released_at IS NULL AND i.platform = m.platform AND i.sender_key = coalesce(m.sender_id, m.sender_name))")
MONTH_LOCK_WAIT = "5s"


# a hit (index row id ``hits.key``) to its message: the row id's second bounds the message's instant,
# so each hit reads one month's partition
HIT_MATCH = (f"m.id = (hits.key & {ROWID_SHIFT - 1})"
             f" AND m.sent_at_ms > (hits.key >> {ROWID_BITS}) * 1000 - 1000"
             f" AND m.sent_at_ms < (hits.key >> {ROWID_BITS}) * 1000 + 1000")
HIT_JOIN = f" JOIN hits ON {HIT_MATCH}"
_SELECT_LIST, _, _JOINS = MESSAGE_SELECT.partition(" FROM messages m")


def _probed(conditions: Iterable[str]) -> str:
    """The messages of ``hits`` found one by one: per hit its primary key within a second of its
    index row's, in the one or two month partitions that second falls in (pruned as it runs). A
    join the planner may not turn into a scan of every message: on freshly imported partitions
    without statistics it took ``m.id = …`` for unselective and hashed all 10M messages (5 s)."""
    where = "".join(f" AND {c}" for c in conditions)
    return (f"{_SELECT_LIST} FROM hits CROSS JOIN LATERAL (SELECT * FROM messages m WHERE {HIT_MATCH}{where}"
            f" LIMIT 1) m{_JOINS}")


def _exact_in_index(instant_ms: int | None) -> bool:
    """True when the index rows' bound of a period's end (``fts_rowid_bounds``) selects exactly the
    messages its instant test would: a whole second after 1970 (a row id keeps its message's second,
    truncated toward zero) whose row id is not clamped (before 2106)."""
    return instant_ms is None or (0 < instant_ms < (1 << 32) * 1000 and instant_ms % 1000 == 0)


@functools.lru_cache(maxsize=256)
def search_statement(bound_operators: tuple[str, ...], conditions: tuple[str, ...], limit: int,
                     hits_first: bool) -> str:
    """The one statement of a search: parameters $1 the tsquery, then the row id bounds (``rowid
    <operator> $n`` each), then the ``${}`` of ``conditions`` (on the message ``m``) in order.

    The newest SEARCH_WINDOW index rows (in the period) are searched first (``recent``): when they
    hold ``limit`` hits, those are the answer, found without the GIN index, which must otherwise
    fetch and recheck every match of a frequent phrase (PostgreSQL's planner thinks a phrase of
    common bigrams rare). Else the GIN index answers (a rare term, or hits further back): that
    branch is gated by the count of ``recent`` (a one-time filter, not run at all when the newest
    rows sufficed), so either case is one round trip.

    ``hits_first`` (the conditions drop no hit's message: none, or a period the row id bounds say
    exactly, kept only to prune the messages' partitions): the ``limit`` newest hits are picked from
    the index rows alone and only they are joined to their messages (one join of ``limit`` rows,
    whatever a plan's estimate of the term's matches). Else the messages are joined in each branch,
    to be filtered before the limit."""
    numbers = itertools.count(2)
    bounds = "".join(f" AND rowid {operator} ${next(numbers)}" for operator in bound_operators)
    where = [re.sub(r"\$\{\}", lambda _: f"${next(numbers)}", condition) for condition in conditions]
    newest = (f"SELECT key FROM (SELECT rowid AS key, words FROM message_fts WHERE TRUE{bounds}"
              f" ORDER BY rowid DESC LIMIT {SEARCH_WINDOW}) newest WHERE words @@ $1::tsquery")
    # fewer hits than asked for among the newest rows. Unfiltered, that makes the term rare: every
    # match is taken from the GIN index (OFFSET 0: planned apart, so the planner does not walk the
    # row ids backwards rechecking each, as it does when it takes a rare phrase for a common one).
    # Filtered by the messages, the term may be frequent: newest first until enough pass the filters.
    indexed = f"SELECT rowid AS key FROM message_fts WHERE words @@ $1::tsquery{bounds}" + (" OFFSET 0" if hits_first else "")
    enough = f"(SELECT count(*) FROM recent) >= {limit}"
    if hits_first:
        return (f"WITH recent AS MATERIALIZED ({newest} ORDER BY key DESC LIMIT {limit}),"
                f" hits AS (SELECT key FROM recent WHERE {enough} UNION ALL (SELECT key FROM ({indexed}) matched"
                f" WHERE NOT {enough} ORDER BY key DESC LIMIT {limit}))"
                f" {_probed(where)} ORDER BY hits.key DESC")
    select = "SELECT hits.key AS hit_key," + MESSAGE_SELECT.removeprefix("SELECT")

    def filtered(hits: str, *more: str) -> str:
        return (f"WITH hits AS ({hits}) {select}{HIT_JOIN} WHERE {' AND '.join([*where, *more])}"
                f" ORDER BY hits.key DESC LIMIT {limit}")

    return (f"WITH recent AS MATERIALIZED ({filtered(newest)}) SELECT * FROM (SELECT * FROM recent WHERE {enough}"
            f" UNION ALL ({filtered(indexed, f'NOT {enough}')})) found ORDER BY hit_key DESC")


def session_lock(url: str, purpose: str, key: int) -> psycopg.Connection | str:
    """A lock of the database held for as long as the returned connection stays open (what a lock file
    beside an SQLite archive is, e.g. one watcher per archive), or the holder's description when
    another process holds it. ``key`` tells the purposes apart (a session-level advisory lock)."""
    import os

    try:
        connection = psycopg.connect(url, autocommit=True, application_name=f"chataudit {purpose} pid {os.getpid()}")
        if connection.execute("SELECT pg_try_advisory_lock(%s, %s)", (WRITE_LOCK, key)).fetchone()[0]:
            return connection
        holder = connection.execute(
            "SELECT a.application_name, a.client_addr::text FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s AND l.objsubid = 2"
            " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (WRITE_LOCK, key)).fetchone()
        connection.close()
    except psycopg.Error as error:
        raise ChatAuditError(f"{shown(url)}: cannot take the {purpose} lock ({sqlite_error(error)})") from None
    return " on ".join(part for part in holder if part) if holder else "another process"


def _month_start(ms: int) -> int:
    """The first instant (ms, UTC) of the month holding ``ms``."""
    day = datetime.fromtimestamp(ms // 1000, timezone.utc)
    return int(datetime(day.year, day.month, 1, tzinfo=timezone.utc).timestamp()) * 1000


_TSVECTOR_ITEM = re.compile(r"'((?:[^'\\]|''|\\.)*)'(?::([\d,A-D]+))?")


def _parse_tsvector(text: str) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for lexeme, positions in _TSVECTOR_ITEM.findall(text):
        word = re.sub(r"\\(.)", r"\1", lexeme.replace("''", "'"))
        found[word] = sorted(int(p.rstrip("ABCD")) for p in positions.split(",")) if positions else []
    return found


def index_differences(db: PgConnection) -> list[Any]:
    """The PostgreSQL form of :func:`chataudit.search.index_differences`: every message's index row
    made again from its text and compared with the stored one, token by token and position."""
    from ..search import IndexDifference
    from ..textindex import index_body

    cursor = db.raw.cursor()
    cursor.execute(
        "SELECT coalesce(f.rowid, (m.sent_at_ms / 1000) * $1 + m.id), m.id, m.text, f.words::text"
        " FROM messages m FULL JOIN message_fts f ON f.rowid = (m.sent_at_ms / 1000) * $1 + m.id"
        " ORDER BY 1", (ROWID_SHIFT,))
    differences = []
    for rowid, message, text, words in cursor:
        stored = _parse_tsvector(words or "")
        fresh = _parse_tsvector(pgsearch.tsvector_text(index_body(text))) if text else {}
        if stored == fresh:
            continue
        if message is None:
            owner = db.raw.execute("SELECT 1 FROM messages WHERE id = $1", (rowid & (ROWID_SHIFT - 1),)).fetchone()
            message = rowid & (ROWID_SHIFT - 1) if owner else None
        difference = IndexDifference(rowid, message)
        for word in sorted(set(stored) | set(fresh)):
            have, want = stored.get(word, []), fresh.get(word, [])
            difference.extra += [word] * max(0, len(have) - len(want)) or ([word] if have and have != want and len(have) >= len(want) else [])
            difference.missing += [word] * max(0, len(want) - len(have))
        differences.append(difference)
    return differences
