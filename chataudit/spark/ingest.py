"""``spark import``: export files parsed on the executors into a new lake, the same lake that
``chataudit import`` of the same files into a new archive followed by ``lake export`` would give.

**The ordering rule** (what makes the two comparable leaf by leaf). Units are taken in the order
``chataudit import PATH…`` walks them (each PATH as given; a folder's files by name;
:func:`chataudit.importer.walk`). Unit *k* becomes the next source unless it is skipped, fails to
parse, or repeats an earlier unit's SHA-256 (then it is no source, as in ``import``). Within a unit,
records come in the order its format module yields them. A message is *new* in the first source, in
that order, that holds it (identity: conversation, instant, content key, occurrence — the archive's
unique index), at its first record there; message ids number the new messages in (source, record)
order from 1; every record is a sighting of its message (the first per source and message kept).
The ledger appends, per source: its source leaf, its new messages in id order, its sightings leaf,
its conversations leaf — :meth:`chataudit.ledger.Ledger.append_pending`'s order. So leaf *i* of the
lake and of the archive is the same record: a conversations leaf is byte-equal; a message or
sightings leaf is equal under the same salts; a source leaf under the same ``imported_at``.

**Salts.** The archive draws each salt from ``os.urandom``. Here every salt is
HMAC-SHA256(seed, what it salts) with a 32-byte seed drawn from ``os.urandom`` once per run, sent to
the executors with the job and never stored: to anyone without the seed the salts are as random as
the archive's (a disclosed salt tells nothing of another), and a task Spark runs twice (a retry,
or two actions over one lineage) makes the same leaf both times, which random draws would not.

**Large files in spans.** A file of at least ``split_bytes`` whose format reads lines on their own
(JSON Lines: ``spannable``/``parse_span`` of :mod:`chataudit.formats`) is cut at line starts into
spans of about that size, parsed by one task each; a span's records are numbered after the spans
before it (``seq``: the span's index × 2⁴⁰ + the record's place in it) and carry the file's own line
numbers. The driver joins the spans' reports in span order into the one a whole-file task would
give (the first failing span's error, the conversations as first seen), and the records of a
split file are brought together in order before their occurrence numbers are counted.

**What runs where.** Executors: detect, parse (the format modules, one task per unit or span), content
hashes, occurrence numbers, message and sighting leaves, per-chunk Merkle subtrees, the Parquet
files and their SHA-256. Driver: the walk, conversation resolution (the store's own code on a small
SQLite database: conversations are few next to messages), one count and three leaves per source,
joining chunk hashes into the root, signing the checkpoint and the manifest.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import pickle
import secrets
import tempfile
import time
from bisect import bisect_right
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from dataclasses import dataclass, field

from .. import formats
from ..errors import ChatAuditError
from ..formats import ParseOptions
from ..importer import FileOutcome, ImportSummary, walk
from ..lake import layout
from ..lake.export import file_entry, make_manifest, write_manifest, write_table
from ..ledger import leaves as L
from ..ledger.keys import load_or_create_key
from ..ledger.log import SIGNED_AT_PREFIX
from ..ledger.note import Checkpoint, sign
from ..model import default_zone_name, zone
from ..store import Archive
from .arrow import arrow_schema, map_rows, to_batch
from .merkle import tree_root

SEED_BYTES = 32
WRITE_ROWS = 65_536  # rows an executor buffers before writing a row group
SPLIT_BYTES = 128 << 20  # a spannable file this large is parsed by several tasks
SPAN_SEQ = 1 << 40  # seq of a span's first record: its index × SPAN_SEQ (no span holds 2⁴⁰ records)


def derive_salts(seed: bytes, label: bytes, count: int) -> bytes:
    """``count`` 16-byte salts for ``label`` (what they salt), HMAC-SHA256 in counter mode."""
    out = b"".join(hmac.new(seed, label + b"#" + str(block).encode(), hashlib.sha256).digest()
                   for block in range((count * L.SALT_BYTES + 31) // 32))
    return out[:count * L.SALT_BYTES]


# ---- stage 1 (executors): detect and parse one unit per task ------------------------------------

FIELDS_SCHEMA = (
    "platform string, message_id string, sender_id string, sender_name string, sent_at_ms long,"
    " utc_offset_min long, kind string, text string, reply_to string, edited_at_ms long, amount string,"
    " currency string, attachments string, is_me long, extras string"
)
FIELD_COUNT = len(FIELDS_SCHEMA.split(","))
# a record: (unit, seq, native id, fields…, position, content hash, None); a unit's meta: (unit, None…, pickled meta)
PARSED_SCHEMA = f"unit long, seq long, native string, {FIELDS_SCHEMA}, position long, content_hash binary, meta binary"


def _parse_units(todo: list[tuple], format_name: str, options: Any):
    """Row function over ``range`` ids (one per partition): parse unit ``todo[id]``, flat PARSED_SCHEMA rows."""
    def run(ids: Iterator[tuple]) -> Iterator[tuple]:
        empty = (None,) * (FIELD_COUNT + 4)  # seq, native, the fields, position, content hash
        for (index,) in ids:
            for item in parse_unit(*todo[index], format_name=format_name, options=options):
                if item[0] == "m":
                    _, unit, seq, _platform, native, fields, position, digest = item
                    yield (unit, seq, native, *fields, position, digest, None)
                else:
                    yield (item[1]["unit"], *empty, pickle.dumps(item[1]))
    return run


@dataclass(frozen=True)
class Piece:
    """One span of a file cut by the driver: its index, lines, and what the driver read of the file."""

    index: int
    span: formats.LineSpan
    format: str
    sha256: str
    size: int


def parse_unit(unit_index: int, path: str, shown: str, explicit: bool, piece: Piece | None = None, *,
               format_name: str, options: Any) -> Iterator[tuple]:
    """("m", unit, seq, platform, native id, row fields, position, content hash) per message record, then
    ("meta", {...}): what the driver needs to file the unit (its hash, counts, conversation events).
    ``piece``: only that span of the file (its format already recognised by the driver)."""
    from ..errors import ParseError
    from ..importer import failure_line, file_sha256, folder_sha256, recognise, storable
    from ..model import Conversation
    from ..store.sqlite import prepare

    unit = Path(path)
    meta: dict[str, Any] = {"unit": unit_index, "path": shown, "format": None, "sha256": None, "size": 0,
                            "messages": 0, "error": None, "skipped": None, "fatal": None, "events": [],
                            "piece": piece.index if piece else 0}
    if piece is None:
        try:
            module = recognise(unit, shown, explicit, formats.get(format_name) if format_name != "auto" else None)
        except OSError as error:
            meta["error"] = f"{shown}: {error.strerror or error}"
            yield ("meta", meta)
            return
        if isinstance(module, FileOutcome):
            meta.update(format=module.format, error=module.error, skipped=module.skipped)
            yield ("meta", meta)
            return
        meta["sha256"], meta["size"] = folder_sha256(unit) if unit.is_dir() else file_sha256(unit)
        records = module.parse(unit, options)
    else:
        module = formats.get(piece.format)
        meta["sha256"], meta["size"] = piece.sha256, piece.size
        records = module.parse_span(unit, options, piece.span)
    meta["format"] = module.NAME
    # conversation events in record order: [first message seq it applies to, Conversation, messages filed
    # by it, whether the file said so (a Conversation record) rather than a message's first appearance]
    events: list[list[Any]] = []
    current: dict[tuple[str, str], int] = {}
    seq = first_seq = piece.index * SPAN_SEQ if piece else 0
    try:
        for batch in prepare(storable(records, str(unit)), bodies=False):
            for item in batch:
                if type(item) is not tuple:  # a Conversation record
                    current[(item.platform, item.conversation_id)] = len(events)
                    events.append([seq, item, 0, True])
                    continue
                platform, native, title, fields, position, digest, _body, _as_given = item
                event = current.get((platform, native))
                if event is None:  # the store files it as a conversation of that id and title
                    event = current[(platform, native)] = len(events)
                    events.append([seq, Conversation(platform, native, title), 0, False])
                events[event][2] += 1
                yield ("m", unit_index, seq, platform, native, fields, position, digest)
                seq += 1
    except ParseError as error:  # this file's fault: one line, nothing of it imported
        meta["error"] = failure_line(error, unit, shown, module.NAME)
    except (ChatAuditError, MemoryError) as error:  # not this file's: the whole import stops, as `import` does
        meta["fatal"] = f"{shown}: {error}" if not isinstance(error, ChatAuditError) else str(error)
    except Exception as error:  # noqa: BLE001 — one bad file never stops the others (as in `import`)
        meta["error"] = failure_line(error, unit, shown, module.NAME)
    meta["messages"] = seq - first_seq
    meta["events"] = events if meta["error"] is None and meta["fatal"] is None else []
    yield ("meta", meta)


def join_pieces(metas: list[dict]) -> dict:
    """The report of a whole file from its spans' (in span order): what one task parsing the whole
    file would have said. Its error is the first failing span's (the whole-file parse stops there);
    a conversation's implicit event (its first message) counts only where the file first shows it."""
    joined = dict(metas[0], piece=0, events=[], messages=sum(m["messages"] for m in metas))
    failed = next((m for m in metas if m["error"] or m["fatal"]), None)  # the whole parse stops at the first
    if failed:
        joined.update(error=failed["error"], fatal=failed["fatal"])
        return joined
    events: list[list[Any]] = joined["events"]
    current: dict[tuple[str, str], int] = {}
    for meta in metas:
        for seq_from, conversation, filed, said in meta["events"]:
            key = (conversation.platform, conversation.conversation_id)
            if not said and key in current:
                events[current[key]][2] += filed
                continue
            current[key] = len(events)
            events.append([seq_from, conversation, filed, said])
    return joined


