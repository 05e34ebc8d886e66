"""spark import: the lake Spark builds from a set of files holds the same messages, conversations, sources,
sightings and leaves as the archive `chataudit import` builds from the same files in the same order, and
its tree is the archive's tree once the archive's random salts and import time are put in (the ordering
rule of chataudit.spark.ingest)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from chataudit.cli import cli
from chataudit.formats import line_spans
from chataudit.importer import import_paths
from chataudit.lake.verify import verify_lake
from chataudit.ledger import Ledger, leaves as L, merkle
from chataudit.spark.ingest import derive_salts
from chataudit.store import Archive
from spans_support import chat_jsonl

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLES = Path(__file__).resolve().parent.parent / "samples"
TZ = "Asia/Shanghai"

CHAT_1 = """12/03/2026, 09:15 - Alice: Morning!
12/03/2026, 09:16 - Bob: ok
12/03/2026, 09:16 - Bob: ok
12/03/2026, 09:17 - Alice: Refund of 50.00 for order 1234?
12/03/2026, 09:18 - Bob: Done, see attached
"""
# the same chat exported later by the other party: an overlap (duplicates, sightings) and new messages
CHAT_2 = CHAT_1.splitlines(keepends=True)[2] + CHAT_1.splitlines(keepends=True)[3] + \
    "12/03/2026, 09:20 - Alice: Thanks\n12/03/2026, 09:20 - Alice: Thanks\n12/03/2026, 09:21 - Bob: ok\n"


def _files(folder: Path) -> list[str]:
    (folder / "WhatsApp Chat with Bob.txt").write_text(CHAT_1, encoding="utf-8")
    (folder / "WhatsApp Chat with Alice.txt").write_text(CHAT_2, encoding="utf-8")
    shutil.copy(folder / "WhatsApp Chat with Bob.txt", folder / "WhatsApp Chat with Bob (copy).txt")
    shutil.copy(FIXTURES / "whatsapp" / "WhatsApp Chat with Cut.txt", folder / "WhatsApp Chat with Cut.txt")
    shutil.copytree(FIXTURES / "email" / "threads", folder / "threads")  # e-mail threads: conversation aliases
    return [str(folder / "WhatsApp Chat with Bob.txt"), str(folder / "WhatsApp Chat with Alice.txt"),
            str(folder / "WhatsApp Chat with Bob (copy).txt"), str(folder / "WhatsApp Chat with Cut.txt"),
            str(folder / "threads"), str(SAMPLES / "wecom_archive.jsonl")]


@pytest.fixture(scope="module")
def both(tmp_path_factory, spark):
    """The same files imported by `chataudit import` into an archive and by `spark import` into a lake."""
    from chataudit.spark.ingest import import_on_spark

    folder = tmp_path_factory.mktemp("spark_import")
    paths = _files(folder)
    with Archive(folder / "a.db") as archive:
        expected = import_paths(archive, paths, tz=TZ).as_dict()
    result = import_on_spark(spark, paths, str(folder / "lake"), key_path=str(folder / "lake.key"), tz=TZ)
    return folder / "a.db", folder / "lake", expected, result


def _lake_rows(lake: Path, table: str) -> list[dict]:
    manifest = json.loads((lake / "manifest.json").read_text())
    return [row for entry in manifest["files"] if entry["table"] == table
            for row in pq.read_table(lake / entry["path"]).to_pylist()]


def _archive_rows(db: Path, table: str, order: str) -> list[dict]:
    with Archive(db) as archive:
        return [dict(row) for row in archive.db.execute(f"SELECT * FROM {table} ORDER BY {order}")]


def _without(rows: list[dict], *names: str) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in names} for row in rows]


def test_the_summary_is_the_one_import_gives(both) -> None:
    _db, _lake, expected, result = both
    for key in ("files", "messages", "new", "duplicates", "already_imported", "skipped", "errors", "failed", "sources"):
        assert result[key] == expected[key], key
    assert expected["duplicates"] > 0 and expected["already_imported"] == 1 and len(expected["errors"]) == 1


@pytest.mark.parametrize("table, order, random", [
    ("messages", "id", ()), ("conversations", "id", ()), ("sources", "id", ("imported_at",)),
    ("sightings", "source, message", ()), ("ledger_leaves", "idx", ("leaf_hash", "salts", "fields")),
    ("ledger_sightings", "source, leaf", ("hash", "salt")),
])
def test_the_lake_holds_what_the_archive_holds(both, table: str, order: str, random: tuple[str, ...]) -> None:
    db, lake, _, _ = both
    keys = [k.strip() for k in order.split(",")]
    lake_rows = sorted(_lake_rows(lake, table), key=lambda r: [r[k] for k in keys])
    archive_rows = _archive_rows(db, table, order)
    assert len(lake_rows) == len(archive_rows) > 0
    assert _without(lake_rows, *random) == _without(archive_rows, *random)


def test_leaves_without_randomness_are_byte_equal_and_the_root_is_the_archives_under_its_salts(both) -> None:
    """Leaf i is the same record in both: conversations leaves are equal as they are; the tree rebuilt
    from the lake's rows with the archive's salts and import time is the archive's signed tree."""
    db, lake, _, _ = both
    archive_leaves = {r["idx"]: r for r in _archive_rows(db, "ledger_leaves", "idx")}
    lake_leaves = {r["idx"]: r for r in _lake_rows(lake, "ledger_leaves")}
    conversations = [i for i, r in archive_leaves.items() if r["kind"] == L.CONVERSATIONS]
    assert conversations and all(lake_leaves[i]["leaf_hash"] == archive_leaves[i]["leaf_hash"] for i in conversations)

    sources = {r["id"]: r for r in _lake_rows(lake, "sources")}
    archive_sources = {r["id"]: r for r in _archive_rows(db, "sources", "id")}
    natives = {r["id"]: r["native_id"] for r in _lake_rows(lake, "conversations")}
    messages = {r["id"]: r for r in _lake_rows(lake, "messages")}
    archive_sighting_salts = {(r["source"], r["leaf"]): r["salt"] for r in _archive_rows(db, "ledger_sightings", "source")}
    leaf_of = {r["ref"]: i for i, r in lake_leaves.items() if r["kind"] == L.MESSAGE}
    sightings = _lake_rows(lake, "sightings")
    rebuilt = []
    for idx in range(len(lake_leaves)):
        leaf = lake_leaves[idx]
        if leaf["kind"] == L.SOURCE:
            row = dict(sources[leaf["ref"]], imported_at=archive_sources[leaf["ref"]]["imported_at"])
            data = L.source_leaf([row[c.strip()] for c in L.SOURCE_COLUMNS.split(",")])
        elif leaf["kind"] == L.MESSAGE:
            row = messages[leaf["ref"]]
            data = L.message_leaf([row[c.strip()[2:]] for c in L.MESSAGE_COLUMNS.split(",")], natives[row["conversation"]],
                                  sources[row["source"]]["sha256"], archive_leaves[idx]["salts"].hex())
        elif leaf["kind"] == L.SIGHTINGS:
            pairs = [(leaf_of[s["message"]], L.sighting_hash(
                (leaf_of[s["message"]], s["message"], s["position"], s["sender_name"], s["utc_offset_min"],
                 s["edited_at_ms"], s["message_id"], s["extras"]), archive_sighting_salts[(s["source"], leaf_of[s["message"]])]))
                for s in sightings if s["source"] == leaf["ref"]]
            data = L.sightings_leaf(sources[leaf["ref"]]["sha256"], pairs)
        else:
            rebuilt.append(leaf["leaf_hash"])
            continue
        rebuilt.append(merkle.leaf_hash(data))
    with Archive(db) as archive:
        signed = Ledger(archive).latest_checkpoint()
    assert len(rebuilt) == signed.tree_size and merkle.root(rebuilt) == signed.root


