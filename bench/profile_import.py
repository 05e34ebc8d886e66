"""Where an import's time goes: wall time per phase of one `chataudit import`, in a child process.

    python bench/profile_import.py [MESSAGES]    (default 1,000,000; the file from bench_import.py)

Phases are timed by wrapping the import's own steps (no profiler overhead); "parse" is the
format's streaming parse plus the importer's checks, run alone over the same file first. Then the
writing process's CPU per SQL statement (``execute``/``executemany`` on the archive's connection;
what is left is Python: leaves, hashing, the row loop, unpickling, reading rows back).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402

CHILD = r"""
import functools, json, sys, time
from pathlib import Path
from chataudit import importer
from chataudit.formats import ParseOptions, generic
from chataudit.ledger import log
from chataudit.model import zone
from chataudit.store import Archive, sqlite as store

db, src = sys.argv[1], sys.argv[2]
phases = {}

def timed(owner, name, label):
    inner = getattr(owner, name)
    @functools.wraps(inner)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            phases[label] = phases.get(label, 0.0) + time.perf_counter() - started
    setattr(owner, name, wrapper)

started = time.perf_counter()
for _ in importer.storable(generic.parse(Path(src), ParseOptions(tz=zone("Asia/Shanghai"))), src):
    pass
parse_alone = time.perf_counter() - started
cpu_started = time.process_time()

for owner, name, label in [
    (store.Archive, "_insert_records", "parse + rows + store messages/sightings/FTS (+ leaves per batch)"),
    (store.Archive, "_store_batch", "  a batch: messages, sightings, FTS rows (+ its leaves)"),
    (store.Archive, "_store_seen", "    batches with archived messages: staged, joined"),
    (store, "message_row", "  message_row (content hash, row)"),
    (store.Archive, "refresh_conversation_stats", "conversation stats"),
    (log.Ledger, "_append_messages", "ledger: message leaves"),
    (log.Ledger, "_message_leaf_rows", "  leaves: salts, leaf bytes, hashes, fingerprints"),
    (log.Ledger, "_insert_leaves", "  SQL: insert leaves"),
    (getattr(log, "_ImportLeaves", None), "add", "ledger: message leaves of each batch (read back, make, insert)"),
    (getattr(log, "_ImportLeaves", None), "finish", "ledger: source leaf, tree, sightings, conversations, checkpoint"),
    (log.Ledger, "_append_sightings", "  ledger: sightings leaf"),
    (log.Ledger, "_append_conversations", "  ledger: conversations leaf"),
    (log.Ledger, "_write_checkpoint", "  ledger: checkpoint"),
]:
    if owner is not None and hasattr(owner, name):
        timed(owner, name, label)

import collections, re
sql_cpu = collections.Counter()

def key(sql):
    return re.sub(r"\s+", " ", sql)[:70]

plain_execute, plain_many = store._Waiting.execute, store.sqlite3.Connection.executemany

def execute(self, sql, params=(), /):
    started = time.process_time()
    try:
        return plain_execute(self, sql, params)
    finally:
        sql_cpu[key(sql)] += time.process_time() - started

def executemany(self, sql, params, /):
    started = time.process_time()
    try:
        return plain_many(self, sql, params)
    finally:
        sql_cpu["(many) " + key(sql)] += time.process_time() - started

store._Waiting.execute, store.WaitingConnection.executemany = execute, executemany

started = time.perf_counter()
with Archive(db) as archive:
    summary = importer.import_paths(archive, [src], tz="Asia/Shanghai")
total = time.perf_counter() - started
assert not summary.errors, summary.errors
import resource
child = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"cpu": time.process_time() - cpu_started, "child_cpu": child.ru_utime + child.ru_stime, "total": total, "parse alone": parse_alone, "messages": summary.as_dict()["new"], "phases": phases, "sql": sql_cpu.most_common(12), "sql_total": sum(sql_cpu.values())}))
"""


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    OUT.mkdir(exist_ok=True)
    source = OUT / f"generated-{count}.jsonl"
    if not source.exists():
        generate(source, count)
    db = OUT / "profile.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    result = json.loads(subprocess.run([sys.executable, "-c", CHILD, str(db), str(source)], check=True,
                                       capture_output=True, text=True).stdout)
    total = result["total"]
    print(f"import of {result['messages']:,} messages: {total:.2f} s ({result['messages'] / total:,.0f} msg/s)")
    print(f"  CPU: this process {result['cpu']:.2f} s, the parsing process {result['child_cpu']:.2f} s")
    print(f"  {'parse alone (format + importer checks), before the import':58s} {result['parse alone']:7.2f} s")
    for label, seconds in result["phases"].items():
        print(f"  {label:58s} {seconds:7.2f} s  {100 * seconds / total:5.1f} %")
    cpu = result["cpu"]
    print(f"  writing process CPU per SQL statement (of {cpu:.2f} s):")
    for statement, seconds in result["sql"]:
        print(f"    {statement:70s} {seconds:7.2f} s")
    print(f"    {'all SQL':70s} {result['sql_total']:7.2f} s")
    print(f"    {'the rest (Python: leaves, hashes, row loop, unpickling, reads)':70s} {cpu - result['sql_total']:7.2f} s")


if __name__ == "__main__":
    main()