# ---- stage 3 (executors): the archive's conversation, content hash and occurrence of each record ----

RECORD_SCHEMA = (
    "source long, seq long, conversation long, platform string, message_id string, sender_id string,"
    " sender_name string, sent_at_ms long, utc_offset_min long, kind string, text string, reply_to string,"
    " edited_at_ms long, amount string, currency string, attachments string, is_me long, extras string,"
    " position long, content_hash binary, content_key long, occurrence long"
)


def _file_records(sources: dict[int, int], mapping: Any):
    """Row function over PARSED_SCHEMA rows of one unit (in record order) → RECORD_SCHEMA rows."""
    def run(rows: Iterator[tuple]) -> Iterator[tuple]:
        from ..store.sqlite import Occurrences, canonical_row_bytes

        numbers: dict[int, Occurrences] = {}  # per source, as the store numbers them (its records in order)
        spans_of = mapping.value
        end = 3 + FIELD_COUNT
        for row in rows:
            unit, seq, native = row[0], row[1], row[2]
            if row[-1] is not None or unit not in sources:
                continue
            number = numbers.get(unit) or numbers.setdefault(unit, Occurrences())
            fields, position, digest = row[3:end], row[end], row[end + 1]
            spans = spans_of[(unit, fields[0], native)]
            _, conversation, filed_as = spans[bisect_right(spans, (seq, float("inf"), "")) - 1]
            if filed_as != native:  # the content hash covers the conversation id it is filed under
                digest = hashlib.sha256(canonical_row_bytes(fields, filed_as)).digest()
            yield (sources[unit], seq, conversation, *fields, position, digest,
                   int.from_bytes(digest[:8], "big", signed=True), number(conversation, fields[4], digest))
    return run


