"""`pii scan`: findings stored per message, incremental, scoped by conversation or person."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from chataudit.importer import import_paths
from chataudit.privacy import scan as scan_module
from chataudit.privacy.commands import pii, redact
from chataudit.privacy.scan import scan, update
from chataudit.store import Archive

PII = Path(__file__).parent / "fixtures" / "pii"


@pytest.fixture(autouse=True)
def keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "keys"
    monkeypatch.setenv("CHATAUDIT_KEYS", str(folder))
    return folder


@pytest.fixture
def loaded(archive: Archive) -> Archive:
    summary = import_paths(archive, [PII / "dispute.jsonl"], tz="Asia/Shanghai")
    assert not summary.errors
    return archive


def line_ids(archive: Archive) -> dict[int, int]:
    return {r["position"]: r["id"] for r in archive.db.execute("SELECT id, position FROM messages")}


def test_every_planted_value_is_found_with_its_type_and_no_decoy(loaded: Archive) -> None:
    result = scan(loaded)
    expected = json.loads((PII / "dispute.expected.json").read_text(encoding="utf-8"))
    ids = line_ids(loaded)
    got = sorted((f["message_id"], f["type"], f["value"]) for f in result.findings)
    assert got == sorted((ids[e["line"]], e["type"], e["value"]) for e in expected)
    texts = {r[0]: r[1] for r in loaded.db.execute("SELECT id, text FROM messages")}
    for finding in result.findings:
        assert texts[finding["message_id"]][finding["start"]:finding["end"]] == finding["value"]
        assert finding["sensitive"] == (finding["type"] in {"id_card", "bank_card", "passport", "travel_permit", "health"})
    for decoy in ("6217787789328792172", "522327199604155960", "SF1234567890123", "1710489600123", "13800.00"):
        holder = next(i for i, t in texts.items() if decoy in t)
        start = texts[holder].index(decoy)
        assert not [f for f in result.findings if f["message_id"] == holder
                    and f["start"] < start + len(decoy) and start < f["end"]], decoy
    assert result.counts["qq"] == 2 and result.counts["id_card"] == 1
    assert result.scanned == 10


def test_second_scan_reads_only_new_messages(loaded: Archive, tmp_path: Path) -> None:
    assert scan(loaded).scanned == 10
    again = scan(loaded)
    assert again.scanned == 0 and len(again.findings) == 17
    extra = tmp_path / "more.jsonl"
    extra.write_text(json.dumps({"sent_at": "2026-03-13T10:00:00+08:00", "conversation_id": "c2",
                                 "sender_name": "李四", "text": "我的手机13912345678"}, ensure_ascii=False) + "\n",
                     encoding="utf-8")
    import_paths(loaded, [extra], tz="Asia/Shanghai")
    third = scan(loaded)
    assert third.scanned == 1
    assert ("mobile", "13912345678") in {(f["type"], f["value"]) for f in third.findings}


def test_changed_text_is_scanned_again_and_deleted_messages_lose_findings(loaded: Archive) -> None:
    scan(loaded)
    ids = line_ids(loaded)
    loaded.db.execute("UPDATE messages SET text = '已清除' WHERE id = ?", (ids[3],))
    assert loaded.db.execute("SELECT count(*) FROM pii_findings WHERE message = ?", (ids[3],)).fetchone()[0] == 0
    loaded.db.execute("UPDATE messages SET text = '新号码13700001111' WHERE id = ?", (ids[4],))
    result = scan(loaded)
    assert result.scanned == 2
    assert [f["value"] for f in result.findings if f["message_id"] == ids[4]] == ["13700001111"]
    # the newest messages deleted: their ids may be given out again, so the mark falls back
    newest = max(ids.values())
    loaded.db.execute("DELETE FROM messages WHERE id = ?", (newest,))
    assert loaded.db.execute("SELECT count(*) FROM pii_findings WHERE message = ?", (newest,)).fetchone()[0] == 0
    assert loaded.db.execute("SELECT scanned_through FROM pii_scan_state").fetchone()[0] == newest - 1


def test_new_recognizer_version_rescans_everything(loaded: Archive, monkeypatch: pytest.MonkeyPatch) -> None:
    scan(loaded)
    monkeypatch.setattr(scan_module, "VERSION", "test-next")
    assert scan(loaded).scanned == 10
    assert loaded.db.execute("SELECT recognizers FROM pii_scan_state").fetchone()[0] == "test-next"


def test_update_commits_in_batches(loaded: Archive) -> None:
    seen = []
    assert update(loaded, progress=seen.append, batch=3) == 10
    assert seen == [3, 6, 9, 10]


def test_scope_by_conversation_person_and_types(loaded: Archive, tmp_path: Path) -> None:
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"sent_at": "2026-03-13T10:00:00+08:00", "conversation_id": "c2",
                                 "sender_name": "李四", "text": "李四的邮箱 lisi@example.com"},
                                ensure_ascii=False) + "\n", encoding="utf-8")
    import_paths(loaded, [other], tz="Asia/Shanghai")
    everything = scan(loaded)
    assert "lisi@example.com" in {f["value"] for f in everything.findings}
    one = scan(loaded, conversation="wxid_zhangwei88")
    assert "lisi@example.com" not in {f["value"] for f in one.findings} and len(one.findings) == 17
    typed = scan(loaded, types="id_card,bank_card")
    assert typed.counts == {"bank_card": 1, "id_card": 1}
    person = scan(loaded, person="generic:李四")
    assert [f["value"] for f in person.findings] == ["lisi@example.com"]
    with pytest.raises(Exception, match="unknown type"):
        scan(loaded, types="idcard")


@click.group()
@click.option("--db")
@click.pass_context
def root(ctx: click.Context, db: str) -> None:
    """How the CLI registers these commands: the root group puts the archive path in ctx.obj."""
    ctx.obj = {"db": db}


root.add_command(pii)
root.add_command(redact)


def test_cli_json_keys_and_errors(loaded: Archive) -> None:
    runner = CliRunner()
    db = str(loaded.path)
    out = runner.invoke(root, ["--db", db, "pii", "scan", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert set(data) == {"findings", "counts", "scanned", "seconds"}
    assert set(data["findings"][0]) == {"message_id", "type", "value", "start", "end", "sensitive"}
    table = runner.invoke(root, ["--db", db, "pii", "scan", "--types", "mobile"])
    assert table.exit_code == 0 and "138 0013 8000" in table.output
    bad = runner.invoke(root, ["--db", db, "pii", "scan", "--conversation", "nope"])
    assert bad.exit_code == 1 and "no conversation" in bad.output and "Traceback" not in bad.output
    types = runner.invoke(root, ["pii", "types", "--json"])
    assert {"type": "id_card", "label": "身份证", "sensitive": True, "validation": "checksum",
            "description": "居民身份证 (18 digits: region, birth date, MOD 11-2)"} in json.loads(types.output)
