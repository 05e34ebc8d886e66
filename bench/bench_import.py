"""Import benchmark: messages/s and peak RSS of `chataudit import` vs a bare-sqlite3 floor.

The floor inserts the very same rows (already built in memory, so no parsing or hashing) with
executemany into the same tables with the same indexes — messages, the FTS index, sightings, the
ledger's leaves and its kept sighting hashes — in one transaction: the least any importer into this schema can cost.

    python bench/bench_import.py [MESSAGES] [--before DIR]    (default 1,000,000)

``--before DIR``: also import with the code in DIR (a checkout of an earlier commit, e.g.
``git worktree add /tmp/before <commit>``), in the same run, for a before/after table.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402

CHILD = r"""
import json, sys, time
from chataudit.importer import import_paths
from chataudit.store import Archive
db, src = sys.argv[1], sys.argv[2]
started = time.perf_counter()
with Archive(db) as archive:
    summary = import_paths(archive, [src], tz="Asia/Shanghai")
elapsed = time.perf_counter() - started
assert not summary.errors, summary.errors
# VmHWM, not ru_maxrss: the latter survives exec and would report the parent's peak
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
import resource
own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"seconds": elapsed, "new": summary.as_dict()["new"], "peak_rss_mb": hwm / 1024,
                  "cpu": own.ru_utime + own.ru_stime, "child_cpu": children.ru_utime + children.ru_stime,
                  "child_peak_rss_mb": children.ru_maxrss / 1024}))