# ---- leaves on the executors -------------------------------------------------------------------

MESSAGE_ORDER = [c.strip()[2:] for c in L.MESSAGE_COLUMNS.split(",")]
LEAF_SCHEMA = ("idx long, kind long, ref long, leaf_hash binary, conversation long, sent_at_ms long, sender string,"
               " salts binary, fields binary")


def _message_leaves(seed: bytes):
    """Rows (MESSAGE_ORDER…, native id, source sha256, leaf idx) → ledger_leaves rows, as
    :meth:`chataudit.ledger.Ledger._message_leaf_rows` makes them (salts derived, not drawn)."""
    def run(rows: Iterator[tuple]) -> Iterator[tuple]:
        width = len(MESSAGE_ORDER)
        for values in rows:
            row, (native, source_sha, idx) = values[:width], values[width:]
            attachments = row[L.COL_ATTACHMENTS]
            count = L.salt_count(attachments) if attachments else len(L.SALTED_FIELDS)
            salts = derive_salts(seed, b"message:%d" % idx, count)
            data = L.message_leaf(row, native, source_sha, salts.hex())
            yield (idx, L.MESSAGE, row[0], L.leaf_hash_of(data), row[L.COL_CONVERSATION], row[L.COL_SENT_AT],
                   row[L.COL_SENDER_NAME] or row[L.COL_SENDER_ID], salts, L.field_fingerprints(data))
    return run


