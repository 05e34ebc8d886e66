"""The full-text index's write buffer (migration 0023): set on every archive, and an import that
overflows the buffer many times still finds what it stored."""

from __future__ import annotations

from chataudit.store import Archive
from chataudit.textindex import index_body


def test_every_archive_buffers_8_mib_of_full_text_rows(tmp_path):
    with Archive(tmp_path / "a.db") as archive:
        value = archive.db.execute("SELECT v FROM message_fts_config WHERE k = 'hashsize'").fetchone()
        assert value is not None and value[0] == 8 * 1024 * 1024


def test_rows_written_across_many_flushes_are_all_found(tmp_path):
    # a 4 KiB buffer flushes every few rows: the segments it leaves answer like one
    with Archive(tmp_path / "a.db") as archive:
        db = archive.db
        db.execute("INSERT INTO message_fts (message_fts, rank) VALUES ('hashsize', 4096)")
        db.execute("BEGIN")
        db.executemany("INSERT INTO message_fts (rowid, body) VALUES (?, ?)",
                       [(n, index_body(f"退货 订单{n} parcel{n % 7}")) for n in range(1, 3001)])
        db.execute("COMMIT")
        segments = db.execute("SELECT count(*) FROM message_fts_data").fetchone()[0]
        assert segments > 10
        found = db.execute("SELECT count(*) FROM message_fts WHERE message_fts MATCH ?",
                           (index_body("退货"),)).fetchone()[0]
        assert found == 3000
        assert db.execute("SELECT count(*) FROM message_fts WHERE message_fts MATCH ?",
                          (index_body("parcel3"),)).fetchone()[0] == len([n for n in range(1, 3001) if n % 7 == 3])
