"""A retention run purges messages that alerts, review items and scored sessions point at: the purge
succeeds, the decisions stay (they are records of their own), the copies of content go, and `verify`
still passes. Found at the merge of the supervision and review branches: the purge failed on a
foreign key with a traceback."""

from __future__ import annotations

from pathlib import Path

from chataudit.store import Archive
from reviews_support import run, run_json, scores, service_archive


def test_retention_purges_messages_under_alerts_items_and_reviews(tmp_path: Path) -> None:
    db = service_archive(tmp_path)
    raised = run_json(db, "supervise", "run")
    assert raised["alerts"] > 0 and raised["queued"]["opened"] > 0
    queue = run_json(db, "supervise", "queue")
    first = queue[0]["id"]
    run_json(db, "supervise", "close", str(first), "--disposition", "coaching", "--reason", "told her", operator="qa_chen")
    reviewed = run_json(db, "review", "score", "--session", "13-1", *scores(7), operator="ZhangWei")

    run(db, "retention", "set", "default", "30d")
    purged = run_json(db, "retention", "apply")
    assert purged["purged"] > 0

    run(db, "verify")  # exits 0: no tampering reported for the records that outlived their messages
    with Archive(db, create=False) as archive:
        assert archive.db.execute("SELECT count(*) FROM messages").fetchone()[0] == 0
        left = archive.db.execute("SELECT count(*), count(matched) FROM supervision_alerts"
                                  " WHERE kind = 'policy'").fetchone()
    assert left[0] == raised["alerts"] and left[1] == 0  # every alert stays; no copy of a hit does
    shown = run_json(db, "supervise", "show", str(first))
    assert shown["item"]["status"] == "closed" and shown["item"]["disposition"] == "coaching"
    assert all(a["purged"] and a["message"] is None and a["context"] == [] for a in shown["alerts"]
               if a["kind"] == "policy")
    assert run_json(db, "review", "show", str(reviewed["id"]))["session"]["session"] == reviewed["session"]
