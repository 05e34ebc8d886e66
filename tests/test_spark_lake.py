"""spark verify (and the chunked Merkle root it relies on): the same leaves and root as the ledger, computed
on the executors; a row edited in the lake is named by its message."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from chataudit.importer import import_paths
from chataudit.lake.export import export_lake
from chataudit.ledger import Ledger, merkle
from chataudit.spark import merkle as spark_merkle
from chataudit.store import Archive

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@pytest.mark.parametrize("bits", [0, 1, 2, 3])
def test_chunked_root_is_the_rfc6962_root_for_every_size(bits: int) -> None:
    """Chunks of 2^bits leaves hashed apart (in any partition order) and joined on the driver."""
    leaves = [hashlib.sha256(str(i).encode()).digest() for i in range(70)]
    for size in range(0, 70):
        rows = list(enumerate(leaves[:size]))
        partitions = [[r for r in rows if (r[0] >> bits) % 3 == p] for p in (2, 0, 1)]
        chunks = [c for part in partitions for c in spark_merkle.subtrees(bits)(iter(part))]
        root, why = spark_merkle.join_chunks(chunks, size, bits)
        assert why is None and root == merkle.root(leaves[:size]), size


def test_a_missing_or_repeated_leaf_is_not_a_root() -> None:
    leaves = [hashlib.sha256(str(i).encode()).digest() for i in range(9)]
    rows = [r for r in enumerate(leaves) if r[0] != 5]
    root, why = spark_merkle.join_chunks(list(spark_merkle.subtrees(2)(iter(rows))), 9, 2)
    assert root is None and "not dense" in why


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sparklake")
    with Archive(folder / "a.db") as archive:
        import_paths(archive, [SAMPLES], tz="Asia/Shanghai")
        archive_messages = archive.db.execute("SELECT count(*) FROM messages").fetchone()[0]
        ledger = Ledger(archive)
        ledger.redact(3, ["text"], "test")  # a redaction and a purge are signed events, not damage
        ledger.purge(5, "test")
        export_lake(archive, str(folder / "lake"))
        root = ledger.latest_checkpoint().root.hex()
    return folder / "lake", archive_messages, root


def test_spark_verify_names_the_edited_row_and_nothing_else(spark, lake, tmp_path) -> None:
    """One row edited in the Parquet is named (message, fields); the signed redaction and purge are not
    damage; every other leaf and the root are recomputed and match."""
    from chataudit.spark.verify import verify_on_spark

    original, messages, root = lake
    path = tmp_path / "lake"
    shutil.copytree(original, path)
    target = next(f for f in sorted((path / "messages").rglob("*.parquet")) if "wecom" in str(f))
    table = pq.read_table(target)
    victim = table.column("id").to_pylist()[1]
    texts = table.column("text").to_pylist()
    texts[1] = texts[1] + " (edited)"
    pq.write_table(table.set_column(table.schema.get_field_index("text"), "text", pa.array(texts)), target)
    report = verify_on_spark(spark, str(path))
    assert not report["ok"]
    assert [(m["kind"], m["message"], m["fields"]) for m in report["mismatches"]] == [("modified", victim, ["text"])]
    assert [p["kind"] for p in report["problems"]] == ["messages"]
    assert report["checked"] == messages - 1  # the purged one has no row, its leaf stays
    assert report["root"] == report["signed_root"] == root  # the leaves themselves were not touched
