"""The import builds the same logical archive as the code before issue 14's speed work.

``tests/fixtures/ingest/golden.json`` was written by this test (``CHATAUDIT_WRITE_GOLDEN=1``) with
the import of commit 2501945, before the hot path changed: every leaf's kind and hash, the signed
root, and a digest of the messages and sightings tables. The salts are random in real use; here
the ledger's ``os.urandom`` is one deterministic byte stream (consumed in the same order by both codes: each new
message's salts in id order, then each sighting's salt in leaf order) and the import instant is
fixed, so the leaves must come out byte for byte the same.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from chataudit import importer
from chataudit.importer import import_paths
from chataudit.ledger import leaves as ledger_leaves
from chataudit.ledger import log as ledger_log
from chataudit.ledger.log import Ledger
from chataudit.store import Archive
from chataudit.store import sqlite as store_sqlite

FIXTURES = Path(__file__).parent / "fixtures"
GOLDEN = FIXTURES / "ingest" / "golden.json"


class _Stream:
    """os.urandom as one deterministic stream: the same bytes however the reads are chunked."""

    def __init__(self) -> None:
        self.buffer = b""
        self.counter = 0

    def __call__(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self.buffer += hashlib.sha256(b"golden-%d" % self.counter).digest()
            self.counter += 1
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out


class _FixedNow(datetime):
    @classmethod
    def now(cls, tz=None):  # noqa: D102 — the import instant written into the source leaf
        return datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def _inputs(folder: Path) -> list[Path]:
    """A mix of formats, with a re-export that grew (only its new messages are new) and a second
    copy of messages already there (sightings of two sources)."""
    names = [
        ("generic/family.jsonl", "family.jsonl"),
        ("whatsapp/WhatsApp Chat with Alice.txt", "alice.txt"),
        ("wechat/memotrace/梅梅_utf8.csv", "meimei.csv"),
        ("email/thread_en.mbox", "thread.mbox"),
        ("wecom/archive.jsonl", "wecom.jsonl"),
    ]
    paths = []
    for given, name in names:
        target = folder / name
        shutil.copyfile(FIXTURES / given, target)
        paths.append(target)
    lines = (FIXTURES / "whatsapp/WhatsApp Chat with Alice.txt").read_bytes().splitlines(keepends=True)
    early = folder / "alice-early.txt"  # the same chat exported before its last messages
    early.write_bytes(b"".join(lines[:12]))
    csv_lines = (FIXTURES / "wechat/memotrace/梅梅_utf8.csv").read_bytes().splitlines(keepends=True)
    grown = folder / "meimei-grown.csv"  # a re-export with the same rows and a few more
    grown.write_bytes(b"".join(csv_lines[:68]))
    return [early, *paths[:2], grown, *paths[2:]]


def _logical(archive: Archive) -> dict:
    db = archive.db
    ledger = Ledger(archive)
    # the full-text index is contentless: compare its token instances
    db.execute("CREATE VIRTUAL TABLE temp.fts_instances USING fts5vocab(main, message_fts, 'instance')")
    leaves = [[kind, leaf_hash.hex()] for kind, leaf_hash in
              db.execute("SELECT kind, leaf_hash FROM ledger_leaves ORDER BY idx")]
    checkpoint = ledger.latest_checkpoint()

    def digest(sql: str) -> str:
        h = hashlib.sha256()
        for row in db.execute(sql):
            h.update(json.dumps([v.hex() if isinstance(v, bytes) else v for v in row], ensure_ascii=False).encode())
        return h.hexdigest()

    return {
        "leaves": leaves,
        "tree_size": checkpoint.tree_size,
        "root": checkpoint.root.hex(),
        "messages": db.execute("SELECT count(*) FROM messages").fetchone()[0],
        "sightings": db.execute("SELECT count(*) FROM sightings").fetchone()[0],
        "messages_digest": digest("SELECT * FROM messages ORDER BY id"),
        "sightings_digest": digest("SELECT source, message, position, sender_name, utc_offset_min, edited_at_ms,"
                                   " message_id, extras FROM sightings ORDER BY source, message"),
        "ledger_sightings_digest": digest("SELECT source, leaf, hash, salt FROM ledger_sightings ORDER BY source, leaf"),
        "salts_digest": digest("SELECT idx, salts, fields, conversation, sent_at_ms, sender FROM ledger_leaves ORDER BY idx"),
        "fts_digest": digest("SELECT term, doc, col, offset FROM temp.fts_instances ORDER BY doc, offset, term"),
    }


def _build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    folder = tmp_path / "in"
    folder.mkdir()
    paths = _inputs(folder)
    stream = _Stream()  # the ledger's salts only (a parsing process' start draws random bytes too)
    proxy = type("_Os", (), {"__getattr__": lambda self, name: getattr(os, name), "urandom": staticmethod(stream)})()
    for module in (ledger_leaves, ledger_log):
        monkeypatch.setattr(module, "os", proxy)
    monkeypatch.setattr(store_sqlite, "datetime", _FixedNow)
    with Archive(tmp_path / "golden.db") as archive:
        for path in paths:  # one import per file, as a watcher would run them
            summary = import_paths(archive, [path], tz="Asia/Shanghai", base=folder)
            assert not summary.errors, summary.errors
        return _logical(archive)


@pytest.mark.parametrize("second_process", [False, True], ids=["in-process", "parsing-process"])
def test_import_builds_the_same_leaves_root_and_rows_as_before(tmp_path, monkeypatch, second_process):
    # every file through the parsing process (as a large one goes), or none
    monkeypatch.setattr(importer, "PIPELINE_MIN_BYTES", 0 if second_process else 1 << 60)
    built = _build(tmp_path, monkeypatch)
    if os.environ.get("CHATAUDIT_WRITE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(built, indent=1) + "\n", encoding="utf-8")
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert built["messages"] == golden["messages"] and built["sightings"] == golden["sightings"]
    assert built["sightings"] > built["messages"]  # the re-exports' copies are sightings, not messages
    for name in ("messages_digest", "sightings_digest", "fts_digest"):
        assert built[name] == golden[name], name
    assert len(built["leaves"]) == len(golden["leaves"])
    for index, (now, then) in enumerate(zip(built["leaves"], golden["leaves"])):
        assert now == then, f"leaf {index} differs"
    assert built["ledger_sightings_digest"] == golden["ledger_sightings_digest"]
    assert built["salts_digest"] == golden["salts_digest"]
    assert (built["tree_size"], built["root"]) == (golden["tree_size"], golden["root"])