def _sighting_hashes(seed: bytes):
    """Rows (source, SIGHTINGS_QUERY order…) → ledger_sightings rows (source, leaf, hash, salt)."""
    def run(rows: Iterator[tuple]) -> Iterator[tuple]:
        for values in rows:
            source, row = values[0], values[1:]
            salt = derive_salts(seed, b"sighting:%d:%d" % (source, row[0]), 1)
            yield (source, row[0], L.sighting_hash(row, salt), salt)
    return run


def _sightings_digests(rows: Iterator[tuple]) -> Iterator[tuple]:
    """(source, leaf, hash) sorted by source then leaf → (source, count, SHA-256 of the hashes in order)."""
    source, count, digest = None, 0, hashlib.sha256()
    for src, _leaf, value in rows:
        if src != source:
            if source is not None:
                yield (source, count, digest.digest())
            source, count, digest = src, 0, hashlib.sha256()
        digest.update(bytes(value))
        count += 1
    if source is not None:
        yield (source, count, digest.digest())


# ---- Parquet written by the executors --------------------------------------------------------------

def _write_files(uri: str, table: str, schema: Any, partitioned: bool):
    """A ``mapInArrow`` function writing its partition's batches (sorted) as Parquet under the lake, as
    they come (no row is made in Python); yields the manifest entries. ``partitioned``: batches carry
    ``platform`` and a trailing month, one file per platform/month."""
    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa
        import pyarrow.parquet as pq
        from pyspark import TaskContext

        from ..lake.export import escape

        index = TaskContext.get().partitionId()
        fs, base = layout.filesystem(uri)
        platform_at = schema.names.index("platform") if partitioned else None
        state: dict[str, Any] = {"dir": None, "writer": None, "buffer": [], "pending": 0, "rows": 0, "rel": None}
        entries: list[tuple] = []

        def flush() -> None:
            if state["buffer"]:
                state["writer"].write_table(pa.Table.from_batches(state["buffer"], schema=schema))
                state["rows"] += state["pending"]
                state.update(buffer=[], pending=0)

        def close() -> None:
            if state["writer"] is None:
                return
            flush()
            state["writer"].close()
            sha256, size = layout.file_sha256(fs, layout.join(base, state["rel"]))
            entries.append((state["rel"], table, state["rows"], size, sha256))
            state.update(writer=None, rows=0)

        def add(folder: str, batch: Any) -> None:
            if folder != state["dir"]:
                close()
                rel = f"{folder}/part-{index:05d}.parquet"
                fs.create_dir(layout.join(base, folder), recursive=True)
                state.update(dir=folder, rel=rel, writer=pq.ParquetWriter(
                    fs.open_output_stream(layout.join(base, rel)), schema, compression="zstd"))
            state["buffer"].append(batch)
            state["pending"] += batch.num_rows
            if state["pending"] >= WRITE_ROWS:
                flush()

        for batch in batches:
            if not batch.num_rows:
                continue
            if not partitioned:
                add(table, batch.cast(schema))
                continue
            columns = pa.RecordBatch.from_arrays(batch.columns[:-1], names=schema.names).cast(schema)
            keys = list(zip(batch.column(platform_at).to_pylist(), batch.column(batch.num_columns - 1).to_pylist()))
            start = 0
            for at in range(1, len(keys) + 1):  # the batch is sorted: one slice per platform/month run
                if at == len(keys) or keys[at] != keys[start]:
                    platform, month = keys[start]
                    add(f"{table}/platform={escape(platform)}/month={month}", columns.slice(start, at - start))
                    start = at
        close()
        if entries:
            yield to_batch(entries, arrow_schema(ENTRY_SCHEMA))
    return run


ENTRY_SCHEMA = "path string, table string, rows long, bytes long, sha256 string"


