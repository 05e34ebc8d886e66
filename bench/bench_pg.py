"""PostgreSQL store: import rate against a bare-COPY floor, and search p95 per query class for the
two index candidates (GIN over the FTS5-equal token tsvector, which the store uses; pg_trgm).

    python bench/bench_pg.py [N]          (default 200,000 messages)

A throwaway cluster (tests/pg_cluster.py, fsync off: durability is not what is measured). The
import is `chataudit import` in a child process (parse, hash, dedup, COPY, sightings, index rows,
ledger leaves, signed checkpoint). The floor is a bare `COPY` of the very rows the import stored
(messages and index rows, same indexes), in the same run.
"""

from __future__ import annotations

import io
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

import pg_cluster  # noqa: E402
import psycopg  # noqa: E402
from generate import generate  # noqa: E402

from chataudit.search import parse_query  # noqa: E402
from chataudit.store import Archive  # noqa: E402

QUERIES = {"1-char": "退", "2-char": "退货", "4-char": "合同约定", "rare": "违约金", "English": "parcel"}
ROUNDS = 40


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def timed(action, rounds: int = ROUNDS) -> tuple[float, float, int]:
    found = len(action())  # warm
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), p95(times), found


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    data = out / f"pg-{count}.jsonl"
    if not data.exists():
        generate(data, count)
    cluster = pg_cluster.start_cluster()
    try:
        url = cluster.create_database("bench")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "chataudit.cli", "--db", url, "import", str(data), "--tz", "Asia/Shanghai"],
                       check=True, capture_output=True, env={"CHATAUDIT_KEYS": str(out / "pg-keys"), "PATH": "/usr/bin:/bin"})
        imported = time.perf_counter() - started

        with psycopg.connect(url, autocommit=True) as db:
            db.execute("CREATE TABLE floor_messages (LIKE messages INCLUDING ALL)")
            db.execute("CREATE TABLE floor_fts (LIKE message_fts INCLUDING ALL)")
            rows, fts = io.BytesIO(), io.BytesIO()
            with db.cursor().copy("COPY (SELECT * FROM messages) TO STDOUT") as copy:
                for block in copy:
                    rows.write(block)
            with db.cursor().copy("COPY (SELECT * FROM message_fts) TO STDOUT") as copy:
                for block in copy:
                    fts.write(block)
            started = time.perf_counter()
            with db.transaction():
                with db.cursor().copy("COPY floor_messages FROM STDIN") as copy:
                    copy.write(rows.getvalue())
                with db.cursor().copy("COPY floor_fts FROM STDIN") as copy:
                    copy.write(fts.getvalue())
            floor = time.perf_counter() - started
            db.execute("DROP TABLE floor_messages, floor_fts")
            print(f"import {count:,} messages: {imported:.1f} s = {count / imported:,.0f} msg/s;"
                  f" bare COPY floor (messages + index rows) {floor:.1f} s = {count / floor:,.0f} msg/s;"
                  f" {imported / floor:.1f}x the floor")

            db.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            started = time.perf_counter()
            db.execute("CREATE INDEX messages_trgm ON messages USING gin (text gin_trgm_ops)")
            print(f"pg_trgm index built in {time.perf_counter() - started:.1f} s")
            db.execute("ANALYZE")
            sizes = db.execute(  # partitioned indexes (migration pg/0024): the sum of their partitions'
                "SELECT (SELECT pg_size_pretty(sum(pg_relation_size(relid))) FROM pg_partition_tree('message_fts_words')),"
                " (SELECT pg_size_pretty(sum(pg_relation_size(relid))) FROM pg_partition_tree('messages_trgm'))").fetchone()
            print(f"index sizes: tsvector GIN {sizes[0]}, pg_trgm GIN {sizes[1]}")

        with Archive(url, create=False) as archive:
            trgm = archive.db.raw
            print(f"{'query':10} {'tsvector GIN (store) median/p95 ms':>36} {'hits':>5} {'pg_trgm LIKE median/p95 ms':>30} {'hits':>5}")
            for name, query in QUERIES.items():
                expression = parse_query(query).expression
                gin = timed(lambda: archive.search(expression))
                like = timed(lambda: trgm.execute(
                    "SELECT id FROM messages WHERE text LIKE $1 ORDER BY sent_at_ms DESC, id DESC LIMIT 50",
                    (f"%{query}%",)).fetchall())
                print(f"{name:10} {gin[0]:17.1f} / {gin[1]:6.1f} {gin[2]:>16} {like[0]:16.1f} / {like[1]:6.1f} {like[2]:>12}")
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
