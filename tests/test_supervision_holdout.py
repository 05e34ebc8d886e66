"""A hold-out set for the default policy: 24 service chats written apart from the policy's own
fixture and never used to tune it (tests/fixtures/supervision_holdout/make_holdout.py writes them):
32 planted violations, many dodged (违 约, 違約, 违*约, 违-约, a zero-width space, ｗｘ, 加V, Q Q), and
37 clean messages that look like them (约定, 赔付, 滚筒, 微信支付)."""

from __future__ import annotations

import json
from pathlib import Path

from chataudit.store import Archive
from reviews_support import run, run_json

HOLDOUT = Path(__file__).parent / "fixtures" / "supervision_holdout"


def test_the_default_policy_finds_the_planted_violations_and_spares_the_look_alikes(tmp_path: Path) -> None:
    db = tmp_path / "holdout.db"
    run(db, "import", str(HOLDOUT / "holdout.jsonl"), "--format", "generic")
    run_json(db, "supervise", "run")
    labels = json.loads((HOLDOUT / "labels.json").read_text(encoding="utf-8"))
    with Archive(db, create=False) as archive:
        hits: dict[str, set[str]] = {}
        for native, category in archive.db.execute(
                "SELECT m.message_id, a.category FROM supervision_alerts a JOIN messages m ON m.id = a.message"):
            hits.setdefault(native, set()).add(category)
    planted = [m for m, label in labels.items() if label]
    clean = [m for m, label in labels.items() if not label]
    found = [m for m in planted if m in hits]
    assert len(found) / len(planted) >= 0.95, sorted(set(planted) - set(found))
    assert [m for m in clean if m in hits] == []
    right_category = [m for m in found if labels[m] in hits[m]]
    assert len(right_category) / len(planted) >= 0.9