def _write(df: Any, uri: str, table: str, db: Any, partitioned: bool = False) -> list[dict]:
    """The rows of ``df`` (sorted as the files should be) written by the executors; their manifest entries."""
    import pyarrow as pa

    names = [f.name for f in df.schema.fields]
    expected = layout.table_schema(db, table).names
    if names[:len(expected)] != expected or len(names) != len(expected) + partitioned:
        raise ChatAuditError(f"spark import: {table} columns {names} are not the archive's {expected}")
    kinds = {"LongType": pa.int64(), "IntegerType": pa.int64(), "StringType": pa.string(),
             "BinaryType": pa.binary(), "DoubleType": pa.float64()}
    fields = df.schema.fields[:len(expected)]  # the trailing month is a path, not a column
    schema = pa.schema([pa.field(f.name, kinds[type(f.dataType).__name__]) for f in fields])
    written = df.mapInArrow(_write_files(uri, table, schema, partitioned), ENTRY_SCHEMA).collect()
    return [dict(zip(("path", "table", "rows", "bytes", "sha256"), tuple(entry))) for entry in written]


# ---- the driver ------------------------------------------------------------------------------------

@dataclass
class _Sources:
    """What the driver decides per unit: the sources in order, their rows and conversations leaves."""

    summary: ImportSummary
    ids: dict[int, int] = field(default_factory=dict)          # unit → source id
    rows: list[list[Any]] = field(default_factory=list)        # SOURCE_COLUMNS order (new_count set later)
    conversations_leaves: dict[int, bytes] = field(default_factory=dict)
    outcomes: dict[int, FileOutcome] = field(default_factory=dict)  # source id → its summary line
    # (unit, platform, native id) → [(first seq, archive conversation id, native id it is filed under)]
    mapping: dict[tuple[int, str, str], list[tuple[int, int, str]]] = field(default_factory=dict)


def check_new_lake(lake: str, key_path: str, format_name: str = "auto", tz: str | None = None) -> tuple[Any, str]:
    """(filesystem, base) of a new lake, refused before any work (and before Spark starts): an unknown
    zone or --format, a location that holds something, a key file inside the lake."""
    import pyarrow.fs as pafs

    if tz:
        zone(tz)
    fs, base = layout.filesystem(lake)
    info = fs.get_file_info(base)
    if info.type == pafs.FileType.File or any(True for _ in layout.walk_files(fs, base)):
        raise ChatAuditError(f"{lake}: exists and is not empty; spark import writes a new lake")
    if isinstance(fs, pafs.LocalFileSystem):
        key = Path(key_path).expanduser().resolve()
        if key == Path(base) or Path(base) in key.parents:
            raise ChatAuditError(f"{key_path}: the signing key must not be inside the lake {lake}")
    if format_name != "auto":
        formats.get(format_name)  # an unknown --format is an error before any work
    return fs, base


