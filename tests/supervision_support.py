"""Alerts for the review-queue tests: rows inserted into supervision_alerts (the engine's output
contract, migration 0018) for real imported messages, as `supervise run` would raise them — and, as it
does, taken into the review queue (`queue.intake`)."""

from __future__ import annotations

from pathlib import Path

from chataudit.governance import clock
from chataudit.store import Archive
from chataudit.supervision import queue

from web_support import run_cli

FIXTURES = Path(__file__).parent / "fixtures" / "supervision"


def queue_archive(folder: Path, name: str = "queue.db") -> Path:
    """Three service chats (c-101 agent_li, c-102 ZhangWei, c-103 LiNa) and their roster."""
    db = folder / name
    run_cli(db, "import", str(FIXTURES / "queue_chats.csv"), "--tz", "Asia/Shanghai")
    run_cli(db, "roster", "set", str(FIXTURES / "roster.csv"))
    return db


def raise_alert(db: Path, conversation: str, term: str, *, policy: str = "promises", category: str = "promise",
                rule: str | None = None, raised_at: str | None = None) -> int:
    """An alert on the first message of ``conversation`` (native id) whose text holds ``term``."""
    with Archive(db, create=False) as archive:
        row = archive.db.execute(
            "SELECT m.id, m.conversation, m.text FROM messages m JOIN conversations c ON c.id = m.conversation"
            " WHERE c.native_id = ? AND instr(m.text, ?) > 0 ORDER BY m.sent_at_ms LIMIT 1",
            (conversation, term)).fetchone()
        assert row is not None, (conversation, term)
        start = row[2].index(term)
        with archive.db:
            alert = archive.db.execute(
                "INSERT INTO supervision_alerts (conversation, message, kind, policy, category, rule, matched, start,"
                " end, raised_at) VALUES (?, ?, 'policy', ?, ?, ?, ?, ?, ?, ?)",
                (row[1], row[0], policy, category, rule or term, term, start, start + len(term),
                 raised_at or clock.iso())).lastrowid
        queue.intake(archive, operator="supervise-run")
        return alert


def sample_alert(db: Path, conversation: str, raised_at: str | None = None) -> int:
    """A conversation drawn by `supervise sample` (no message, no policy)."""
    with Archive(db, create=False) as archive:
        with archive.db:
            conv = archive.db.execute("SELECT id FROM conversations WHERE native_id = ?", (conversation,)).fetchone()[0]
            alert = archive.db.execute("INSERT INTO supervision_alerts (conversation, kind, raised_at)"
                                       " VALUES (?, 'sample', ?)", (conv, raised_at or clock.iso())).lastrowid
        queue.intake(archive, operator="supervise-sample")
        return alert
