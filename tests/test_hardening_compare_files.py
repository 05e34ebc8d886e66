"""compare and check read an export file given directly without importing it (issue #11), and
exit as diff(1) does: 0 same / no anomaly, 1 differences / anomalies, 2 error."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from chataudit.cli import cli
from chataudit.store import Archive

FIXTURES = Path(__file__).parent / "fixtures"
WANG = FIXTURES / "compare" / "wang_phone.csv"
SHOP = FIXTURES / "compare" / "shop_console.jsonl"


def run(db: Path, *args: str):
    return CliRunner().invoke(cli, ["--db", str(db), *args], catch_exceptions=False)


def state(db: Path) -> tuple[str, dict[str, int]]:
    """The archive file's bytes (SHA-256) and its row counts."""
    with sqlite3.connect(db) as connection:
        counts = {table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                  for table in ("sources", "messages", "sightings", "conversations", "ledger_leaves",
                                "ledger_checkpoints")}
    return hashlib.sha256(db.read_bytes()).hexdigest(), counts


@pytest.fixture
def mine(tmp_path: Path) -> Path:
    db = tmp_path / "mine.db"
    assert run(db, "import", str(WANG), "--tz", "Asia/Shanghai", "--label", "wang-phone").exit_code == 0
    return db


def edited_copy(tmp_path: Path) -> Path:
    """The user's own export with one amount changed: what an opponent might hand over."""
    text = WANG.read_text(encoding="utf-8-sig").replace("全额退款1299元", "全额退款129元")
    edited = tmp_path / "handed_over.csv"
    edited.write_text(text, encoding="utf-8")
    return edited


def test_comparing_with_a_file_leaves_the_archive_untouched(mine: Path, tmp_path: Path) -> None:
    edited = edited_copy(tmp_path)
    before = state(mine)
    first = run(mine, "compare", "wang-phone", str(edited), "--json")
    assert first.exit_code == 1, first.output
    report = json.loads(first.output)
    assert report["verdict"].startswith("DIFFERENT") and len(report["altered"]) == 1
    assert report["copies"][1]["sources"][0]["id"] is None  # not a source of the archive
    assert report["altered"][0]["b"]["id"] is None
    assert state(mine) == before
    # the same comparison again gives the same verdict (before: the edited copy had been merged)
    again = json.loads(run(mine, "compare", "wang-phone", str(edited), "--json").output)
    assert again["verdict"] == report["verdict"] and again["summary"] == report["summary"]
    # and the user's own copy still checks clean: no duplicate ids from a merged edited copy
    checked = json.loads(run(mine, "check", "wang-phone", "--json").output)
    assert not [s for s in checked["signals"] if s["check"] == "duplicate_ids"]
    assert state(mine) == before
    # the conversation both copies hold is named by the archive's id
    assert report["copies"][1]["conversation"]["id"] == report["copies"][0]["conversation"]["id"]


def test_keep_imports_the_file_as_its_own_labelled_source_and_says_so(mine: Path, tmp_path: Path) -> None:
    edited = edited_copy(tmp_path)
    result = CliRunner().invoke(cli, ["--db", str(mine), "compare", "wang-phone", str(edited),
                                                      "--keep", "--json"])
    assert result.exit_code == 1, result.output
    assert "kept" in result.stderr and "labelled 'handed_over.csv'" in result.stderr
    with Archive(mine) as archive:
        assert [s["label"] for s in archive.sources()] == ["wang-phone", "handed_over.csv"]
    kept = json.loads(run(mine, "compare", "wang-phone", "handed_over.csv", "--json").output)
    assert len(kept["altered"]) == 1 and kept["copies"][1]["sources"][0]["id"] == 2


