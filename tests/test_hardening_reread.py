"""Forgetting --tz (issue #11): a warning when wall-clock times are read in this machine's zone, and
`import --reread SOURCE --tz ZONE FILE` that replaces the source's messages as a ledgered amendment."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from chataudit.cli import cli
from chataudit.ledger.verify import verify_archive
from chataudit.store import Archive

FIXTURES = Path(__file__).parent / "fixtures"
WANG = FIXTURES / "compare" / "wang_phone.csv"  # wall clock only, made in Asia/Shanghai
SHOP = FIXTURES / "compare" / "shop_console.jsonl"  # UTC instants


def run(db: Path, *args: str, code: int = 0):
    result = CliRunner().invoke(cli, ["--db", str(db), *args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


@pytest.fixture
def berlin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATAUDIT_TZ", "Europe/Berlin")  # "this machine" is in Berlin


def test_wall_clock_times_read_in_the_machine_zone_warn(tmp_path: Path, berlin: None) -> None:
    db = tmp_path / "a.db"
    result = run(db, "import", str(WANG))
    assert "warning:" in result.stderr and "read in Europe/Berlin (this machine's zone" in result.stderr
    assert "import --reread" in result.stderr
    summary = json.loads(run(tmp_path / "b.db", "import", str(WANG), "--json").stdout)
    assert len(summary["warnings"]) == 1 and "Europe/Berlin" in summary["warnings"][0]


@pytest.mark.parametrize("args", [
    ["--tz", "Asia/Shanghai"],  # the zone is given
    [],                          # instants (UTC) do not depend on any zone
])
def test_no_warning_when_the_zone_is_known_or_irrelevant(tmp_path: Path, berlin: None, args: list[str]) -> None:
    path = WANG if args else SHOP
    assert "warning" not in run(tmp_path / "a.db", "import", str(path), *args).stderr


def test_no_warning_once_the_archive_has_a_zone(tmp_path: Path, berlin: None) -> None:
    db = tmp_path / "a.db"
    run(db, "import", str(SHOP), "--tz", "Asia/Shanghai")
    assert "warning" not in run(db, "import", str(WANG)).stderr


def rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(sql).fetchall()


def test_reread_replaces_the_messages_as_a_ledgered_amendment(tmp_path: Path, berlin: None) -> None:
    db = tmp_path / "a.db"
    run(db, "import", str(WANG), "--label", "wang-phone")  # read in Berlin: 7 hours off
    run(db, "import", str(SHOP), "--label", "shop")
    first = rows(db, "SELECT min(sent_at_ms) FROM messages WHERE source = 1")[0][0]
    leaves_before = rows(db, "SELECT count(*) FROM ledger_leaves")[0][0]
    off = json.loads(run(db, "compare", "wang-phone", "shop", "--json", code=1).stdout)
    assert off["clock_offset_seconds"] == -7 * 3600

    done = json.loads(run(db, "--operator", "clerk-zhao", "import", "--reread", "wang-phone", "--tz",
                          "Asia/Shanghai", str(WANG), "--json").stdout)
    assert (done["source"], done["new_source"], done["tz"]) == (1, 3, "Asia/Shanghai")
    assert done["replaced"] == 26 and done["messages"] == 26 and done["kept"] == 0
    # the messages moved by the zone difference, and now agree with the shop's copy by instant
    again = rows(db, "SELECT min(m.sent_at_ms) FROM messages m JOIN sightings s ON s.message = m.id"
                     " WHERE s.source = 3")[0][0]
    assert again - first == -7 * 3600 * 1000  # 14:00 in Berlin (UTC+1) was 14:00 in Shanghai (UTC+8)
    assert rows(db, "SELECT count(*) FROM sightings WHERE source = 1") == [(0,)]
    now = json.loads(run(db, "compare", "wang-phone", "shop", "--json", code=1).stdout)
    assert now["clock_offset_seconds"] == 0 and now["summary"]["altered"] == 1
    # the new source is the same file, read again; its label is the old one's
    source = rows(db, "SELECT sha256, label, path FROM sources WHERE id = 3")[0]
    original = rows(db, "SELECT sha256 FROM sources WHERE id = 1")[0][0]
    assert source == (original + "@Asia/Shanghai", "wang-phone", str(WANG))
    # the old leaves stay (tombstones), the purge events say why, verify passes and tells it
    assert rows(db, "SELECT count(*) FROM ledger_leaves")[0][0] > leaves_before
    reasons = {r[0] for r in rows(db, "SELECT reason FROM ledger_events WHERE action = 'purge'")}
    assert reasons == {"re-read in Asia/Shanghai: source 1 replaced by source 3 (by clerk-zhao)"}
    with Archive(db) as archive:
        report = verify_archive(archive)
    assert report.ok, report.problems
    assert sum(n["kind"] == "purged" for n in report.notices) == 26
    [notice] = [n for n in report.notices if n["kind"] == "reread"]
    assert "read again in Asia/Shanghai, replacing source 1" in notice["detail"]
    # the audit trail says who re-read what
    [entry] = json.loads(run(db, "audit", "--json").stdout)
    assert entry["operator"] == "clerk-zhao" and entry["command"] == "import --reread"
    assert entry["facts"]["source"] == 1 and entry["facts"]["new_source"] == 3 and entry["facts"]["replaced"] == 26
    # check finds the file still matching the re-read source
    checked = json.loads(run(db, "check", "3", "--json").stdout)
    assert checked["source"]["sha256_matches_file"] is True


def test_reread_keeps_messages_another_source_holds(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    half = tmp_path / "half.csv"
    half.write_text("".join(WANG.read_text(encoding="utf-8-sig").splitlines(True)[:11]), encoding="utf-8")
    run(db, "import", str(WANG), "--tz", "UTC")
    run(db, "import", str(half), "--tz", "UTC")  # holds the first 10 messages too, read the same way
    done = json.loads(run(db, "import", "--reread", "1", "--tz", "Asia/Shanghai", str(WANG), "--json").stdout)
    assert (done["replaced"], done["kept"]) == (16, 10)
    assert rows(db, "SELECT count(*) FROM sightings WHERE source = 2") == [(10,)]
    with Archive(db) as archive:
        assert verify_archive(archive).ok


def test_reread_refuses_another_file_and_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    run(db, "import", str(WANG), "--tz", "UTC", "--label", "wang")
    edited = tmp_path / "wang_phone.csv"
    edited.write_text(WANG.read_text(encoding="utf-8-sig").replace("1299", "129"), encoding="utf-8")
    before = rows(db, "SELECT count(*) FROM ledger_leaves")
    failed = run(db, "import", "--reread", "wang", "--tz", "Asia/Shanghai", str(edited), code=1)
    assert "not the file that was imported" in failed.output and "Traceback" not in failed.output
    assert "needs --tz" in run(db, "import", "--reread", "wang", str(WANG), code=1).output
    assert "no source 'nothing'" in run(db, "import", "--reread", "nothing", "--tz", "UTC", str(WANG), code=1).output
    assert rows(db, "SELECT count(*) FROM ledger_leaves") == before
    assert rows(db, "SELECT count(*) FROM sources") == [(1,)]


def test_reread_of_a_held_conversation_is_refused_whole(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    copy = tmp_path / "wang.csv"
    shutil.copy(WANG, copy)
    run(db, "import", str(copy), "--tz", "UTC")
    run(db, "hold", "add", "--conversation", "youyi-store", "--reason", "lawsuit 2026-17")
    leaves = rows(db, "SELECT count(*) FROM ledger_leaves")
    failed = run(db, "import", "--reread", "1", "--tz", "Asia/Shanghai", str(copy), code=1)
    assert "legal hold" in failed.output and "Traceback" not in failed.output
    assert rows(db, "SELECT count(*) FROM sources") == [(1,)]
    assert rows(db, "SELECT count(*) FROM ledger_leaves") == leaves