"""


def run_import(db: Path, source: Path, code: Path | None = None) -> dict:
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    env = dict(os.environ, PYTHONPATH=str(code)) if code else None
    output = subprocess.run([sys.executable, "-c", CHILD, str(db), str(source)], check=True,
                            capture_output=True, text=True, env=env, cwd=code).stdout
    return json.loads(output)


def trigram_floor(db: Path, source: Path) -> float:
    """Issue 14's literal floor: the same message rows ``executemany``'d into a plain table (no
    secondary index) with an FTS5 ``trigram`` index of their text, one transaction, no parsing."""
    from chataudit.formats import ParseOptions, generic
    from chataudit.model import zone
    from chataudit.store.sqlite import message_row
    import sqlite3

    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    options = ParseOptions(tz=zone("Asia/Shanghai"))
    rows = [message_row(message, 1, 1) + (0,) for message in generic.parse(source, options)]
    gc.collect()
    connection = sqlite3.connect(db, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(f"CREATE TABLE messages ({', '.join(f'c{n}' for n in range(len(rows[0])))})")
    connection.execute("CREATE VIRTUAL TABLE message_fts USING fts5(body, content='', tokenize='trigram')")
    text_at = 8  # message_row's text column
    started = time.perf_counter()
    connection.execute("BEGIN")
    connection.executemany(f"INSERT INTO messages VALUES ({', '.join('?' * len(rows[0]))})", rows)
    connection.executemany("INSERT INTO message_fts (rowid, body) VALUES (?, ?)",
                           ((n, row[text_at]) for n, row in enumerate(rows, 1)))
    connection.execute("COMMIT")
    seconds = time.perf_counter() - started
    connection.close()
    return seconds


def floor(db: Path, source: Path, bare: bool = False) -> float:
    """Bare sqlite3: same schema, same rows, executemany, same FTS rows; nothing else. ``bare``:
    the messages and their FTS rows only (issue 14's floor: no sightings, no ledger rows)."""
    from chataudit.formats import ParseOptions, generic
    from chataudit.model import zone
    from chataudit.store import Archive
    from chataudit.store.sqlite import ROWID_SHIFT, message_row
    from chataudit.textindex import index_body

    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    with Archive(db) as archive:  # creates the schema; the floor then uses the raw connection
        archive.db.execute("INSERT INTO sources (id, sha256, path, size, format, imported_at) VALUES (1, 'x', 'x', 0, 'x', 'x')")
        conversations = {}
        for n in range(500):
            conversations[f"conv-{n}"] = archive.db.execute(
                "INSERT INTO conversations (platform, native_id) VALUES ('x', ?) RETURNING id", (f"conv-{n}",)).fetchone()[0]
        options = ParseOptions(tz=zone("Asia/Shanghai"))
        rows, bodies, sightings, leaves, kept = [], [], [], [], []
        for i, message in enumerate(generic.parse(source, options), 1):
            row = message_row(message, conversations[message.conversation_id], 1) + (0,)
            rows.append(row)
            bodies.append((int(message.sent_at.timestamp() // 1) * ROWID_SHIFT + i, index_body(message.text)))
            # the same sighting and ledger rows the import writes (leaf hash and the five 16-byte
            # field salts as bytes of their real size: their content costs nothing to store)
            sightings.append((1, i, row[17], row[4], row[6], row[10], row[2], row[15]))
            leaves.append((i, 1, i, os.urandom(32), row[0], row[5], row[4], os.urandom(80)))
            kept.append((1, i, os.urandom(32), os.urandom(16)))  # the signed sighting's hash and salt
        gc.collect()
        db_ = archive.db
        started = time.perf_counter()
        db_.execute("BEGIN")
        db_.executemany(
            "INSERT INTO messages (conversation, platform, message_id, sender_id, sender_name, sent_at_ms,"
            " utc_offset_min, kind, text, reply_to, edited_at_ms, amount, currency, attachments, is_me, extras,"
            " source, position, content_hash, content_key, occurrence) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        db_.executemany("INSERT INTO message_fts (rowid, body) VALUES (?, ?)", bodies)
        if bare:
            db_.execute("COMMIT")
            return time.perf_counter() - started
        db_.executemany("INSERT INTO sightings (source, message, position, sender_name, utc_offset_min,"
                        " edited_at_ms, message_id, extras) VALUES (?,?,?,?,?,?,?,?)", sightings)
        db_.executemany("INSERT INTO ledger_leaves (idx, kind, ref, leaf_hash, conversation, sent_at_ms, sender,"
                        " salts) VALUES (?,?,?,?,?,?,?,?)", leaves)
        db_.executemany("INSERT INTO ledger_sightings (source, leaf, hash, salt) VALUES (?,?,?,?)", kept)
        db_.execute("COMMIT")
        return time.perf_counter() - started


def main() -> None:
    args = sys.argv[1:]
    before = None
    if "--before" in args:
        at = args.index("--before")
        before = Path(args[at + 1]).resolve()
        del args[at:at + 2]
    count = int(args[0]) if args else 1_000_000
    OUT.mkdir(exist_ok=True)
    source = OUT / f"generated-{count}.jsonl"
    if not source.exists():
        generate(source, count)
    size_mb = source.stat().st_size / 1e6
    earlier = run_import(OUT / "import-before.db", source, before) if before else None
    result = run_import(OUT / "import.db", source)
    floor_seconds = floor(OUT / "floor.db", source)
    rate = result["new"] / result["seconds"]
    floor_rate = count / floor_seconds
    print(f"import of {count:,} messages ({size_mb:.0f} MB generic JSONL, Chinese/English, FTS-indexed)")
    if earlier:
        print(f"  before ({before.name:9s}): {earlier['seconds']:7.2f} s  {earlier['new'] / earlier['seconds']:10,.0f} msg/s"
              f"  peak RSS {earlier['peak_rss_mb']:.0f} MB  CPU {earlier['cpu']:.1f} s  ratio {earlier['seconds'] / floor_seconds:.2f}x")
    print(f"  chataudit import : {result['seconds']:7.2f} s  {rate:10,.0f} msg/s  peak RSS {result['peak_rss_mb']:.0f} MB"
          f" (parsing process {result['child_peak_rss_mb']:.0f} MB)  CPU {result['cpu']:.1f} s + parsing process"
          f" {result['child_cpu']:.1f} s")
    print(f"  floor (sqlite3)  : {floor_seconds:7.2f} s  {floor_rate:10,.0f} msg/s  (executemany of prebuilt message, FTS, sighting and leaf rows)")
    print(f"  ratio            : {result['seconds'] / floor_seconds:.2f}x the floor's time")
    bare_seconds = floor(OUT / "floor-bare.db", source, bare=True)
    print(f"  bare floor       : {bare_seconds:7.2f} s  {count / bare_seconds:10,.0f} msg/s  (messages and FTS rows only)"
          f"  ratio {result['seconds'] / bare_seconds:.2f}x" +
          (f", before {earlier['seconds'] / bare_seconds:.2f}x" if earlier else ""))
    trigram_seconds = trigram_floor(OUT / "floor-trigram.db", source)
    print(f"  trigram floor    : {trigram_seconds:7.2f} s  {count / trigram_seconds:10,.0f} msg/s  (the same rows in a plain"
          f" table + FTS5 trigram: issue 14's literal floor)  ratio {result['seconds'] / trigram_seconds:.2f}x")
    # peak RSS at a tenth of the size shows whether memory grows with the file
    if count >= 100_000:
        small = OUT / f"generated-{count // 10}.jsonl"
        if not small.exists():
            generate(small, count // 10)
        small_result = run_import(OUT / "import-small.db", small)
        print(f"  peak RSS at {count // 10:,} messages: {small_result['peak_rss_mb']:.0f} MB (streaming: independent of file size)")


if __name__ == "__main__":
    main()
