"""``lake export``: the archive as Parquet, batch by batch (never the whole archive in memory), with a
manifest signed under the archive's key and tied to the checkpoint it was exported under.

One read snapshot of the archive (a transaction) gives every table as of one instant. While the
ledger's leaves stream out, their tree head is recomputed and must be the latest checkpoint's root:
a lake is only ever exported from a ledger that matches its signed head.
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import Any, Iterable

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import ChatAuditError
from ..ledger.log import Ledger
from ..ledger.merkle import TreeBuilder
from ..ledger.note import sign
from . import layout

BATCH_ROWS = 65_536          # rows read from SQLite at a time
ROW_GROUP_ROWS = 131_072     # rows a partition buffers before it writes a row group
BUFFERED_ROWS = 1_048_576    # rows all partitions together may buffer; above it the biggest is written


def manifest_note(manifest_bytes: bytes, origin: str, tree_size: int, root: bytes) -> str:
    """The signed-note text that signs a manifest (its SHA-256) and names the checkpoint it is tied to."""
    import hashlib

    return (f"{layout.NOTE_HEADER}\n{origin}\n{tree_size}\n{base64.b64encode(root).decode()}\n"
            f"sha256 {hashlib.sha256(manifest_bytes).hexdigest()}\n")


class _Writer:
    """One Parquet file being written: rows counted, row groups of bounded size."""

    def __init__(self, fs, base: str, rel: str, table: str, schema: pa.Schema):
        self.rel, self.table, self.schema = rel, table, schema
        self.path = layout.join(base, rel)
        fs.create_dir(layout.join(base, rel.rsplit("/", 1)[0]), recursive=True)
        self.writer = pq.ParquetWriter(fs.open_output_stream(self.path), schema, compression="zstd")
        self.rows = 0
        self.pending: list[pa.RecordBatch] = []
        self.pending_rows = 0

    def add(self, batch: pa.RecordBatch) -> None:
        self.pending.append(batch)
        self.pending_rows += batch.num_rows

    def flush(self) -> None:
        if self.pending_rows:
            self.writer.write_table(pa.Table.from_batches(self.pending, self.schema), row_group_size=ROW_GROUP_ROWS)
            self.rows += self.pending_rows
        self.pending, self.pending_rows = [], 0

    def close(self) -> None:
        self.flush()
        self.writer.close()


def _batches(db: Any, table: str, schema: pa.Schema) -> Iterable[pa.RecordBatch]:
    cursor = db.cursor()
    cursor.row_factory = None
    columns = ", ".join(f'"{name}"' for name in schema.names)
    cursor.execute(f"SELECT {columns} FROM {table} ORDER BY {layout.TABLES[table]}")
    while rows := cursor.fetchmany(BATCH_ROWS):
        yield pa.RecordBatch.from_arrays(
            [pa.array([row[i] for row in rows], type=field.type) for i, field in enumerate(schema)], schema=schema)


def write_table(db: Any, fs, base: str, table: str, schema: pa.Schema, each_batch: Any = None) -> _Writer:
    """An unpartitioned table into ``<table>/part-00000.parquet``, streamed (``each_batch`` sees every batch)."""
    writer = _Writer(fs, base, f"{table}/part-00000.parquet", table, schema)
    for batch in _batches(db, table, schema):
        if each_batch is not None:
            each_batch(batch)
        writer.add(batch)
        if writer.pending_rows >= ROW_GROUP_ROWS:
            writer.flush()
    writer.close()
    return writer


def file_entry(fs, writer: _Writer) -> dict[str, Any]:
    """The manifest's entry of a written file (its SHA-256 read back from where it was written)."""
    sha256, size = layout.file_sha256(fs, writer.path)
    return {"path": writer.rel, "table": writer.table, "rows": writer.rows, "bytes": size, "sha256": sha256}


def _month(sent_at_ms: pa.Array) -> pa.Array:
    return pc.strftime(pc.cast(sent_at_ms, pa.timestamp("ms", tz="UTC")), format="%Y-%m")


def _export_messages(db: Any, fs, base: str, schema: pa.Schema) -> list[_Writer]:
    """Messages into platform=…/month=… partitions, one file each, rows in id order; memory bounded by
    BUFFERED_ROWS however many partitions there are."""
    writers: dict[tuple[str, str], _Writer] = {}
    buffered = 0
    for batch in _batches(db, "messages", schema):
        keys = pc.binary_join_element_wise(batch.column("platform"), _month(batch.column("sent_at_ms")), "\x00")
        for key in pc.unique(keys).to_pylist():
            platform, month = key.split("\x00")
            writer = writers.get((platform, month))
            if writer is None:
                rel = f"messages/platform={escape(platform)}/month={month}/part-00000.parquet"
                writer = writers[(platform, month)] = _Writer(fs, base, rel, "messages", schema)
            part = batch.filter(pc.equal(keys, key))
            writer.add(part)
            buffered += part.num_rows
            if writer.pending_rows >= ROW_GROUP_ROWS:
                buffered -= writer.pending_rows
                writer.flush()
        while buffered > BUFFERED_ROWS:
            biggest = max(writers.values(), key=lambda w: w.pending_rows)
            buffered -= biggest.pending_rows
            biggest.flush()
    for writer in writers.values():
        writer.close()
    return sorted(writers.values(), key=lambda w: w.rel)


