"""Hardening of governance (issue #10): holds as ledger facts, mode changes under authority, audited
reads written before they are served, retention runs that cannot purge ahead of time, listings audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chataudit.store import Archive
from test_governance import CHATS, ROSTER, TEAM, entries, run, tamper

AS_OF = "2026-04-01"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "h.db"
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