def import_on_spark(session: Any, paths: list[str], lake: str, *, key_path: str, format_name: str = "auto",
                    label: str | None = None, tz: str | None = None, me: str | None = None,
                    split_bytes: int = SPLIT_BYTES) -> dict[str, Any]:
    """Parse ``paths`` on the executors into a new signed lake at ``lake``; the import summary
    (``chataudit import --json``'s keys) plus the lake's. A spannable file of ``split_bytes`` or more
    is parsed in spans of about that size, one task each."""
    from pyspark import StorageLevel

    started = time.perf_counter()
    fs, base = check_new_lake(lake, key_path, format_name, tz)
    options = ParseOptions(tz=zone(tz or default_zone_name()), tz_given=bool(tz), me=me)
    signer, _ = load_or_create_key(Path(key_path).expanduser(), "chataudit/" + secrets.token_hex(8))
    units: list[tuple[int, str | None, str, bool]] = []
    decided: dict[int, FileOutcome] = {}
    for given in paths:
        if Path(given).suffix.lower() == ".zip":
            raise ChatAuditError(f"{given}: spark import reads the files and folders the executors can open; "
                                 "unzip it first")
        for unit in walk(Path(given)):
            if unit.outcome is None and not Path(given).resolve() in (unit.path.resolve(), *unit.path.resolve().parents):
                # a zip's members and a folder holding FIFOs or devices are read from a temporary copy or
                # view, gone before the tasks run (and never on the executors' machines)
                unit.outcome = FileOutcome(unit.shown, None, error=f"{unit.shown}: inside a zip, or in a folder with "
                                                                    "special files (FIFO, socket, device): unzip it, "
                                                                    "or move them out, first")
            if unit.outcome is not None:
                decided[len(units)] = unit.outcome
            units.append((len(units), None if unit.outcome else str(unit.path.resolve()), unit.shown, unit.explicit))
    todo = [piece for u in units if u[1] is not None for piece in _pieces(u, format_name, split_bytes)]
    split = len(todo) > len({u[0] for u in todo})
    seed = os.urandom(SEED_BYTES)

    # stage 1: parse on the executors, one unit (or span) per task; kept, so each file is parsed once
    staged = map_rows(session.range(0, len(todo), 1, max(1, len(todo))), _parse_units(todo, format_name, options),
                      PARSED_SCHEMA).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        reports: dict[int, list[dict]] = {}
        for meta in sorted((pickle.loads(r.meta) for r in staged.where("meta IS NOT NULL").select("meta").collect()),
                           key=lambda m: (m["unit"], m["piece"])):
            reports.setdefault(meta["unit"], []).append(meta)
        metas = {unit: join_pieces(pieces) for unit, pieces in reports.items()}
        fatal = next((m["fatal"] for m in metas.values() if m["fatal"]), None)
        if fatal:
            raise ChatAuditError(fatal)
        with tempfile.TemporaryDirectory(prefix="chataudit-spark-") as folder, \
                Archive(Path(folder) / "resolve.db") as resolver:
            decided_sources = _decide_sources(units, decided, metas, resolver, label)
            parsed = staged.where("meta IS NULL")
            if split:  # a split file's records, from several tasks, together and in order
                parsed = parsed.repartition("unit").sortWithinPartitions("unit", "seq")
            # stage 3 (executors): each record's conversation, content hash and occurrence
            records = map_rows(parsed, _file_records(
                decided_sources.ids, session.sparkContext.broadcast(decided_sources.mapping)), RECORD_SCHEMA)
            records.persist(StorageLevel.MEMORY_AND_DISK)
            try:
                tree_size, root, files = _write_lake(session, records, decided_sources, resolver, fs, base, lake, seed,
                                                     release=(staged, records))
            finally:
                records.unpersist()
            signed_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            note = sign(Checkpoint(signer.name, tree_size, root, (SIGNED_AT_PREFIX + signed_at,)).text(), signer)
            manifest = make_manifest(files, resolver.schema_version, signer.name, str(signer.verifier),
                                     {"id": 1, "tree_size": tree_size, "root": root.hex(), "note": note})
            write_manifest(fs, base, manifest, signer, signer.name, tree_size, root)
    finally:
        staged.unpersist()
    summary = decided_sources.summary
    summary.seconds = time.perf_counter() - started
    result = summary.as_dict()
    result.update(lake=lake, master=session.sparkContext.master, tree_size=tree_size, root=root.hex(),
                  verifier_key=str(signer.verifier), lake_files=len(manifest["files"]),
                  rows={t: info["rows"] for t, info in manifest["tables"].items()})
    return result


def _pieces(unit: tuple, format_name: str, split_bytes: int) -> list[tuple]:
    """The parse tasks of one unit: itself, or its spans when it is a large file whose format reads
    lines on their own (recognised here, as the task would; a file that fails that is left whole to
    its task, which reports it)."""
    from ..importer import recognise

    index, path, shown, explicit = unit
    whole = [(index, path, shown, explicit, None)]
    file = Path(path)
    try:
        if not file.is_file() or file.stat().st_size < split_bytes:
            return whole
        module = recognise(file, shown, explicit, formats.get(format_name) if format_name != "auto" else None)
    except OSError:
        return whole
    if isinstance(module, FileOutcome) or not hasattr(module, "parse_span") or not module.spannable(file):
        return whole
    spans, sha256, size = formats.line_spans(file, split_bytes)
    return [(index, path, shown, explicit, Piece(k, span, module.NAME, sha256, size)) for k, span in enumerate(spans)]