def test_a_file_given_at_a_conversation_is_read_without_importing(tmp_path: Path) -> None:
    db = tmp_path / "many.db"
    export = tmp_path / "two_chats.jsonl"
    export.write_text("".join(
        json.dumps({"sent_at": f"2026-03-0{day}T10:00:00+08:00", "conversation_id": chat, "sender_name": "甲",
                    "text": f"{chat} 第{day}条"}, ensure_ascii=False) + "\n"
        for chat in ("chat-1", "chat-2") for day in (1, 2, 3)), encoding="utf-8")
    assert run(db, "import", str(WANG), "--tz", "Asia/Shanghai").exit_code == 0
    before = state(db)
    result = run(db, "compare", f"{export}@chat-1", f"{export}@generic:chat-1", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["matched"] == 3
    assert state(db) == before


def test_compare_exit_codes_as_diff(mine: Path, tmp_path: Path) -> None:
    assert run(mine, "compare", "wang-phone", "wang-phone").exit_code == 0
    assert run(mine, "compare", "wang-phone", str(SHOP)).exit_code == 1
    assert run(mine, "compare", "wang-phone", str(SHOP), str(SHOP), "--json").exit_code == 1  # matrix
    missing = run(mine, "compare", "wang-phone", "no-such-copy")
    assert missing.exit_code == 2 and "no copy 'no-such-copy'" in missing.output
    assert run(mine, "compare", "wang-phone").exit_code == 2  # usage
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"sent_at": "2026-03-01T10:00:00+08:00", "text": "a"}\n{"sent_at": \n', encoding="utf-8")
    failed = run(mine, "compare", "wang-phone", str(broken))
    assert failed.exit_code == 2 and "broken.jsonl" in failed.output and "Traceback" not in failed.output
    unwritable = run(mine, "compare", "wang-phone", "wang-phone", "--html", str(tmp_path / "no" / "dir" / "r.html"))
    assert unwritable.exit_code == 2 and "Traceback" not in unwritable.output


def test_check_exit_codes_as_diff(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    assert run(db, "import", str(FIXTURES / "check" / "clean_wechat.jsonl"), "--tz", "Asia/Shanghai").exit_code == 0
    assert run(db, "import", str(FIXTURES / "check" / "tampered_wechat.jsonl"), "--tz", "Asia/Shanghai").exit_code == 0
    clean = run(db, "check", "1")
    assert clean.exit_code == 0 and "no anomaly found" in clean.output
    tampered = run(db, "check", "2")
    assert tampered.exit_code == 1 and "anomalies found" in tampered.output
    missing = run(db, "check", "no-such-source")
    assert missing.exit_code == 2 and "no source or conversation" in missing.output


def test_check_reads_a_file_not_in_the_archive_without_importing_it(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    assert run(db, "import", str(FIXTURES / "check" / "clean_wechat.jsonl"), "--tz", "Asia/Shanghai").exit_code == 0
    before = state(db)
    result = run(db, "check", str(FIXTURES / "check" / "tampered_wechat.jsonl"), "--tz", "Asia/Shanghai", "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert report["scope"]["kind"] == "file" and "not in the archive" in report["scope"]["description"]
    assert report["source"]["id"] is None and report["source"]["sha256_matches_file"] is True
    assert any(s["check"] == "duplicate_ids" for s in report["signals"])
    assert all(m["id"] is None for s in report["signals"] for m in s["messages"])
    assert state(db) == before
    text = run(db, "check", str(FIXTURES / "check" / "tampered_wechat.jsonl"), "--tz", "Asia/Shanghai")
    assert "(not imported)" in text.output and "Traceback" not in text.output


def test_enterprise_mode_refusal_is_an_error_2_and_a_file_needs_no_authorization(tmp_path: Path) -> None:
    governance = FIXTURES / "governance"
    db = tmp_path / "g.db"
    for args in (["import", str(governance / "staff_chats.csv"), "--tz", "Asia/Shanghai"],
                 ["roster", "set", str(governance / "roster.csv")], ["init", "--mode", "enterprise"]):
        assert run(db, *args).exit_code == 0
    refused = run(db, "compare", "dingtalk:team-1", "dingtalk:dm-e002")
    assert refused.exit_code == 2 and "not authorized" in refused.output
    assert run(db, "check", "conversation:dingtalk:team-1").exit_code == 2
    # a file that is not in the archive reads nothing of it: no authorization is needed
    checked = run(db, "check", str(FIXTURES / "check" / "clean_wechat.jsonl"), "--tz", "Asia/Shanghai")
    assert checked.exit_code == 0 and "not authorized" not in checked.output


def test_readme_documents_the_exit_codes_these_tests_check() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert "## Exit codes" in readme
    assert "| `compare` | the copies are identical | differences found | error" in readme
    assert "| `check` | no anomaly found | anomalies found | error" in readme


def test_enterprise_trail_records_a_finding_as_ok_and_a_refusal_as_refused(tmp_path: Path) -> None:
    """Exit 1 of compare/check is a finding, not a failure: the audit trail must not call it an error."""
    governance = FIXTURES / "governance"
    db = tmp_path / "g.db"
    for args in (["import", str(governance / "staff_chats.csv"), "--tz", "Asia/Shanghai"],
                 ["roster", "set", str(governance / "roster.csv")], ["init", "--mode", "enterprise"]):
        assert run(db, *args).exit_code == 0
    found = run(db, "check", str(FIXTURES / "check" / "tampered_wechat.jsonl"), "--tz", "Asia/Shanghai")
    assert found.exit_code == 1, found.output
    trail = json.loads(run(db, "audit", "--command", "check", "--json").output)
    finished = [entry for entry in trail if entry["outcome"] != "started"]
    assert finished and finished[-1]["outcome"] == "ok" and finished[-1]["exit_code"] == 1
