"""The default policy against a labelled WeCom export with planted violations (dodges included:
违 约, 違約, 违*约, 全角, 加V, pinyin initials) and clean look-alikes (滚筒, 寄回扣, 请勿私下转账 …)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from chataudit.importer import import_paths
from chataudit.store import Archive
from chataudit.supervision import engine

FIXTURE = Path(__file__).parent / "fixtures" / "supervision"


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> dict:
    db = tmp_path_factory.mktemp("supervision") / "a.db"
    with Archive(db) as archive:
        import_paths(archive, [FIXTURE / "chats.jsonl"], tz="Asia/Shanghai")
        engine.run(archive, operator="tester", params={})
        found: dict[str, set[str]] = defaultdict(set)
        for msgid, category in archive.db.execute(
                "SELECT m.message_id, a.category FROM supervision_alerts a JOIN messages m ON m.id = a.message"):
            found[msgid].add(category)
    labels = json.loads((FIXTURE / "labels.json").read_text(encoding="utf-8"))
    planted = {k: v for k, v in labels.items() if v}
    clean = [k for k, v in labels.items() if not v]
    missed = sorted(k for k, category in planted.items() if category not in found.get(k, set()))
    false_positives = sorted(k for k in clean if found.get(k))
    return {"planted": planted, "clean": clean, "missed": missed, "false_positives": false_positives, "found": found}


def test_recall_of_planted_violations_is_at_least_95_percent(outcome: dict) -> None:
    recall = 1 - len(outcome["missed"]) / len(outcome["planted"])
    print(f"recall {recall:.3f} ({len(outcome['planted']) - len(outcome['missed'])}/{len(outcome['planted'])}), "
          f"missed: {outcome['missed']}")
    assert len(outcome["planted"]) >= 80
    assert recall >= 0.95


def test_false_positives_on_clean_look_alikes_are_reported_and_few(outcome: dict) -> None:
    rate = len(outcome["false_positives"]) / len(outcome["clean"])
    print(f"false positives {len(outcome['false_positives'])}/{len(outcome['clean'])} = {rate:.3f}: "
          f"{[(k, sorted(outcome['found'][k])) for k in outcome['false_positives']]}")
    assert len(outcome["clean"]) >= 80
    assert rate <= 0.03