def _decide_sources(units: list[tuple], decided: dict[int, FileOutcome], metas: dict[int, dict], resolver: Any,
                    label: str | None) -> _Sources:
    """Stage 2 (driver): the sources in unit order, each file's conversations resolved by the store's own
    code (:meth:`Archive._resolve_conversation`) and its conversations leaf as they stand after it."""
    imported_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    result = _Sources(ImportSummary())
    outcomes = result.outcomes
    seen_sha: dict[str, int] = {}
    for index, _path, shown, _explicit in units:
        if index in decided:
            result.summary.files.append(decided[index])
            continue
        meta = metas[index]
        if meta["error"] or meta["skipped"]:
            result.summary.files.append(FileOutcome(shown, meta["format"], error=meta["error"], skipped=meta["skipped"]))
            continue
        if meta["sha256"] in seen_sha:  # the same bytes again: nothing new, as `import` says
            result.summary.files.append(FileOutcome(shown, meta["format"], metas[seen_sha[meta["sha256"]]]["messages"],
                                                    0, True))
            continue
        seen_sha[meta["sha256"]] = index
        source_id = len(result.rows) + 1
        result.ids[index] = source_id
        used: set[int] = set()
        for seq_from, conversation, filed, _said in meta["events"]:
            archive_id, filed_as = resolver._resolve_conversation(conversation)
            result.mapping.setdefault((index, conversation.platform, conversation.conversation_id), []).append(
                (seq_from, archive_id, filed_as))
            if filed:
                used.add(archive_id)
        result.conversations_leaves[source_id] = _conversations_leaf(resolver.db, meta["sha256"], sorted(used))
        result.rows.append([source_id, meta["sha256"], shown, meta["size"], meta["format"], label, imported_at,
                            meta["messages"], 0])
        outcomes[source_id] = FileOutcome(shown, meta["format"], meta["messages"], 0)
        result.summary.files.append(outcomes[source_id])
    return result


def _conversations_leaf(db: Any, source_sha: str, ids: list[int]) -> bytes:
    """The conversations leaf of a source, from the conversations as they stand after it (ids sorted)."""
    digest = hashlib.sha256()
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for row in db.execute(f"SELECT {L.CONVERSATION_COLUMNS} FROM conversations WHERE id IN"
                              f" ({', '.join('?' * len(chunk))}) ORDER BY id", chunk).fetchall():
            digest.update(hashlib.sha256(L.conversation_line(tuple(row))).digest())
    return L.conversations_leaf_of(source_sha, len(ids), digest.digest())


KEY = ["conversation", "sent_at_ms", "content_key", "occurrence"]  # the archive's unique index of messages


