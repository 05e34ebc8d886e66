"""Retention rules, runs that purge through the ledger, legal holds, and tombstones under verify."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from chataudit.errors import ChatAuditError
from chataudit.governance import retention
from chataudit.ledger import Ledger
from chataudit.ledger.verify import verify_archive
from chataudit.store import Archive
from conftest import both_stores
from store_tamper import copy_archive
from test_governance import CHATS, ROSTER, TEAM, WECOM, entries, run, tamper

AS_OF = "2026-04-01"
# dingtalk keeps 2 years: before 2024-04-01 goes; every other platform is kept
OLD_DINGTALK = {"周五前交付第一版", "没问题，我负责测试", "今日打卡提醒", "合同放在共享盘了", "好的"}


@pytest.fixture
def db(new_archive) -> Path:
    path = new_archive("r.db")  # a file; a PostgreSQL database for the tests marked both_stores
    run(path, "import", str(CHATS), "--tz", "Asia/Shanghai", "--label", "hr-export")
    run(path, "roster", "set", str(ROSTER))
    run(path, "retention", "set", "dingtalk", "2y")
    run(path, "retention", "set", "default", "keep")
    return path


def texts_of(db: Path, ids) -> set[str]:
    with Archive(db) as archive:
        marks = ",".join("?" * len(ids))
        return {r[0] for r in archive.db.execute(f"SELECT text FROM messages WHERE id IN ({marks})", list(ids))}


def plan(db: Path, *args: str) -> dict:
    return json.loads(run(db, "retention", "apply", "--as-of", AS_OF, "--json", *args).output)


def test_rules_are_listed_most_specific_first(db: Path) -> None:
    run(db, "retention", "set", "label:hr-export", "5y")
    run(db, "retention", "set", f"conversation:{WECOM}", "keep")
    rules = json.loads(run(db, "retention", "show", "--json").output)
    assert [(r["selector"], r["keep"]) for r in rules] == [
        ("conversation:1", "keep"), ("label:hr-export", "5y"), ("platform:dingtalk", "2y"), ("default", "keep")]
    assert "use keep or a duration" in run(db, "retention", "set", "wechat", "two years", ok=False).output


def test_dry_run_lists_exactly_the_old_messages_of_the_covered_platform(db: Path) -> None:
    result = plan(db, "--dry-run")
    assert result["dry_run"] and result["purged"] == 0
    assert {item["platform"] for item in result["purge"]} == {"dingtalk"}
    assert texts_of(db, [i["message"] for i in result["purge"]]) == OLD_DINGTALK
    first = result["purge"][0]
    assert first["rule"] == "platform:dingtalk" and first["keep"] == "2y"
    assert first["reason"] == "retention platform:dingtalk keeps 2y: sent before 2024-04-01T00:00:00+08:00"
    # the 2023 WeChat chat is kept by `default: keep`; nothing was deleted
    with Archive(db) as archive:
        assert archive.stats()["messages"] == 14
    (entry,) = entries(db, "retention apply")
    assert entry["facts"]["dry_run"] is True and entry["facts"]["purge"] == 5


def test_apply_purges_through_the_ledger_and_verify_still_passes(db: Path) -> None:
    planned = {i["message"] for i in plan(db, "--dry-run")["purge"]}
    result = plan(db)
    assert result["purged"] == 5 and {i["message"] for i in result["purge"]} == planned
    with Archive(db) as archive:
        assert archive.stats()["messages"] == 9
        assert not archive.db.execute(f"SELECT 1 FROM sightings WHERE message IN ({','.join(map(str, planned))})"
                                      ).fetchall()
    assert json.loads(run(db, "search", "交付", "--json").output) == []  # gone from the full-text index
    assert json.loads(run(db, "search", "上线", "--json").output)  # the 2026 message stays
    doc = json.loads(run(db, "verify", "--json").output)
    assert doc["ok"], doc["problems"]
    purged = [n for n in doc["notices"] if n["kind"] == "purged"]
    assert len(purged) == 5 and all("retention platform:dingtalk keeps 2y" in n["detail"] for n in purged)
    assert entries(db, "retention apply")[-1]["facts"]["purge"] == 5
    assert plan(db)["purge"] == []  # a second run finds nothing


def test_more_specific_rules_win(db: Path) -> None:
    run(db, "retention", "set", f"conversation:{TEAM}", "keep")
    assert texts_of(db, [i["message"] for i in plan(db, "--dry-run")["purge"]]) == {"合同放在共享盘了", "好的"}
    run(db, "retention", "set", "label:hr-export", "1y")
    run(db, "retention", "set", "default", "1y")
    # the label rule now decides the direct messages and the WeChat chat; the conversation rule still keeps the team
    assert texts_of(db, [i["message"] for i in plan(db, "--dry-run")["purge"]]) == {
        "合同放在共享盘了", "好的", "周末一起吃饭？", "好啊"}


def test_rules_from_a_yaml_or_toml_file(db: Path, tmp_path: Path) -> None:
    yaml_rules = tmp_path / "retention.yaml"
    yaml_rules.write_text("dingtalk: 2y\nwechat: 18m\ndefault: keep\n", encoding="utf-8")
    run(db, "retention", "set", "--file", str(yaml_rules))
    assert {i["platform"] for i in plan(db, "--dry-run")["purge"]} == {"dingtalk", "wechat"}
    toml_rules = tmp_path / "retention.toml"
    toml_rules.write_text('default = "keep"\n[label]\nhr-export = "30d"\n', encoding="utf-8")
    rules = json.loads(run(db, "retention", "set", "--file", str(toml_rules), "--json").output)
    assert [r["selector"] for r in rules] == ["label:hr-export", "default"]  # a file replaces every rule
    assert len(plan(db, "--dry-run")["purge"]) == 11  # all but the three messages after 2026-03-02


def test_a_conversation_hold_stops_the_purge_and_the_run_reports_it(db: Path) -> None:
    placed = json.loads(run(db, "hold", "add", "--conversation", TEAM, "--reason", "labour arbitration 2026-88",
                            "--json").output)
    result = plan(db)
    assert result["purged"] == 2 and texts_of(db, [i["message"] for i in result["purge"]]) == set()  # gone now
    held = result["held"]
    assert len(held) == 3 and {i["hold"] for i in held} == {placed["id"]}
    assert held[0]["hold_reason"] == "labour arbitration 2026-88"
    assert result["counts"]["by_hold"] == {str(placed["id"]): 3}
    assert texts_of(db, [i["message"] for i in held]) == {"周五前交付第一版", "没问题，我负责测试", "今日打卡提醒"}
    text = run(db, "retention", "apply", "--as-of", AS_OF, "--dry-run").output
    assert f"hold {placed['id']} kept 3 messages" in text
    run(db, "hold", "release", str(placed["id"]), "--reason", "case closed")
    assert json.loads(run(db, "hold", "list", "--json").output) == []
    assert json.loads(run(db, "hold", "list", "--all", "--json").output)[0]["release_reason"] == "case closed"
    assert plan(db)["purged"] == 3
    assert [e["command"] for e in entries(db) if e["command"].startswith("hold")] == ["hold add", "hold release"]
    assert json.loads(run(db, "verify", "--json").output)["ok"]


def test_a_person_hold_keeps_their_timeline(db: Path) -> None:
    run(db, "people", "link", "dingtalk:E002", "--name", "李雷")
    run(db, "hold", "add", "--person", "李雷", "--reason", "litigation hold")
    result = plan(db, "--dry-run")
    # what 李雷 said, and both sides of his one-to-one chat
    assert texts_of(db, [i["message"] for i in result["held"]]) == {"没问题，我负责测试", "合同放在共享盘了", "好的"}
    assert texts_of(db, [i["message"] for i in result["purge"]]) == {"周五前交付第一版", "今日打卡提醒"}


def test_the_store_refuses_to_delete_a_held_message_whoever_purges(db: Path) -> None:
    run(db, "hold", "add", "--conversation", TEAM, "--reason", "audit")
    with Archive(db) as archive:
        held = archive.db.execute("SELECT m.id FROM messages m JOIN conversations c ON c.id = m.conversation"
                                  " WHERE c.native_id = 'team-1'").fetchone()[0]
        with pytest.raises(sqlite3.IntegrityError, match="legal hold"):
            Ledger(archive).purge(held, "manual")
        assert archive.db.execute("SELECT 1 FROM messages WHERE id = ?", (held,)).fetchone()


def test_deleting_a_tombstone_makes_verify_fail_and_name_it(db: Path) -> None:
    purged = plan(db)["purge"][0]["message"]
    with Archive(db) as archive:
        tombstone = archive.db.execute("SELECT target FROM ledger_events WHERE action = 'purge' ORDER BY leaf"
                                       " LIMIT 1").fetchone()[0]
        assert archive.db.execute("SELECT ref FROM ledger_leaves WHERE idx = ?", (tombstone,)).fetchone()[0] == purged
    tamper(db, "DROP TRIGGER ledger_leaves_no_delete", f"DELETE FROM ledger_leaves WHERE idx = {tombstone}")
    result = run(db, "verify", ok=False)
    assert f"the tombstone of purged message at leaf {tombstone}" in result.output


@both_stores
def test_editing_a_tombstone_or_deleting_its_purge_event_makes_verify_fail(db: Path, tmp_path: Path) -> None:
    plan(db)
    with Archive(db) as archive:
        tombstone, event = archive.db.execute("SELECT target, leaf FROM ledger_events WHERE action = 'purge'"
                                              " ORDER BY leaf LIMIT 1").fetchone()
    copy = copy_archive(db, tmp_path / "copy.db")
    tamper(db, "DROP TRIGGER ledger_leaves_no_update",
           f"UPDATE ledger_leaves SET leaf_hash = zeroblob(32) WHERE idx = {tombstone}")
    with Archive(db) as archive:
        report = verify_archive(archive)
    assert not report.ok and {p["kind"] for p in report.problems} & {"ledger_rewritten", "checkpoint_root"}
    tamper(copy, "DROP TRIGGER ledger_events_no_delete", f"DELETE FROM ledger_events WHERE leaf = {event}")
    with Archive(copy) as archive:
        report = verify_archive(archive)
    details = [p["detail"] for p in report.problems]
    assert f"policy event at leaf {event} was deleted" in details
    assert any(p["kind"] == "deleted" and p.get("message", {}).get("leaf") == tombstone for p in report.problems)


def test_cutoffs_count_calendar_months_and_years() -> None:
    as_of = datetime.fromisoformat("2026-03-31T12:00:00+08:00")
    assert retention.cutoff("1m", as_of).isoformat() == "2026-02-28T12:00:00+08:00"
    assert retention.cutoff("2y", as_of).isoformat() == "2024-03-31T12:00:00+08:00"
    assert retention.cutoff("6w", as_of).isoformat() == "2026-02-17T12:00:00+08:00"
    assert retention.cutoff("keep", as_of) is None
    with pytest.raises(ChatAuditError):
        retention.parse_keep("2 decades")