def escape(value: str) -> str:
    """A partition value as a path segment (Hive's escaping of the characters a path cannot hold)."""
    return "".join(f"%{ord(c):02X}" if c in '"%/:=?\\#*[]^{}\n\r\t' or ord(c) < 0x20 else c for c in value)


def export_lake(archive: Any, out: str, *, key_path: str | None = None) -> dict[str, Any]:
    """Write the archive as a lake at ``out`` (which must not exist or be empty); returns the manifest."""
    fs, base = layout.filesystem(out)
    if any(True for _ in layout.walk_files(fs, base)):
        raise ChatAuditError(f"{out}: exists and is not empty; export a lake into a new folder")
    ledger = Ledger(archive, key_path)
    db = archive.db
    own = not db.in_transaction
    if own:
        db.execute("BEGIN")  # one snapshot: an import committing meanwhile is not half-exported
    try:
        checkpoint = ledger.latest_checkpoint()
        if checkpoint is None:
            raise ChatAuditError("the archive has no checkpoint yet (run `chataudit init`)")
        signer = ledger.signer()  # the archive's own key, refused if it is another one
        fs.create_dir(base, recursive=True)
        writers: list[_Writer] = []
        for table in layout.TABLES:
            schema = layout.table_schema(db, table)
            if table == "messages":
                writers.extend(_export_messages(db, fs, base, schema))
                continue
            tree = TreeBuilder() if table == "ledger_leaves" else None
            writers.append(write_table(db, fs, base, table, schema, None if tree is None else
                                       lambda batch: _check_leaves(tree, batch, checkpoint.tree_size)))
            if tree is not None and (tree.size != checkpoint.tree_size or tree.root() != checkpoint.root):
                raise ChatAuditError("the ledger does not match its latest signed checkpoint; not exporting "
                                     "(run `chataudit verify`)")
        schema_version = archive.schema_version
    finally:
        if own:
            db.execute("ROLLBACK")
    files = [file_entry(fs, writer) for writer in writers]
    manifest = make_manifest(files, schema_version, ledger.origin or signer.name, str(signer.verifier),
                             {"id": checkpoint.id, "tree_size": checkpoint.tree_size, "root": checkpoint.root.hex(),
                              "note": checkpoint.note})
    write_manifest(fs, base, manifest, signer, ledger.origin or signer.name, checkpoint.tree_size, checkpoint.root)
    return manifest


def make_manifest(files: list[dict[str, Any]], schema_version: int, origin: str, verifier_key: str,
                  checkpoint: dict[str, Any]) -> dict[str, Any]:
    """The manifest of a lake's files (in table order, then path), tied to a checkpoint."""
    order = list(layout.TABLES)
    files = sorted(files, key=lambda f: (order.index(f["table"]), f["path"]))
    return {
        "format": "chataudit-lake",
        "version": layout.LAKE_VERSION,
        "schema_version": schema_version,
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "origin": origin,
        "verifier_key": verifier_key,
        "checkpoint": checkpoint,
        "tables": {table: {"rows": sum(f["rows"] for f in files if f["table"] == table),
                           "files": sum(1 for f in files if f["table"] == table),
                           "partitioned_by": list(layout.PARTITIONED.get(table, ()))}
                   for table in layout.TABLES},
        "files": files,
    }


def write_manifest(fs, base: str, manifest: dict[str, Any], signer, origin: str, tree_size: int,
                   root: bytes) -> None:
    """manifest.json and its signed note manifest.sig (the manifest last of all the lake's files)."""
    raw = orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    with fs.open_output_stream(layout.join(base, layout.MANIFEST)) as stream:
        stream.write(raw)
    with fs.open_output_stream(layout.join(base, layout.SIGNATURE)) as stream:
        stream.write(sign(manifest_note(raw, origin, tree_size, root), signer).encode())


def _check_leaves(tree: TreeBuilder, batch: pa.RecordBatch, tree_size: int) -> None:
    """Feed the leaves below the checkpoint's size to the tree; their indexes must be dense."""
    idx = batch.column("idx").to_pylist()
    hashes = batch.column("leaf_hash").to_pylist()
    for i, value in zip(idx, hashes):
        if i != tree.size and i < tree_size:
            raise ChatAuditError(f"the ledger misses leaf {tree.size}; not exporting (run `chataudit verify`)")
        if i < tree_size:
            tree.append(value)
