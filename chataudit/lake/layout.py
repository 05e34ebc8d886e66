"""Where a lake's files are and what their columns are: the contract of :mod:`chataudit.lake` as code.

Paths go through pyarrow's filesystem layer (``pyarrow.fs``), so a lake may live on a local disk,
HDFS or an S3-compatible store, wherever pyarrow has a filesystem for the URI's scheme. Readers take
the files a table is made of from the signed manifest (:func:`table_files`), never from a listing of
the folder: a file slipped into a table's folder is then not read (and ``lake verify`` names it).
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from typing import Any, Iterator

import orjson
import pyarrow as pa
import pyarrow.fs as pafs

from ..errors import ChatAuditError

LAKE_VERSION = 1
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
RESULTS = "results"
NOTE_HEADER = "chataudit-lake-manifest/v1"

# table → the ORDER BY that makes its files' row order deterministic (the archive's key order)
TABLES: dict[str, str] = {
    "messages": "id",
    "conversations": "id",
    "sources": "id",
    "people": "id",
    "person_identities": "platform, sender_key",
    "sightings": "source, message",
    "ledger_leaves": "idx",
    "ledger_sightings": "source, leaf",
    "ledger_events": "leaf",
}
PARTITIONED = {"messages": ("platform", "month")}
CHUNK = 1 << 20  # bytes read at a time when hashing a file


def arrow_type(declared: str) -> pa.DataType:
    """The Parquet type of a column from its SQLite declared type (SQLite's affinity rules)."""
    name = declared.upper()
    if "INT" in name:
        return pa.int64()
    if any(word in name for word in ("CHAR", "CLOB", "TEXT")):
        return pa.string()
    if "BLOB" in name or not name:
        return pa.binary()
    if any(word in name for word in ("REAL", "FLOA", "DOUB")):
        return pa.float64()
    raise ChatAuditError(f"lake: column type {declared!r} has no Parquet mapping")


def table_schema(db: Any, table: str) -> pa.Schema:
    """The archive table's columns, same names and order, types mapped as the contract says."""
    columns = db.execute(f"PRAGMA table_info({table})").fetchall()
    if not columns:
        raise ChatAuditError(f"lake: the archive has no table {table} (an archive older than this chataudit?)")
    return pa.schema([pa.field(row[1], arrow_type(row[2] or "")) for row in columns])


def filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """(filesystem, path inside it) of a lake location: a local path, or any URI pyarrow knows
    (``s3://bucket/lake``, ``hdfs://namenode/lake``)."""
    if "://" in uri and not uri.startswith("file://"):
        try:
            return pafs.FileSystem.from_uri(uri)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as error:
            raise ChatAuditError(f"{uri}: cannot open this location ({error})") from None
    path = uri[len("file://"):] if uri.startswith("file://") else uri
    return pafs.LocalFileSystem(), os.path.abspath(os.path.expanduser(path))


def join(*parts: str) -> str:
    return posixpath.join(*parts)


def read_bytes(fs: pafs.FileSystem, path: str) -> bytes:
    try:
        with fs.open_input_stream(path) as stream:
            return stream.read()
    except (FileNotFoundError, OSError) as error:
        raise ChatAuditError(f"{path}: cannot be read ({error})") from None


def file_sha256(fs: pafs.FileSystem, path: str) -> tuple[str, int]:
    """SHA-256 (hex) and size of a file, streamed."""
    digest, size = hashlib.sha256(), 0
    with fs.open_input_stream(path) as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def load_manifest(uri: str) -> tuple[pafs.FileSystem, str, dict[str, Any], bytes]:
    """(filesystem, base path, manifest, its exact bytes) of a lake; a clear error when there is none."""
    fs, base = filesystem(uri)
    raw = read_bytes(fs, join(base, MANIFEST))
    try:
        manifest = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise ChatAuditError(f"{join(base, MANIFEST)}: not JSON ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != "chataudit-lake":
        raise ChatAuditError(f"{join(base, MANIFEST)}: not a chataudit lake manifest")
    if manifest.get("version") != LAKE_VERSION:
        raise ChatAuditError(f"{join(base, MANIFEST)}: lake version {manifest.get('version')!r}; "
                             f"this chataudit reads version {LAKE_VERSION}")
    return fs, base, manifest, raw


def table_files(manifest: dict[str, Any], base: str, table: str) -> list[str]:
    """The full paths of a table's files, as the manifest lists them (the only files to read)."""
    return [join(base, entry["path"]) for entry in manifest.get("files", []) if entry.get("table") == table]


def spark_paths(uri: str, manifest: dict[str, Any], table: str) -> list[str]:
    """A table's files as paths Spark reads (the lake's own scheme kept; a local path absolute)."""
    _, base = filesystem(uri)
    prefix = uri.split("://", 1)[0] + "://" if "://" in uri and not uri.startswith("file://") else "file://"
    if prefix != "file://":
        root = uri.rstrip("/")
        return [f"{root}/{entry['path']}" for entry in manifest.get("files", []) if entry.get("table") == table]
    return ["file://" + path for path in table_files(manifest, base, table)]


def walk_files(fs: pafs.FileSystem, base: str) -> Iterator[str]:
    """Every file under ``base``, relative to it (for finding files the manifest does not list)."""
    try:
        infos = fs.get_file_info(pafs.FileSelector(base, recursive=True))
    except (FileNotFoundError, OSError):
        return
    for info in infos:
        if info.type == pafs.FileType.File:
            yield posixpath.relpath(info.path, base)
