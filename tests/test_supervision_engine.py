"""supervise policy/run/runs/sample: versions on the audit trail, incremental runs that never
duplicate an alert, a reproducible sample, and verify naming what was changed behind the tool's back."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from chataudit.store import Archive
from chataudit.supervision import engine, policies
from tests.web_support import cli_json, run_cli

FIXTURE = Path(__file__).parent / "fixtures" / "supervision" / "chats.jsonl"

POLICY = """\
policies:
  - name: legal
    category: legal
    severity: medium
    rules:
      - lexicon:
          terms: [违约, {term: 投诉, pinyin: true}]
          except: [违约金条款]
  - name: files
    category: attachment
    scope: {senders: agent, chats: external}
    rules:
      - attachments: [exe]
"""


def _archive(tmp_path: Path, lines: list[dict] | None = None) -> Path:
    db = tmp_path / "a.db"
    source = tmp_path / "chats.jsonl"
    if lines is None:
        source.write_text(FIXTURE.read_text(encoding="utf-8"), encoding="utf-8")
    else:
        source.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    run_cli(db, "import", str(source), "--tz", "Asia/Shanghai")
    return db


def _message(msgid: str, sender: str, text: str, at: int, msgtype: str = "text") -> dict:
    to = "wmAbCdEfGh1234567890abcdEF" if sender.startswith("kf") else "kf_liwei"
    body = {"text": {"content": text}} if msgtype == "text" else {"file": {"filename": text, "fileext": "exe",
                                                                          "filesize": 10, "md5sum": "0" * 32}}
    return {"msgid": msgid, "action": "send", "from": sender, "tolist": [to], "roomid": "", "msgtime": at,
            "msgtype": msgtype, **body}


def _alerts(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute("SELECT message, policy, rule, matched, start, \"end\", version, run FROM supervision_alerts"
                           " WHERE kind = 'policy' ORDER BY id").fetchall()


def test_policy_set_stores_a_version_once_with_its_audit_entry(tmp_path: Path) -> None:
    db = _archive(tmp_path, [_message("m1", "wmAbCdEfGh1234567890abcdEF", "你好", 1767225600000)])
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    first = cli_json(db, "supervise", "policy", "set", str(policy))
    assert first["created"] and first["version"] == 1 and first["policies"] == ["legal", "files"]
    policy.write_text("# a comment changes nothing\n" + POLICY, encoding="utf-8")
    again = cli_json(db, "supervise", "policy", "set", str(policy))
    assert not again["created"] and again["version"] == 1
    listed = cli_json(db, "supervise", "policy", "list")
    assert [v["version"] for v in listed] == [1]
    shown = cli_json(db, "supervise", "policy", "show", "--version", "1")
    assert shown["source_text"] == POLICY and shown["definition"]["policies"][0]["rules"][0]["terms"][0] == {
        "term": "投诉", "initials": ["ts"], "syllables": ["tousu"]}
    entry = cli_json(db, "audit", "--command", "supervise policy set")[-1]
    assert entry["facts"]["sha256"] == first["sha256"] == shown["sha256"]


def test_toml_policy_files_are_read_too(tmp_path: Path) -> None:
    definition = policies.parse('[[policies]]\nname = "bribery"\ncategory = "bribery"\n'
                                '[[policies.rules]]\nlexicon = { terms = ["回扣"], except = ["寄回扣"] }\n',
                                "p.toml")
    assert definition["policies"][0]["rules"][0]["terms"][0]["term"] == "回扣"


@pytest.mark.parametrize("text, expected", [
    ("policies:\n  - name: a\n    rules:\n      - regex: '(['\n", "p.yaml:4: policy a: regex '(['"),
    ("policies:\n  - name: a\n    severity: urgent\n    rules: [{regex: x}]\n", "p.yaml:2: policy a: severity 'urgent'"),
    ("policies:\n  - name: a\n    rules:\n      - pii: [dna]\n", "p.yaml:4: policy a: unknown personal-data type(s) dna"),
    ("policies:\n  - name: a\n    rules:\n      - lexicon: {terms: ['违，约']}\n", "could never match"),
    ("policies:\n  - name: a\n    rules:\n      - after_hours: {tz: Mars/Base}\n", "unknown time zone"),
    ("policies: [\n", "p.yaml:2: not valid YAML"),
    ("policies:\n  - name: a\n    rules:\n      - lexicon: {terms: [a]}\n  - name: a\n    rules: [{regex: x}]\n",
     "p.yaml:5: policy name 'a' is used twice"),
])
def test_a_bad_policy_file_is_one_line_naming_file_and_line(tmp_path: Path, text: str, expected: str) -> None:
    db = _archive(tmp_path, [_message("m1", "wmAbCdEfGh1234567890abcdEF", "你好", 1767225600000)])
    policy = tmp_path / "p.yaml"
    policy.write_text(text, encoding="utf-8")
    result = run_cli(db, "supervise", "policy", "set", str(policy), ok=False)
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert expected in result.output.replace(str(tmp_path) + "/", "")
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM supervision_policy_sets").fetchone()[0] == 0


def test_runs_are_incremental_and_a_new_version_never_duplicates_an_alert(tmp_path: Path) -> None:
    t = 1767225600000
    db = _archive(tmp_path, [_message("m1", "wmAbCdEfGh1234567890abcdEF", "你们违 约了，我要TS", t),
                             _message("m2", "kf_liwei", "合同里的违约金条款写了", t + 1000),
                             _message("m3", "kf_liwei", "tool.exe", t + 2000, msgtype="file")])
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    run_cli(db, "supervise", "policy", "set", str(policy))
    first = cli_json(db, "supervise", "run")
    assert (first["run"], first["version"], first["messages"], first["alerts"]) == (1, 1, 3, 3)
    alerts = _alerts(db)
    assert [(a[2], a[3], a[4], a[5]) for a in alerts] == [("违约", "违 约", 2, 5), ("投诉", "TS", 9, 11),
                                                          ("attachment:exe", "tool.exe", None, None)]
    assert cli_json(db, "supervise", "run")["run"] is None  # nothing new
    more = tmp_path / "more.jsonl"
    more.write_text(json.dumps(_message("m4", "wmAbCdEfGh1234567890abcdEF", "違約！", t + 3000),
                               ensure_ascii=False) + "\n", encoding="utf-8")
    run_cli(db, "import", str(more), "--tz", "Asia/Shanghai")
    second = cli_json(db, "supervise", "run")
    assert (second["messages"], second["alerts"], second["first_message"]) == (1, 1, 4)
    # a new version re-evaluates every message once: what older versions raised is not raised again
    policy.write_text(POLICY.replace("[违约,", "[违约, 我要,"), encoding="utf-8")
    assert cli_json(db, "supervise", "policy", "set", str(policy))["version"] == 2
    third = cli_json(db, "supervise", "run")
    assert (third["version"], third["messages"], third["alerts"]) == (2, 4, 1)
    assert [(a[2], a[6]) for a in _alerts(db)][-1] == ("我要", 2)
    assert len(_alerts(db)) == 5
    runs = cli_json(db, "supervise", "runs")
    assert [r["run"] for r in runs] == [3, 2, 1] and runs[0]["audit_entry"] is not None
    assert "supervision" not in run_cli(db, "verify").output


def test_run_without_a_policy_stores_the_default_as_version_1(tmp_path: Path) -> None:
    db = _archive(tmp_path)
    result = cli_json(db, "supervise", "run")
    assert result["version"] == 1 and result["alerts"] > 80
    assert cli_json(db, "supervise", "policy", "list")[0]["sha256"] == policies.digest(policies.default_definition())


def test_sample_is_reproducible_from_its_audit_entry(tmp_path: Path) -> None:
    db = _archive(tmp_path)
    drawn = cli_json(db, "supervise", "sample", "--rate", "50%")
    assert drawn["seed"].startswith("checkpoint:") and drawn["population"] >= 3
    entry = cli_json(db, "audit", "--command", "supervise sample")[-1]["facts"]
    with Archive(db) as archive:
        active = [r[0] for r in archive.db.execute("SELECT DISTINCT conversation FROM messages")]
        assert engine.draw(active, entry["rate"], entry["seed"]) == entry["conversations"] == drawn["conversations"]
        rows = archive.db.execute("SELECT conversation FROM supervision_alerts WHERE kind = 'sample'").fetchall()
    assert sorted(r[0] for r in rows) == drawn["conversations"]
    seeded = cli_json(db, "supervise", "sample", "--rate", "0.5", "--seed", "s1")
    assert seeded["conversations"] == engine.draw(active, 0.5, "s1") and seeded["seed_source"] == "given with --seed"
    assert run_cli(db, "supervise", "sample", "--rate", "0%", ok=False).exit_code != 0


def test_verify_names_policy_versions_runs_and_alerts_changed_behind_the_tools_back(tmp_path: Path) -> None:
    db = _archive(tmp_path)
    cli_json(db, "supervise", "run")
    cli_json(db, "supervise", "sample", "--rate", "50%", "--seed", "x")
    assert run_cli(db, "verify").exit_code == 0
    with sqlite3.connect(db) as con:
        with pytest.raises(sqlite3.DatabaseError, match="never edited"):
            con.execute("UPDATE supervision_policy_sets SET definition = '{}'")
        con.execute("DROP TRIGGER supervision_policy_sets_no_update")
        con.execute("UPDATE supervision_policy_sets SET definition = '{\"policies\": []}'")
        con.execute("DELETE FROM supervision_alerts WHERE id = (SELECT min(id) FROM supervision_alerts)")
        con.execute("UPDATE supervision_runs SET last_message = 1")
        con.execute("UPDATE supervision_alerts SET conversation = conversation + 1 WHERE kind = 'sample'")
    output = run_cli(db, "verify", ok=False).output
    assert "policy version 1: its definition" in output
    assert "supervision run 1: its last_message differ" in output
    assert "its alerts name other conversations than the entry drew" in output