def test_the_spark_lake_verifies_by_itself_and_on_spark(both, spark) -> None:
    from chataudit.spark.verify import verify_on_spark

    _db, lake, _, result = both
    report = verify_lake(str(lake))
    assert report["ok"], report["problems"]
    assert report["root"] == result["root"]
    on_spark = verify_on_spark(spark, str(lake))
    assert on_spark["ok"] and on_spark["checked"] == result["new"], on_spark["problems"]


def test_salts_are_derived_per_leaf_and_differ_per_seed() -> None:
    seed, other = bytes(32), bytes([1]) * 32
    assert len(derive_salts(seed, b"message:7", 5)) == 5 * L.SALT_BYTES
    assert derive_salts(seed, b"message:7", 5) == derive_salts(seed, b"message:7", 5)
    assert derive_salts(seed, b"message:7", 5)[:16] != derive_salts(seed, b"message:8", 5)[:16]
    assert derive_salts(seed, b"message:7", 1) != derive_salts(other, b"message:7", 1)
    assert hashlib.sha256(derive_salts(seed, b"message:7", 4)).digest() != hashlib.sha256(bytes(64)).digest()


def test_cli_spark_import_exits_1_when_a_file_fails_and_refuses_a_used_folder(both, tmp_path) -> None:
    _db, lake, _, _ = both
    runner = CliRunner()
    result = runner.invoke(cli, ["spark", "import", str(FIXTURES / "whatsapp" / "WhatsApp Chat with Cut.txt"),
                                 "--lake", str(lake), "--key", str(tmp_path / "k")])
    assert result.exit_code == 1 and "not empty" in result.output and "Traceback" not in result.output


