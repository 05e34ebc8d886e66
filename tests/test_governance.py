"""Governance: modes, the roster, written authorizations, the central check and the audit trail."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from chataudit.cli import cli
from chataudit.governance import clock
from chataudit.ledger.verify import verify_archive
from chataudit.store import Archive
from conftest import both_stores
from store_tamper import tamper

FIXTURES = Path(__file__).parent / "fixtures" / "governance"
CHATS, ROSTER, SCAN = FIXTURES / "staff_chats.csv", FIXTURES / "roster.csv", FIXTURES / "authorization_scan.pdf"
WECOM, TEAM, DM, FRIEND = "wecom:cust-001", "dingtalk:team-1", "dingtalk:dm-e002", "wechat:wxid_friend"


def run(db: Path, *args: str, ok: bool | None = True, operator: str = "compliance-li"):
    result = CliRunner().invoke(cli, ["--db", str(db), "--operator", operator, *args], catch_exceptions=False)
    if ok is True:
        assert result.exit_code == 0, result.output
    elif ok is False:
        assert result.exit_code != 0, result.output
    return result


def entries(db: Path, command: str | None = None) -> list[dict]:
    found = json.loads(run(db, "audit", "--json").output)
    return [e for e in found if command is None or e["command"] == command]


def add_auth(db: Path, *scopes: str, subjects=("E001", "E002"), expires: str = "2099-12-31", **kw) -> dict:
    args = ["auth", "add", "--document", str(SCAN), "--purpose", kw.get("purpose", "complaint 2026-017 review"),
            "--expires", expires, "--granted-by", "HR director Zhao", "--json"]
    for subject in subjects:
        args += ["--subject", subject]
    for scope in scopes:
        args += ["--scope", scope]
    return json.loads(run(db, *args).output)


@pytest.fixture
def personal(new_archive) -> Path:
    db = new_archive("g.db")  # a file; a PostgreSQL database for the tests marked both_stores
    run(db, "import", str(CHATS), "--tz", "Asia/Shanghai")
    run(db, "roster", "set", str(ROSTER))
    return db


@pytest.fixture
def enterprise(personal: Path) -> Path:
    doc = json.loads(run(personal, "init", "--mode", "enterprise", "--json").output)
    assert doc["mode"] == "enterprise"
    return personal


# ---- modes ---------------------------------------------------------------------------------------------

def test_personal_mode_never_asks_and_does_not_audit_reads(personal: Path, tmp_path: Path) -> None:
    assert json.loads(run(personal, "mode", "--json").output)["mode"] == "personal"
    for args in (["messages", "--conversation", WECOM], ["search", "退款"], ["facts", "--conversation", TEAM],
                 ["export", "--conversation", WECOM, "--format", "csv", "--out", str(tmp_path / "x.csv")]):
        run(personal, *args)
    assert [e["command"] for e in entries(personal)] == ["roster set"]


@both_stores
def test_mode_change_is_audited_and_a_tampered_setting_stops_reads(enterprise: Path) -> None:
    (change,) = entries(enterprise, "init")
    assert change["facts"] == {"mode": "enterprise", "previous": "personal"}
    assert change["operator"] == "compliance-li"
    tamper(enterprise, "UPDATE settings SET value = 'personal' WHERE key = 'governance.mode'")
    refused = run(enterprise, "messages", "--conversation", FRIEND, ok=False)
    assert "changed behind the tool's back" in refused.output and "audit entry" in refused.output
    assert entries(enterprise, "messages")[-1]["outcome"] == "error"  # the attempt is on the record


# ---- the check -----------------------------------------------------------------------------------------------

def test_enterprise_refuses_an_unauthorized_read_and_says_what_is_missing(enterprise: Path) -> None:
    refused = run(enterprise, "messages", "--conversation", WECOM, ok=False)
    assert refused.exit_code == 1
    assert "Traceback" not in refused.output
    assert "王芳 (roster E001)" in refused.output and "missing: subject" in refused.output
    assert "李雷" not in refused.output  # not in this conversation
    assert "operator compliance-li" in refused.output
    # a conversation without employees needs nothing; the bot is nobody's personal data
    run(enterprise, "messages", "--conversation", FRIEND)
    (entry,) = [e for e in entries(enterprise, "messages") if e["outcome"] == "refused"]
    assert entry["records"] == 0 and entry["outputs"] == [] and "missing: subject" in entry["detail"]


@both_stores
def test_allowed_after_auth_add_with_a_scan(enterprise: Path, tmp_path: Path) -> None:
    added = add_auth(enterprise)
    assert added["status"] == "active" and added["subjects"] == ["E001", "E002"]
    assert added["document"] == {"name": SCAN.name, "sha256": hashlib.sha256(SCAN.read_bytes()).hexdigest()}
    rows = json.loads(run(enterprise, "messages", "--conversation", WECOM, "--json").output)
    assert len(rows) == 5
    last = entries(enterprise, "messages")[-1]
    assert last["outcome"] == "ok" and last["authorizations"] == [added["id"]]
    assert last["facts"]["scope"]["employees"] == ["E001"]
    (recorded,) = entries(enterprise, "auth add")
    assert recorded["facts"]["document_sha256"] == added["document"]["sha256"]
    assert recorded["facts"]["record_sha256"] == added["record_sha256"]
    # the stored scan comes back byte for byte
    out = tmp_path / "back.pdf"
    run(enterprise, "auth", "document", str(added["id"]), "--out", str(out))
    assert out.read_bytes() == SCAN.read_bytes()


@pytest.mark.parametrize("scopes,args,missing", [
    (["period:2026-01-01..2026-02-28"], ["messages", "--conversation", WECOM], "missing: period"),
    (["platform:wecom"], ["messages", "--conversation", TEAM], "missing: platform (dingtalk; #1 covers wecom)"),
    (["conversation:" + WECOM], ["messages", "--conversation", TEAM], "missing: conversation"),
])
def test_each_scope_dimension_is_named(enterprise: Path, scopes, args, missing) -> None:
    add_auth(enterprise, *scopes)
    refused = run(enterprise, *args, ok=False)
    assert missing in refused.output


def test_a_period_authorization_allows_a_narrowed_request(enterprise: Path) -> None:
    add_auth(enterprise, "platform:wecom", "period:2026-01-01..2026-02-28", subjects=("E001",))
    refused = run(enterprise, "messages", "--conversation", WECOM, ok=False)
    assert "missing: period (1 messages from 2026-03-15 to 2026-03-15 lie outside #1's 2026-01-01..2026-02-28)" \
        in refused.output
    rows = json.loads(run(enterprise, "messages", "--conversation", WECOM, "--until", "2026-02-28", "--json").output)
    assert [r["sent_at"][:10] for r in rows] == ["2026-01-10"] * 3


def test_refused_after_expiry_and_after_revoke(enterprise: Path, monkeypatch) -> None:
    added = add_auth(enterprise, expires="2030-06-30")
    run(enterprise, "messages", "--conversation", WECOM)
    monkeypatch.setattr(clock, "now", lambda: datetime(2030, 7, 1, 12, tzinfo=timezone.utc))
    expired = run(enterprise, "messages", "--conversation", WECOM, ok=False)
    assert "missing: expiry (#1 expired on 2030-07-01T00:00:00+08:00)" in expired.output
    monkeypatch.undo()
    run(enterprise, "auth", "revoke", str(added["id"]), "--reason", "employee withdrew consent")
    revoked = run(enterprise, "messages", "--conversation", WECOM, ok=False)
    assert "missing: revoked" in revoked.output and "employee withdrew consent" in revoked.output
    statuses = {a["id"]: a["status"] for a in json.loads(run(enterprise, "auth", "list", "--json").output)}
    assert statuses == {added["id"]: "revoked"}
    assert [e["command"] for e in entries(enterprise) if e["command"].startswith("auth")] == ["auth add", "auth revoke"]


def test_every_subject_in_scope_is_needed(enterprise: Path) -> None:
    add_auth(enterprise, subjects=("E001",))
    refused = run(enterprise, "messages", "--conversation", TEAM, ok=False)
    assert "李雷 (roster E002)" in refused.output and "no authorization names E002 (missing: subject)" in refused.output
    assert "王芳" not in refused.output


def test_search_over_the_whole_archive_needs_every_employee(enterprise: Path) -> None:
    refused = run(enterprise, "search", "好", ok=False)
    assert "E001" in refused.output and "E002" in refused.output
    run(enterprise, "search", "好", "--platform", "wechat")  # nobody's messages but the operator's own
    add_auth(enterprise)
    run(enterprise, "search", "好")


def test_a_person_timeline_is_checked(enterprise: Path) -> None:
    run(enterprise, "people", "link", "dingtalk:E002", "--name", "李雷")
    refused = run(enterprise, "messages", "--person", "李雷", ok=False)
    assert "E002" in refused.output
    add_auth(enterprise, subjects=("E002",))
    rows = json.loads(run(enterprise, "messages", "--person", "李雷", "--json").output)
    assert {r["text"] for r in rows} >= {"合同放在共享盘了", "好的"}  # both sides of the one-to-one chat


def test_identities_linked_to_an_employee_are_theirs(enterprise: Path) -> None:
    run(enterprise, "messages", "--conversation", FRIEND)
    run(enterprise, "people", "link", "dingtalk:E001", "wechat:wxid_me", "--name", "王芳")
    refused = run(enterprise, "messages", "--conversation", FRIEND, ok=False)
    assert "王芳 (roster E001): this reads 1 of their messages" in refused.output


def test_file_redaction_is_audited_with_a_manifest_of_what_it_wrote(enterprise: Path, tmp_path: Path) -> None:
    out = tmp_path / "redacted"
    run(enterprise, "redact", str(CHATS), "--out", str(out))
    entry = entries(enterprise, "redact")[-1]
    assert entry["facts"]["kind"] == "redaction" and entry["authorizations"] == []
    written = sorted(out.iterdir())
    files = [o for o in entry["outputs"] if o["to"] != "stdout"]
    assert [o["to"] for o in files] == [str(p) for p in written]
    assert [o["sha256"] for o in files] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in written]
    manifest = "".join(f"{o['sha256']} {o['bytes']} {o['to']}\n" for o in entry["outputs"])
    assert entry["output_sha256"] == hashlib.sha256(manifest.encode()).hexdigest()


@pytest.mark.parametrize("args", [
    ["facts", "--conversation", TEAM],
    ["export", "--conversation", TEAM],
    ["quality", "--conversation", WECOM, "--roster", str(ROSTER), "--no-nlp", "--json"],
    ["check", "conversation:" + TEAM, "--json"],
    ["pii", "scan", "--conversation", TEAM, "--json"],
    ["compare", TEAM, DM, "--json"],
    ["proof", "6", "--json"],
])
def test_every_read_command_is_checked_centrally(enterprise: Path, args) -> None:
    refused = run(enterprise, *args, ok=False)
    assert "not authorized" in refused.output and "E00" in refused.output
    add_auth(enterprise)
    result = run(enterprise, *args, ok=None)
    assert "not authorized" not in result.output
    assert entries(enterprise, " ".join(args[:2]) if args[0] == "pii" else args[0])[-1]["authorizations"] == [1]


def test_roster_changed_behind_the_tools_back_stops_reads(enterprise: Path) -> None:
    tamper(enterprise, "DELETE FROM governance_roster WHERE id = 'E001'")
    refused = run(enterprise, "messages", "--conversation", WECOM, ok=False)
    assert "roster differs from the one `roster set` recorded" in refused.output


def test_an_authorization_edited_behind_the_tools_back_is_not_used(enterprise: Path) -> None:
    add_auth(enterprise, "period:2026-01-01..2026-02-28")
    tamper(enterprise, "DROP TRIGGER governance_authorizations_no_update",
           "UPDATE governance_authorizations SET period_end_ms = NULL, period = NULL")
    refused = run(enterprise, "messages", "--conversation", WECOM, ok=False)
    assert "#1 cannot be used: its record no longer matches what `auth add` recorded" in refused.output
    assert json.loads(run(enterprise, "auth", "list", "--json").output)[0]["status"] == "tampered"


def test_auth_add_refuses_unknown_subjects_missing_files_and_past_expiry(enterprise: Path) -> None:
    base = ["auth", "add", "--document", str(SCAN), "--purpose", "p", "--granted-by", "g"]
    assert "not on the roster: E999" in run(enterprise, *base, "--subject", "E999", "--expires", "2099-01-01",
                                            ok=False).output
    assert "already past" in run(enterprise, *base, "--subject", "E001", "--expires", "2020-01-01", ok=False).output
    assert "--scope 'team:x'" in run(enterprise, *base, "--subject", "E001", "--expires", "2099-01-01",
                                     "--scope", "team:x", ok=False).output


# ---- the audit trail -------------------------------------------------------------------------------------------

def test_reads_and_exports_are_audited_with_counts_and_output_hashes(enterprise: Path, tmp_path: Path) -> None:
    add_auth(enterprise)
    listed = run(enterprise, "messages", "--conversation", TEAM, "--json")
    entry = entries(enterprise, "messages")[-1]
    assert entry["records"] == len(json.loads(listed.output)) == 4
    assert entry["output_sha256"] == hashlib.sha256(listed.stdout_bytes).hexdigest()
    assert entry["outputs"] == [{"to": "stdout", "bytes": len(listed.stdout_bytes),
                                 "sha256": entry["output_sha256"]}]
    assert entry["params"]["conversation_ref"] == TEAM and entry["operator"] == "compliance-li"
    assert entry["os_user"]

    for out_format, rows in (("csv", 5), ("jsonl", 5), ("html", 5)):
        out = tmp_path / f"wecom.{out_format}"
        run(enterprise, "export", "--conversation", WECOM, "--format", out_format, "--out", str(out))
        exported = entries(enterprise, "export")[-1]
        assert exported["records"] == rows, out_format
        assert exported["output_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
        assert exported["outputs"][0]["to"] == str(out)

    table = run(enterprise, "search", "退款", "--platform", "wecom")
    searched = entries(enterprise, "search")[-1]
    assert searched["records"] == 2 and searched["output_sha256"] == hashlib.sha256(table.stdout_bytes).hexdigest()

    redacted = run(enterprise, "messages", "--conversation", WECOM, "--redact", "--json")
    assert entries(enterprise, "messages")[-1]["params"]["redact_policy"] == "default"
    assert entries(enterprise, "messages")[-1]["output_sha256"] == hashlib.sha256(redacted.stdout_bytes).hexdigest()


def test_verification_is_audited_and_the_trail_verifies(enterprise: Path) -> None:
    add_auth(enterprise)
    run(enterprise, "messages", "--conversation", TEAM)
    doc = json.loads(run(enterprise, "verify", "--json").output)
    assert doc["ok"], doc["problems"]
    assert any(n["kind"] == "audit_trail" for n in doc["notices"])
    assert entries(enterprise, "verify")[-1]["outcome"] == "ok"


def test_audit_filters_by_operator_command_and_time(enterprise: Path) -> None:
    add_auth(enterprise)
    run(enterprise, "messages", "--conversation", TEAM, operator="hr-wang")
    mine = json.loads(run(enterprise, "audit", "--operator", "hr-wang", "--json").output)
    assert [(e["command"], e["outcome"]) for e in mine] == [("messages", "started"), ("messages", "ok")]
    assert set(mine[0]) == {"id", "at", "operator", "os_user", "command", "params", "authorizations", "records",
                            "outputs", "output_sha256", "outcome", "exit_code", "facts", "detail"}
    assert json.loads(run(enterprise, "audit", "--since", "2099-01-01", "--json").output) == []
    assert [e["command"] for e in json.loads(run(enterprise, "audit", "--command", "auth add", "--json").output)] \
        == ["auth add"]


@both_stores
def test_deleting_an_audit_row_makes_verify_fail_and_name_it(enterprise: Path) -> None:
    add_auth(enterprise)
    run(enterprise, "messages", "--conversation", TEAM)
    target = entries(enterprise, "messages")[-1]
    tamper(enterprise, "DROP TRIGGER governance_audit_no_delete", f"DELETE FROM governance_audit WHERE id = {target['id']}")
    result = run(enterprise, "verify", ok=False)
    assert f"DELETED: audit entry {target['id']}" in result.output
    assert "compliance-li" in result.output


def test_editing_an_audit_row_makes_verify_fail_and_name_it(enterprise: Path) -> None:
    add_auth(enterprise)
    run(enterprise, "messages", "--conversation", TEAM)
    target = entries(enterprise, "messages")[-1]
    tamper(enterprise, "DROP TRIGGER governance_audit_no_update",
           f"UPDATE governance_audit SET operator = 'nobody' WHERE id = {target['id']}")
    with Archive(enterprise) as archive:
        report = verify_archive(archive)
    assert not report.ok
    (problem,) = [p for p in report.problems if p["kind"] == "modified"]
    assert problem["detail"].startswith(f"audit entry {target['id']} ") and "`messages`" in problem["detail"]


def test_an_audit_row_inserted_behind_the_tools_back_is_reported(enterprise: Path) -> None:
    tamper(enterprise, "INSERT INTO governance_audit (at, operator, os_user, command, params, authorizations, records,"
                       " outputs, outcome, exit_code, facts) VALUES ('2026-01-01T00:00:00.000Z', 'ghost', 'x', 'search',"
                       " '{}', '[]', 0, '[]', 'ok', 0, '{}')")
    with Archive(enterprise) as archive:
        report = verify_archive(archive)
    assert any(p["kind"] == "inserted" and "ghost" in p["detail"] for p in report.problems)


def test_the_audit_trail_is_append_only(enterprise: Path) -> None:
    with Archive(enterprise) as archive, pytest.raises(sqlite3.IntegrityError, match="append-only"):
        archive.db.execute("DELETE FROM governance_audit")
