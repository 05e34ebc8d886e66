"""The NLP cache never spins on a write it cannot get: a `quality` streaming texts from an older snapshot
while another process writes the archive (a second `quality`) keeps its analyses and skips caching them,
instead of retrying BEGIN IMMEDIATE forever (SQLITE_BUSY_SNAPSHOT never clears by waiting)."""

from __future__ import annotations

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
        assert len(results) == len({h for h, _ in texts}) and cache.unsaved == cache.analyzed > 0
        streaming.close()
        assert archive.db.execute("SELECT count(*) FROM quality_nlp WHERE analyzer <> 'other'").fetchone()[0] == 0
        again = nlp.Cache(archive.db, nlp.Analyzer(config.load_lexicons()))
        again.analyze_all(texts)  # the read has ended: now they are cached
        assert again.unsaved == 0 and archive.db.execute(
            "SELECT count(*) FROM quality_nlp WHERE analyzer <> 'other'").fetchone()[0] == again.analyzed > 0