# ---- a large JSON Lines file parsed in spans, one task each ------------------------------------------

def _straddling(path: Path) -> int:
    """A span size near 2 kB at which some span starts inside a run of identical 好的 (so their
    occurrence numbers must be counted across the tasks)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    for size in range(2_000, 3_000, 7):
        spans, _, _ = line_spans(path, size)
        if any("好的" in lines[s.first_line - 2] and "好的" in lines[s.first_line - 1] for s in spans[1:]):
            return size
    raise AssertionError("no span size cuts a run")


@pytest.fixture(scope="module")
def spanned(tmp_path_factory, spark):
    """JSON Lines files imported by `chataudit import` and by `spark import` with spans of 2 kB: a chat,
    its later re-export (overlap: duplicates across files), and a file cut by a bad line far in."""
    from chataudit.spark.ingest import import_on_spark

    folder = tmp_path_factory.mktemp("spark_spans")
    (folder / "chat.jsonl").write_text(chat_jsonl(300), encoding="utf-8")
    (folder / "later.jsonl").write_text(chat_jsonl(200, start=200), encoding="utf-8")
    bad = chat_jsonl(150).splitlines()
    bad[120] = bad[120][:-5]  # cut in the middle of a line
    (folder / "bad.jsonl").write_text("\n".join(bad) + "\n", encoding="utf-8")
    paths = [str(folder / n) for n in ("chat.jsonl", "bad.jsonl", "later.jsonl")]
    with Archive(folder / "a.db") as archive:
        expected = import_paths(archive, paths, tz=TZ).as_dict()
    span_bytes = _straddling(folder / "chat.jsonl")
    result = import_on_spark(spark, paths, str(folder / "lake"), key_path=str(folder / "lake.key"), tz=TZ,
                             split_bytes=span_bytes)
    return folder / "a.db", folder / "lake", expected, result, paths, span_bytes


def test_a_large_jsonl_file_is_cut_into_spans_of_whole_lines(spanned) -> None:
    from chataudit.spark.ingest import _pieces

    *_, paths, span_bytes = spanned
    pieces = _pieces((0, paths[0], "chat.jsonl", True), "auto", span_bytes)
    assert len(pieces) > 5 and all(p[4].span.end - p[4].span.start >= span_bytes for p in pieces[:-1])
    assert [p[4].index for p in pieces] == list(range(len(pieces)))
    assert pieces[0][4].sha256 == hashlib.sha256(Path(paths[0]).read_bytes()).hexdigest()
    assert _pieces((0, paths[0], "chat.jsonl", True), "auto", 10**9)[0][4] is None  # small: one task


def test_spans_give_the_summary_and_the_error_line_import_gives(spanned) -> None:
    _db, _lake, expected, result, _, _ = spanned
    for key in ("files", "messages", "new", "duplicates", "errors", "failed", "sources"):
        assert result[key] == expected[key], key
    assert expected["duplicates"] > 0 and len(expected["errors"]) == 1 and "bad.jsonl:121" in expected["errors"][0]


@pytest.mark.parametrize("table, order, random", [
    ("messages", "id", ()), ("conversations", "id", ()), ("sightings", "source, message", ()),
    ("ledger_leaves", "idx", ("leaf_hash", "salts", "fields")), ("ledger_sightings", "source, leaf", ("hash", "salt")),
])
def test_a_lake_from_spans_holds_what_the_archive_holds(spanned, table: str, order: str, random: tuple[str, ...]) -> None:
    db, lake, _, _, _, _ = spanned
    keys = [k.strip() for k in order.split(",")]
    lake_rows = sorted(_lake_rows(lake, table), key=lambda r: [r[k] for k in keys])
    archive_rows = _archive_rows(db, table, order)
    assert len(lake_rows) == len(archive_rows) > 0
    assert _without(lake_rows, *random) == _without(archive_rows, *random)
    if table == "messages":  # the identical 好的 at one instant were numbered across span boundaries
        assert max(r["occurrence"] for r in lake_rows) == 2


def test_a_lake_from_spans_verifies(spanned) -> None:
    _db, lake, _, result, _, _ = spanned
    report = verify_lake(str(lake))
    assert report["ok"], report["problems"]
    assert report["root"] == result["root"]