def _write_lake(session: Any, records: Any, decided: _Sources, resolver: Any, fs: Any, base: str, lake: str,
                seed: bytes, release: tuple = ()) -> tuple[int, bytes, list[dict]]:
    """Stages 4-5: dedup and ids (Spark SQL), leaves (executors), the Parquet files; (size, root, files).
    ``release``: cached frames no longer needed once the sightings are written (the parsed records),
    dropped before the leaves are made: in local mode the cache shares the driver's heap."""
    from pyspark import StorageLevel
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    db = resolver.db
    winners = (records.withColumn("_rank", F.row_number().over(Window.partitionBy(*KEY).orderBy("source", "seq")))
               .where(F.col("_rank") == 1).drop("_rank"))
    new_counts = dict(winners.groupBy("source").count().collect())
    # per source: its source leaf, its new messages (ids in record order), its sightings and conversations leaves
    placement_rows, next_id, next_leaf = [], 1, 0
    for row in decided.rows:
        row[8] = new_counts.get(row[0], 0)
        decided.outcomes[row[0]].new = row[8]
        placement_rows.append((row[0], row[1], next_id, next_leaf))
        next_id += row[8]
        next_leaf += row[8] + 3
    tree_size = next_leaf
    placement = F.broadcast(session.createDataFrame(
        placement_rows or [(0, "", 0, 0)], "source long, source_sha string, first_id long, base long"))
    numbered = (winners.withColumn("_n", F.row_number().over(Window.partitionBy("source").orderBy("seq")))
                .join(placement, "source")
                .withColumn("id", F.col("first_id") + F.col("_n") - 1)
                .withColumn("_leaf", F.col("base") + F.col("_n")))
    message_columns = [f.name for f in layout.table_schema(db, "messages")]
    messages = numbered.select(*message_columns, "source_sha", "_leaf").persist(StorageLevel.MEMORY_AND_DISK)
    persisted = [messages]
    try:
        files = _write(messages.select(*message_columns)
                       .withColumn("_month", F.date_format(F.timestamp_millis("sent_at_ms"), "yyyy-MM"))
                       .repartition("platform", "_month").sortWithinPartitions("platform", "_month", "id"),
                       lake, "messages", db, partitioned=True)
        # every record of a source is a sighting of its message (the first per source and message kept)
        sighted = (records.join(messages.select("id", "_leaf", *KEY), KEY)
                   .withColumn("_first", F.row_number().over(Window.partitionBy("source", "id").orderBy("seq")))
                   .where(F.col("_first") == 1))
        files += _write(sighted.select("source", F.col("id").alias("message"), "position", "sender_name",
                                       "utc_offset_min", "edited_at_ms", "message_id", "extras")
                        .sortWithinPartitions("source", "message"), lake, "sightings", db)
        ledger_sightings = map_rows(
            sighted.select("source", "_leaf", "id", "position", "sender_name", "utc_offset_min", "edited_at_ms",
                           "message_id", "extras"), _sighting_hashes(seed),
            "source long, leaf long, hash binary, salt binary").persist(StorageLevel.MEMORY_AND_DISK)
        persisted.append(ledger_sightings)
        files += _write(ledger_sightings.sortWithinPartitions("source", "leaf"), lake, "ledger_sightings", db)
        for frame in release:
            frame.unpersist()
        digests = {s: (c, bytes(d)) for s, c, d in map_rows(
            ledger_sightings.select("source", "leaf", "hash").repartition("source").sortWithinPartitions("source", "leaf"),
            _sightings_digests, "source long, count long, digest binary").collect()}

        # message leaves on the executors; each source's three other leaves on the driver
        natives = session.createDataFrame([tuple(r) for r in db.execute("SELECT id, native_id FROM conversations")] or
                                          [(0, "")], "_cid long, _native string")
        message_leaves = map_rows(
            messages.join(natives, messages["conversation"] == natives["_cid"])
            .select(*MESSAGE_ORDER, "_native", "source_sha", "_leaf"), _message_leaves(seed), LEAF_SCHEMA)
        driver_leaves = []
        for row, (_source, sha, _first, leaf) in zip(decided.rows, placement_rows):
            count, digest = digests.get(row[0], (0, hashlib.sha256().digest()))
            for idx, kind, data in ((leaf, L.SOURCE, L.source_leaf(row)),
                                    (leaf + 1 + row[8], L.SIGHTINGS, L.sightings_leaf_of(sha, count, digest)),
                                    (leaf + 2 + row[8], L.CONVERSATIONS, decided.conversations_leaves[row[0]])):
                driver_leaves.append((idx, kind, row[0], L.leaf_hash_of(data), None, None, None, None, None))
        leaves = message_leaves.unionByName(session.createDataFrame(driver_leaves, LEAF_SCHEMA)).persist(
            StorageLevel.MEMORY_AND_DISK)
        persisted.append(leaves)
        tasks = max(1, session.sparkContext.defaultParallelism)
        files += _write(leaves.repartitionByRange(max(1, min(4 * tasks, tree_size // 65_536 + 1)), "idx")
                        .sortWithinPartitions("idx"), lake, "ledger_leaves", db)
        root, _chunks, why = tree_root(session, leaves, tree_size)
    finally:
        for frame in persisted:
            frame.unpersist()
    if why:
        raise ChatAuditError(f"spark import: the leaves are not a tree ({why})")
    # the driver's tables: the sources, the conversations as resolved, and the ones an import leaves empty
    db.executemany(f"INSERT INTO sources ({L.SOURCE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", decided.rows)
    written = {f["table"] for f in files}
    for table in layout.TABLES:
        if table not in written:
            files.append(file_entry(fs, write_table(db, fs, base, table, layout.table_schema(db, table))))
    return tree_size, root, files
