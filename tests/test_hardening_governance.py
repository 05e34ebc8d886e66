"""Hardening of governance (issue #10): holds as ledger facts, mode changes under authority, audited
reads written before they are served, retention runs that cannot purge ahead of time, listings audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chataudit.store import Archive
from conftest import both_stores
from store_tamper import copy_archive
from test_governance import CHATS, ROSTER, TEAM, entries, run, tamper

AS_OF = "2026-04-01"


@pytest.fixture
def db(new_archive) -> Path:
    path = new_archive("h.db")  # a file; a PostgreSQL database for the tests marked both_stores
    run(path, "import", str(CHATS), "--tz", "Asia/Shanghai", "--label", "hr-export")
    run(path, "roster", "set", str(ROSTER))
    return path


def count(db: Path) -> int:
    with Archive(db) as archive:
        return archive.stats()["messages"]


# ---- retention runs ------------------------------------------------------------------------------------

@pytest.mark.parametrize("rules", [[("dingtalk", "2y")], [("default", "2y")], [(f"conversation:{TEAM}", "2y")],
                                   [("label:hr-export", "2y")]])
def test_a_run_works_when_every_rule_is_of_one_kind(db: Path, rules) -> None:
    for selector, keep in rules:
        run(db, "retention", "set", selector, keep)
    result = json.loads(run(db, "retention", "apply", "--as-of", AS_OF, "--json").output)
    assert result["purged"] == len(result["purge"]) > 0
    assert count(db) == 14 - result["purged"]


def test_a_future_as_of_is_refused_unless_dry_run(db: Path) -> None:
    run(db, "retention", "set", "dingtalk", "2y")
    refused = run(db, "retention", "apply", "--as-of", "2099-01-01", ok=False)
    assert "--as-of 2099-01-01 is in the future" in refused.output and "Traceback" not in refused.output
    assert count(db) == 14
    preview = json.loads(run(db, "retention", "apply", "--as-of", "2099-01-01", "--dry-run", "--json").output)
    assert preview["dry_run"] and len(preview["purge"]) == 6 and count(db) == 14  # every DingTalk message


# ---- legal holds are facts of the signed audit trail -----------------------------------------------------

@pytest.fixture
def held(db: Path) -> tuple[Path, int]:
    run(db, "retention", "set", "dingtalk", "2y")
    placed = json.loads(run(db, "hold", "add", "--conversation", TEAM, "--reason", "labour arbitration 2026-88",
                            "--json").output)
    return db, placed["id"]


def verify_problems(db: Path) -> list[dict]:
    doc = json.loads(run(db, "verify", "--json", ok=None).output)
    return doc["problems"]


def test_one_update_cannot_lift_a_hold(held) -> None:
    db, hold_id = held
    with pytest.raises(Exception, match="released only by `chataudit hold release`"):
        tamper(db, f"UPDATE governance_holds SET released_at = '2026-01-01T00:00:00Z' WHERE id = {hold_id}")
    assert json.loads(run(db, "hold", "list", "--json").output)[0]["active"] is True


@both_stores
def test_a_release_behind_the_tools_back_fails_verify_and_stops_retention(held) -> None:
    db, hold_id = held
    tamper(db, "DROP TRIGGER governance_holds_release_recorded",
           f"UPDATE governance_holds SET released_at = '2026-01-01T00:00:00Z', released_by = 'x' WHERE id = {hold_id}")
    (problem,) = [p for p in verify_problems(db) if p["kind"] == "governance"]
    assert f"hold {hold_id}" in problem["detail"] and "released behind the tool's back" in problem["detail"]
    refused = run(db, "retention", "apply", "--as-of", AS_OF, ok=False)
    assert "legal holds cannot be verified, so nothing is purged" in refused.output
    assert count(db) == 14
    (listed,) = json.loads(run(db, "hold", "list", "--all", "--json").output)
    assert "released behind the tool's back" in listed["tampered"]
    assert "cannot be released" in run(db, "hold", "release", str(hold_id), ok=False).output


def test_a_forged_release_entry_is_not_a_signed_event(held) -> None:
    db, hold_id = held
    # a release entry written straight into the table satisfies the trigger, but it is not in the ledger
    tamper(db, "INSERT INTO governance_audit (at, operator, os_user, command, params, authorizations, records,"
               " outputs, outcome, exit_code, facts) VALUES ('2026-03-01T00:00:00.000Z', 'ghost', 'x', 'hold release',"
               f" '{{}}', '[]', 0, '[]', 'ok', 0, '{{\"hold\": {hold_id}, \"released_at\": \"2026-03-01T00:00:00.000Z\"}}')",
           f"UPDATE governance_holds SET released_at = '2026-03-01T00:00:00.000Z' WHERE id = {hold_id}")
    kinds = {p["kind"] for p in verify_problems(db)}
    assert "inserted" in kinds
    refused = run(db, "retention", "apply", "--as-of", AS_OF, ok=False)
    assert "`hold release`) is not in the signed ledger" in refused.output
    assert count(db) == 14


def test_a_deleted_hold_entry_or_row_stops_retention(held, tmp_path: Path) -> None:
    db, hold_id = held
    with Archive(db) as archive:
        entry = archive.db.execute("SELECT id FROM governance_audit WHERE command = 'hold add'").fetchone()[0]
    copy = copy_archive(db, tmp_path / "copy.db")
    tamper(db, "DROP TRIGGER governance_audit_no_delete", f"DELETE FROM governance_audit WHERE id = {entry}")
    assert f"audit entry {entry}" in run(db, "retention", "apply", "--as-of", AS_OF, ok=False).output
    tamper(copy, "DROP TRIGGER governance_hold_keeps_messages", "DROP TRIGGER governance_holds_no_delete",
           f"DELETE FROM governance_holds WHERE id = {hold_id}")
    assert "missing from the holds table" in run(copy, "retention", "apply", "--as-of", AS_OF, ok=False).output
    assert count(db) == count(copy) == 14


def test_a_hold_released_through_the_tool_verifies_and_lets_retention_purge(held) -> None:
    db, hold_id = held
    assert json.loads(run(db, "retention", "apply", "--as-of", AS_OF, "--json").output)["purged"] == 2
    released = json.loads(run(db, "hold", "release", str(hold_id), "--reason", "case closed", "--json").output)
    assert released["active"] is False and released["tampered"] is None
    (entry,) = entries(db, "hold release")
    assert entry["facts"] == {"hold": hold_id, "reason": "case closed", "released_at": released["released_at"],
                              "released_by": "compliance-li"}
    assert json.loads(run(db, "retention", "apply", "--as-of", AS_OF, "--json").output)["purged"] == 3
    assert verify_problems(db) == []


# ---- the mode changes under authority; reads stay audited once the archive was in enterprise mode -------

@pytest.fixture
def enterprise(db: Path) -> Path:
    run(db, "init", "--mode", "enterprise")
    return db


def test_only_the_admin_may_leave_enterprise_mode_and_only_with_a_reason(enterprise: Path) -> None:
    assert json.loads(run(enterprise, "mode", "--json").output)["admin"] == "compliance-li"
    refused = run(enterprise, "init", "--mode", "personal", "--reason", "quick look", operator="hr-wang", ok=False)
    assert "only the archive's admin, compliance-li" in refused.output and "hr-wang may not" in refused.output
    assert "needs a --reason" in run(enterprise, "init", "--mode", "personal", ok=False).output
    assert json.loads(run(enterprise, "mode", "--json").output)["mode"] == "enterprise"
    attempts = entries(enterprise, "init")
    assert [(e["operator"], e["outcome"]) for e in attempts] == [
        ("compliance-li", "ok"), ("hr-wang", "refused"), ("compliance-li", "refused")]
    assert attempts[1]["facts"] == {"requested_mode": "personal", "previous": "enterprise"}
    run(enterprise, "init", "--mode", "personal", "--reason", "the arbitration ended; archive handed to the employee")
    assert entries(enterprise, "init")[-1]["facts"]["reason"].startswith("the arbitration ended")
    # anyone may tighten again; the admin stays the first one
    run(enterprise, "init", "--mode", "enterprise", operator="hr-wang")
    assert json.loads(run(enterprise, "mode", "--json").output)["admin"] == "compliance-li"
    assert json.loads(run(enterprise, "verify", "--json").output)["ok"]


def test_reads_are_audited_in_personal_mode_once_the_archive_was_in_enterprise_mode(enterprise: Path) -> None:
    run(enterprise, "init", "--mode", "personal", "--reason", "matter closed")
    listed = run(enterprise, "messages", "--conversation", TEAM, "--json")  # no authorization needed any more
    started, done = entries(enterprise, "messages")
    assert (started["outcome"], done["outcome"]) == ("started", "ok")
    assert done["facts"] == {"kind": "read", "mode": "personal", "started": started["id"]}
    assert done["records"] == len(json.loads(listed.output)) == 4
    assert json.loads(run(enterprise, "mode", "--json").output)["reads_audited"] is True


def test_a_tampered_mode_setting_fails_verify(enterprise: Path) -> None:
    tamper(enterprise, "UPDATE settings SET value = 'personal' WHERE key = 'governance.mode'")
    (problem,) = [p for p in verify_problems(enterprise) if p["kind"] == "governance"]
    assert "mode setting says personal" in problem["detail"]


# ---- an audited read returns nothing unless its entry is committed -----------------------------------------

def test_no_read_is_served_when_its_audit_entry_cannot_be_written(enterprise: Path) -> None:
    run(enterprise, "init", "--mode", "personal", "--reason", "own use")  # no authorization in the way
    tamper(enterprise, "CREATE TRIGGER simulate_lock BEFORE INSERT ON governance_audit"
                       " BEGIN SELECT RAISE(ABORT, 'database is locked'); END")
    for args in (["messages", "--conversation", TEAM, "--json"], ["search", "交付", "--json"], ["conversations"]):
        result = run(enterprise, *args, ok=False)
        assert "was not run: its audit entry could not be recorded (database is locked)" in result.output
        assert "交付" not in result.output and "team-1" not in result.output and "Traceback" not in result.output


def test_admit_fails_while_another_writer_holds_the_database(enterprise: Path) -> None:
    from chataudit.governance import NotRecordedError, admit

    blocker = Archive(enterprise).db  # another process writing (an import), on either store
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with Archive(enterprise) as archive:
            archive.db.execute("PRAGMA busy_timeout = 50")
            archive.db.wait_limit_s = 0.1  # writers wait their turn; an audit entry only so long
            with pytest.raises(NotRecordedError, match="database is locked"):
                admit(archive, operator="compliance-li", command="conversations", params={})
    finally:
        blocker.rollback()
        blocker.close()


# ---- listings that name employees are audited in enterprise mode ------------------------------------------------

def test_conversations_people_and_sources_are_audited(enterprise: Path) -> None:
    for command in ("conversations", "people", "sources"):
        shown = json.loads(run(enterprise, command, "--json").output)
        done = entries(enterprise, command)[-1]
        assert done["outcome"] == "ok" and done["facts"]["kind"] == "listing", command
        assert done["records"] == (len(shown) if isinstance(shown, list) else 1), command
    run(enterprise, "people", "link", "dingtalk:E002", "--name", "李雷")
    assert entries(enterprise, "people link")[-1]["facts"]["kind"] == "change"
    assert len(entries(enterprise, "people")) == 2  # `people link` did not count as a listing


def test_personal_archives_that_never_were_enterprise_audit_nothing(db: Path) -> None:
    for command in ("conversations", "people", "sources"):
        run(db, command)
    run(db, "messages", "--conversation", TEAM)
    assert [e["command"] for e in entries(db)] == ["roster set"]


def test_a_read_that_fails_its_check_is_on_the_record(enterprise: Path) -> None:
    tamper(enterprise, "DELETE FROM governance_roster WHERE id = 'E001'")
    refused = run(enterprise, "messages", "--conversation", TEAM, ok=False)
    assert "roster differs" in refused.output
    (entry,) = entries(enterprise, "messages")
    assert entry["outcome"] == "error" and "roster differs" in entry["detail"]


def test_any_front_end_gets_the_same_rules_from_the_api(enterprise: Path) -> None:
    from chataudit.governance import NotAuthorizedError, admit, conclude

    with Archive(enterprise) as archive:
        with pytest.raises(NotAuthorizedError, match="missing: subject"):
            admit(archive, operator="web:hr-li", command="messages", params={"conversation_ref": TEAM})
        admitted = admit(archive, operator="web:hr-li", command="conversations", params={})
        conclude(archive, admitted, records=4, outputs=[], outcome="ok", exit_code=0, detail=None)
    done = entries(enterprise)[-3:]
    assert [(e["command"], e["outcome"], e["operator"]) for e in done] == [
        ("messages", "refused", "web:hr-li"), ("conversations", "started", "web:hr-li"),
        ("conversations", "ok", "web:hr-li")]
    assert done[2]["facts"]["started"] == done[1]["id"] and done[2]["records"] == 4
