"""lake export / lake verify: Parquet that says exactly what the archive holds, signed, tied to the checkpoint,
and every way of editing the lake afterwards named by `lake verify`."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from chataudit.cli import cli
from chataudit.errors import ChatAuditError
from chataudit.importer import import_paths
from chataudit.lake import export as lake_export
from chataudit.lake import layout
from chataudit.lake.export import export_lake, write_manifest
from chataudit.lake.verify import verify_lake
from chataudit.ledger import Ledger
from chataudit.ledger.note import Signer
from chataudit.store import Archive
from conftest import both_stores
from store_tamper import tamper

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """An archive of the samples and its lake (made once for the module: tests copy the lake to edit it)."""
    folder = tmp_path_factory.mktemp("lake")
    db = folder / "a.db"
    with Archive(db) as archive:
        import_paths(archive, [SAMPLES], tz="Asia/Shanghai")
        export_lake(archive, str(folder / "lake"))
    return db, folder / "lake"


def _copy(lake: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(lake, target)
    return target


def _kinds(report: dict) -> list[str]:
    return sorted({p["kind"] for p in report["problems"]})


def test_the_lake_holds_every_row_of_the_archive_and_verifies(exported) -> None:
    db, lake = exported
    manifest = json.loads((lake / "manifest.json").read_text())
    with Archive(db) as archive:
        for table in layout.TABLES:
            rows = archive.db.execute(f"SELECT * FROM {table} ORDER BY {layout.TABLES[table]}").fetchall()
            files = layout.table_files(manifest, str(lake), table)
            lake_rows = [row for f in files for row in pq.read_table(f).to_pylist()]
            if table == "messages":
                lake_rows.sort(key=lambda r: r["id"])
            assert [tuple(r.values()) for r in lake_rows] == [tuple(r) for r in rows], table
            assert manifest["tables"][table]["rows"] == len(rows)
        checkpoint = Ledger(archive).latest_checkpoint()
    assert manifest["checkpoint"]["tree_size"] == checkpoint.tree_size
    assert manifest["checkpoint"]["root"] == checkpoint.root.hex()
    # messages by platform and month (UTC), each file's rows all of its partition
    for entry in manifest["files"]:
        if entry["table"] == "messages":
            platform, month = [part.split("=", 1)[1] for part in entry["path"].split("/")[1:3]]
            table = pq.read_table(lake / entry["path"])
            assert set(table.column("platform").to_pylist()) == {platform}
            assert {pa.compute.strftime(pa.compute.cast(table.column("sent_at_ms"), pa.timestamp("ms", tz="UTC")),
                                        format="%Y-%m").to_pylist()[i] for i in range(table.num_rows)} == {month}
        assert entry["sha256"] == hashlib.sha256((lake / entry["path"]).read_bytes()).hexdigest()
    report = verify_lake(str(lake))
    assert report["ok"] and report["leaves_checked"] == checkpoint.tree_size, report["problems"]


def test_small_batches_give_the_same_rows_in_several_row_groups(exported, tmp_path, monkeypatch) -> None:
    """The export streams: a batch at a time, row groups flushed as partitions fill, however small."""
    db, lake = exported
    monkeypatch.setattr(lake_export, "BATCH_ROWS", 7)
    monkeypatch.setattr(lake_export, "ROW_GROUP_ROWS", 10)
    monkeypatch.setattr(lake_export, "BUFFERED_ROWS", 12)
    with Archive(db) as archive:
        manifest = export_lake(archive, str(tmp_path / "small"))
    big = {f["path"]: f for f in json.loads((lake / "manifest.json").read_text())["files"]}
    for entry in manifest["files"]:
        assert pq.read_table(tmp_path / "small" / entry["path"]).equals(pq.read_table(lake / entry["path"]))
        assert entry["rows"] == big[entry["path"]]["rows"]
    groups = pq.ParquetFile(tmp_path / "small" / "sightings" / "part-00000.parquet").metadata.num_row_groups
    assert groups > 1
    assert verify_lake(str(tmp_path / "small"))["ok"]


def test_an_edited_row_is_named_by_its_file(exported, tmp_path) -> None:
    lake = _copy(exported[1], tmp_path)
    target = next((lake / "messages").rglob("*.parquet"))
    table = pq.read_table(target)
    texts = table.column("text").to_pylist()
    texts[0] = "changed"
    pq.write_table(table.set_column(table.schema.get_field_index("text"), "text", pa.array(texts)), target)
    report = verify_lake(str(lake))
    assert not report["ok"]
    assert [(p["kind"], p["path"]) for p in report["problems"]] == [("file_hash", str(target.relative_to(lake)))]


def test_a_file_slipped_in_a_deleted_file_and_edited_counts_are_named(exported, tmp_path) -> None:
    lake = _copy(exported[1], tmp_path)
    shutil.copy(lake / "sources" / "part-00000.parquet", lake / "sources" / "part-00001.parquet")
    (lake / "people" / "part-00000.parquet").unlink()
    report = verify_lake(str(lake))
    assert _kinds(report) == ["missing_file", "unlisted_file"]
    assert {p["path"] for p in report["problems"]} >= {"sources/part-00001.parquet", "people/part-00000.parquet"}


def test_an_edited_manifest_no_longer_matches_its_signature(exported, tmp_path) -> None:
    lake = _copy(exported[1], tmp_path)
    manifest = json.loads((lake / "manifest.json").read_text())
    manifest["tables"]["messages"]["rows"] -= 1
    (lake / "manifest.json").write_text(json.dumps(manifest))
    assert "manifest_signature" in _kinds(verify_lake(str(lake)))


def test_a_lake_re_signed_by_another_key_fails_against_the_pinned_key(exported, tmp_path) -> None:
    """An attacker rewrites rows, rehashes every file and re-signs the manifest with a key of their own
    (putting their key in it): only a pinned key (--pubkey) tells."""
    db, original = exported
    lake = _copy(original, tmp_path)
    manifest = json.loads((lake / "manifest.json").read_text())
    leaves_file = lake / "ledger_leaves" / "part-00000.parquet"
    table = pq.read_table(leaves_file)
    hashes = table.column("leaf_hash").to_pylist()
    hashes[1] = hashlib.sha256(b"forged").digest()
    pq.write_table(table.set_column(table.schema.get_field_index("leaf_hash"), "leaf_hash",
                                    pa.array(hashes, pa.binary())), leaves_file)
    for entry in manifest["files"]:
        entry["sha256"], entry["bytes"] = layout.file_sha256(*layout.filesystem(str(lake / entry["path"])))
    from chataudit.ledger.merkle import root

    forged_root = root(hashes)
    attacker = Signer.generate("attacker")
    from chataudit.ledger.note import Checkpoint, sign

    manifest["checkpoint"]["root"] = forged_root.hex()
    manifest["checkpoint"]["note"] = sign(Checkpoint(manifest["origin"], len(hashes), forged_root).text(), attacker)
    manifest["verifier_key"] = str(attacker.verifier)
    fs, base = layout.filesystem(str(lake))
    write_manifest(fs, base, manifest, attacker, manifest["origin"], len(hashes), forged_root)
    assert verify_lake(str(lake))["ok"]  # self-consistent under the attacker's own key …
    with Archive(db) as archive:
        pinned = Ledger(archive).recorded_verifier()
    report = verify_lake(str(lake), verifier=pinned)  # … not under the archive's
    assert _kinds(report) == ["checkpoint_signature", "manifest_signature"]


def test_cli_export_refuses_a_non_empty_folder_and_verify_exits_1_on_damage(exported, tmp_path) -> None:
    db, original = exported
    runner = CliRunner()
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    result = runner.invoke(cli, ["--db", str(db), "lake", "export", "--out", str(tmp_path / "busy")])
    assert result.exit_code == 1 and "not empty" in result.output and "Traceback" not in result.output
    result = runner.invoke(cli, ["--db", str(db), "lake", "export", "--out", str(tmp_path / "l2"), "--json"])
    assert result.exit_code == 0, result.output
    summary = orjson.loads(result.output)
    assert set(summary) == {"lake", "files", "rows", "tree_size", "root", "verifier_key"}
    result = runner.invoke(cli, ["lake", "verify", str(tmp_path / "l2"), "--json"])
    assert result.exit_code == 0 and orjson.loads(result.output)["ok"]
    (tmp_path / "l2" / "manifest.sig").write_text("nothing\n")
    result = runner.invoke(cli, ["lake", "verify", str(tmp_path / "l2")])
    assert result.exit_code == 1 and "manifest_signature" in result.output
    result = runner.invoke(cli, ["lake", "verify", str(tmp_path / "nowhere")])
    assert result.exit_code == 1 and "cannot be read" in result.output and "Traceback" not in result.output


def test_export_refuses_a_ledger_that_does_not_match_its_checkpoint(tmp_path) -> None:
    with Archive(tmp_path / "a.db") as archive:
        import_paths(archive, [SAMPLES / "wecom_archive.jsonl"])
        tamper(tmp_path / "a.db", "DROP TRIGGER ledger_leaves_no_update",
               "UPDATE ledger_leaves SET leaf_hash = zeroblob(32) WHERE idx = 1")
        with pytest.raises(ChatAuditError, match="does not match its latest signed checkpoint"):
            export_lake(archive, str(tmp_path / "lake"))


def test_export_is_refused_in_enterprise_mode(tmp_path) -> None:
    from chataudit.governance import set_mode

    db = tmp_path / "a.db"
    with Archive(db) as archive:
        import_paths(archive, [SAMPLES / "wecom_archive.jsonl"])
        set_mode(archive, "enterprise", operator="admin")
    result = CliRunner().invoke(cli, ["--db", str(db), "--operator", "admin", "lake", "export", "--out",
                                      str(tmp_path / "lake")])
    assert result.exit_code != 0 and "enterprise mode" in result.output
    assert not (tmp_path / "lake").exists()


@both_stores
def test_export_reads_either_store_with_the_same_schema_and_verifies(new_archive, tmp_path) -> None:
    """PostgreSQL's archive gives the lake SQLite's: same tables, columns and Parquet types, every row."""
    with Archive(tmp_path / "reference.db") as reference:
        expected = {table: layout.table_schema(reference.db, table) for table in layout.TABLES}
    with Archive(new_archive("a.db")) as archive:
        import_paths(archive, [SAMPLES / "wecom_archive.jsonl"], tz="Asia/Shanghai")
        manifest = export_lake(archive, str(tmp_path / "lake"))
        for table in layout.TABLES:
            assert layout.table_schema(archive.db, table) == expected[table], table
            rows = archive.db.execute(f"SELECT * FROM {table} ORDER BY {layout.TABLES[table]}").fetchall()
            order = [c.strip() for c in layout.TABLES[table].split(",")]
            lake_rows = sorted((row for f in layout.table_files(manifest, str(tmp_path / "lake"), table)
                                for row in pq.read_table(f).to_pylist()), key=lambda r: [r[c] for c in order])
            assert [tuple(r.values()) for r in lake_rows] == [tuple(r) for r in rows], table
    assert manifest["tables"]["messages"]["rows"] > 0
    assert verify_lake(str(tmp_path / "lake"))["ok"]
