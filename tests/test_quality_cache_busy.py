"""The NLP cache never spins on a write it cannot get: a `quality` streaming texts from an older snapshot
while another process writes the archive (a second `quality`) keeps its analyses and skips caching them,
instead of retrying BEGIN IMMEDIATE forever (SQLITE_BUSY_SNAPSHOT never clears by waiting)."""

from __future__ import annotations

import re
import signal
import sqlite3
from pathlib import Path

import pytest

from chataudit.importer import import_paths
from chataudit.quality import config, nlp
from chataudit.store import Archive
from chataudit.store.sqlite import BUSY_SNAPSHOT

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def _in_time(call, seconds: int = 20):
    """``call()``'s result, or a failure if it has not returned in ``seconds`` (it used to spin forever;
    the alarm's handler runs between two of the loop's tries)."""
    def too_long(*_):
        raise AssertionError("still waiting for the write lock")

    previous = signal.signal(signal.SIGALRM, too_long)
    signal.alarm(seconds)
    try:
        return call()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_analyses_stand_when_the_cache_cannot_be_written_from_a_stale_snapshot(tmp_path) -> None:
    db = tmp_path / "a.db"
    with Archive(db) as archive:
        import_paths(archive, [str(SAMPLES)], tz="Asia/Shanghai")
        texts = [(bytes(h), t) for h, t in archive.db.execute(
            "SELECT content_hash, text FROM messages WHERE text <> '' LIMIT 20")]
        streaming = archive.db.execute("SELECT text FROM messages")  # a read left open, as quality streams
        streaming.fetchmany(2)
        other = sqlite3.connect(db, isolation_level=None)  # the other writer moves the archive on
        other.execute("INSERT INTO quality_nlp (content_hash, analyzer, sentiment, flags) VALUES (x'00', 'other', 0, 0)")
        other.close()
        with pytest.raises(sqlite3.OperationalError) as busy:  # the store says so at once, no endless retry
            _in_time(lambda: archive.db.execute("BEGIN IMMEDIATE"))
        assert busy.value.sqlite_errorcode == BUSY_SNAPSHOT
        cache = nlp.Cache(archive.db, nlp.Analyzer(config.load_lexicons()))
        results = _in_time(lambda: cache.analyze_all(texts))
        _in_time(cache.flush)  # (a report flushes when its read is over; a large one also on the way)
        assert len(results) == len({h for h, _ in texts}) and cache.unsaved == cache.analyzed > 0
        streaming.close()
        assert archive.db.execute("SELECT count(*) FROM quality_nlp WHERE analyzer <> 'other'").fetchone()[0] == 0
        again = nlp.Cache(archive.db, nlp.Analyzer(config.load_lexicons()))
        again.analyze_all(texts)
        again.flush()  # the read has ended: now they are cached
        assert again.unsaved == 0 and archive.db.execute(
            "SELECT count(*) FROM quality_nlp WHERE analyzer <> 'other'").fetchone()[0] == again.analyzed > 0


def test_analyses_are_held_and_written_sorted_in_one_transaction_per_flush(tmp_path, monkeypatch) -> None:
    """A report's new analyses are written FLUSH_ROWS at a time, sorted by content hash (random keys
    written a batch at a time touched a page per row: a 44 GB WAL at 10M messages); a text seen again
    before they are written is not analysed twice; a second report reads them all from the cache."""
    monkeypatch.setattr(nlp.Cache, "FLUSH_ROWS", 5)
    with Archive(tmp_path / "a.db") as archive:
        statements: list[str] = []
        archive.db.set_trace_callback(statements.append)
        items = [(bytes([99 - i]) * 32, f"第{i}条：请问什么时候发货？") for i in range(12)]  # hashes descending
        cache = nlp.Cache(archive.db, nlp.Analyzer(config.load_lexicons()))
        cache.analyze_all(items[0:4])
        assert archive.db.execute("SELECT count(*) FROM quality_nlp").fetchone()[0] == 0  # held
        cache.analyze_all(items[4:8] + items[0:1])  # 8 held ≥ 5: written; items[0] came from the held ones
        assert cache.analyzed == 8 and cache.cached == 1
        assert archive.db.execute("SELECT count(*) FROM quality_nlp").fetchone()[0] == 8
        cache.analyze_all(items[8:12])
        cache.flush()
        written = [bytes(h) for (h,) in archive.db.execute("SELECT content_hash FROM quality_nlp")]
        assert len(written) == 12 and cache.analyzed == 12 and not cache.pending
        inserts = [s for s in statements if s.startswith("INSERT OR REPLACE INTO quality_nlp")]
        assert statements.count("BEGIN IMMEDIATE") == 2 and len(inserts) == 12
        order = [re.search(r"x'([0-9a-f]{64})'", s, re.IGNORECASE).group(1).lower() for s in inserts]
        assert order[:8] == sorted(order[:8]) != [h.hex() for h, _ in items[:8]] and order[8:] == sorted(order[8:])
        again = nlp.Cache(archive.db, nlp.Analyzer(config.load_lexicons()))
        assert again.analyze_all(items) == {h: cache.lookup([h])[h] for h, _ in items}
        assert again.analyzed == 0 and again.cached == 12
