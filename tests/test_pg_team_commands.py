"""Issue 15: quality, people, supervise and review give the same --json on a PostgreSQL archive as on
an SQLite archive file holding the same messages (key by key; only clocks differ), and `verify`
passes on PostgreSQL after their writes. One pair of archives is built per module (the expensive
part) and each test works on its own copies (a database template on PostgreSQL)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from chataudit.governance import roster as roster_api
from chataudit.ledger import keys
from chataudit.store import Archive

from reviews_support import ROSTER, run, run_json, scores, write_chats
from supervision_support import FIXTURES as SUPERVISION_FIXTURES

CLOCKS = {"timing_seconds", "seconds", "started_at", "finished_at", "opened_at", "assigned_at", "closed_at",
          "raised_at", "first_raised_at", "due_at", "created_at", "submitted_at", "at", "updated_at", "overdue",
          "per_second"}


def without_clocks(value: Any) -> Any:
    """The value with every wall-clock reading taken out (they differ between two runs)."""
    if isinstance(value, dict):
        return {k: without_clocks(v) for k, v in value.items() if k not in CLOCKS}
    if isinstance(value, list):
        return [without_clocks(v) for v in value]
    return value


@pytest.fixture(scope="module")
def templates(pg_cluster, tmp_path_factory) -> dict[str, Any]:
    """The review tests' service chats (three agents, twelve sessions) and the supervision queue's
    chats, with the roster, in an archive file and in a PostgreSQL database."""
    folder = tmp_path_factory.mktemp("team")
    sqlite_db = folder / "team.db"
    pg_db = pg_cluster.create_database("team_template")
    with pytest.MonkeyPatch.context() as monkeypatch:  # the keys where each test's isolated_environment looks
        monkeypatch.setenv("CHATAUDIT_KEYS", str(tmp_path_factory.getbasetemp() / "keys"))
        for db in (sqlite_db, pg_db):
            run(db, "import", str(write_chats(folder)), str(SUPERVISION_FIXTURES / "queue_chats.csv"),
                "--tz", "Asia/Shanghai")
            with Archive(db, create=False) as archive:  # (`roster set` is another command's business)
                roster_api.set_roster(archive, ROSTER, operator="lead", params={})
    return {"folder": folder, "sqlite": sqlite_db, "postgresql": pg_db, "cluster": pg_cluster}


_copies = iter(range(1, 1 << 30))


@pytest.fixture
def stores(templates, tmp_path: Path) -> tuple[Path, str]:
    """Fresh copies of both archives (with the file's signing key) for one test."""
    for path in templates["folder"].iterdir():
        if path.name.startswith("team.db"):
            shutil.copy(path, tmp_path / path.name)
    pg_db = templates["cluster"].create_database(f"team_copy{next(_copies)}", template="team_template")
    shutil.copy(keys.default_key_path(templates["postgresql"]), keys.default_key_path(pg_db))  # its signing key
    return tmp_path / "team.db", pg_db


def both(stores: tuple[Path, str], *args: str, operator: str = "lead") -> Any:
    """The --json of one command on each store; asserts they are equal but for clocks."""
    sqlite_out, pg_out = (run_json(db, *args, operator=operator) for db in stores)
    assert without_clocks(pg_out) == without_clocks(sqlite_out), args
    return pg_out


def test_quality_and_people_json_equal_sqlites_key_by_key(stores) -> None:
    report = both(stores, "quality", "--roster", str(ROSTER), "--sla", "service=60")
    assert len(report["session_rows"]) >= 12 and len(report["by_agent"]) >= 3  # a real report, not an empty one
    people = both(stores, "people")
    assert {p["sender_key"] for p in people["identities"]} >= {"agent_li", "agent_zhao", "ZhangWei"}


def test_supervise_run_queue_assign_close_and_report_equal_sqlites(stores) -> None:
    sqlite_db, pg_db = stores
    ran = both(stores, "supervise", "run")
    assert ran["alerts"] > 0 and ran["queued"]["opened"] > 0
    queue = both(stores, "supervise", "queue")
    item = queue[0]["id"]
    both(stores, "supervise", "assign", str(item), "--to", "qa_chen")
    closed = both(stores, "supervise", "close", str(item), "--disposition", "coaching", "--reason", "promised a refund",
                  operator="qa_chen")
    assert closed["status"] == "closed"
    assert [i["id"] for i in both(stores, "supervise", "queue", "--status", "all")][0] == item
    for by in ("policy", "agent"):
        report = both(stores, "supervise", "report", "--by", by, "--period", "week")
        assert report["hits"] and report["dispositions"]["coaching"] == 1
    assert both(stores, "supervise", "run")["run"] is None  # nothing new: the run is incremental
    assert json.loads(run(pg_db, "verify", "--json").stdout)["ok"] is True


def test_review_assign_and_score_equal_sqlites(stores) -> None:
    sqlite_db, pg_db = stores
    assigned = both(stores, "review", "assign", "--week", "2026-W11", "--per-agent", "1", "--seed", "42",
                    "--reviewer", "LiNa", "--reviewer", "agent_zhao")
    assert len(assigned["picked"]) >= 3  # one per agent
    task = assigned["reviews"][0]
    scored = both(stores, "review", "score", str(task["id"]), *scores(7), operator=task["reviewer"])
    assert scored["status"] == "submitted" and scored["total"] == 7.0
    own = both(stores, "review", "score", "--session", "1-1", "--self", *scores(9), operator="agent_li")
    assert own["kind"] == "self"
    refused = run(pg_db, "review", "score", "--session", "1-1", "--self", *scores(9), operator="agent_li", ok=False)
    assert "already submitted" in refused.output
    assert json.loads(run(pg_db, "verify", "--json").stdout)["ok"] is True
