"""Search benchmark: latency (median, p95) per query class over an imported archive, vs a LIKE scan.

Uses the archive bench_import.py built (bench/out/import.db, 1M messages by default).

    python bench/bench_search.py [DB]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from chataudit.search import search_messages  # noqa: E402
from chataudit.store import Archive  # noqa: E402

CLASSES = {
    "1-char Chinese": ["退", "赔", "货", "票", "码"],
    "2-char Chinese": ["退货", "物流", "投诉", "优惠", "发票"],
    "4-char Chinese": ["申请退款", "日常穿着", "订单号码", "赠送一些", "售后电话"],
    "rare 2-char": ["违约"],
    "English word": ["parcel", "refund", "tracking", "thanks"],
    "phrase + filter": ['"tracking number"', "退货 -快递"],
}
RUNS = 40


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main() -> None:
    db = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "out" / "import.db"
    with Archive(db) as archive:
        total = archive.stats()["messages"]
        print(f"search over {total:,} messages, --limit 50, {RUNS} runs per query (warm cache)")
        print(f"  {'class':<16} {'median ms':>10} {'p95 ms':>8} {'hits':>6}")
        for name, queries in CLASSES.items():
            timings, hits = [], 0
            for query in queries:
                search_messages(archive, query, limit=50)  # warm
                for _ in range(RUNS):
                    started = time.perf_counter()
                    rows = search_messages(archive, query, limit=50)
                    timings.append((time.perf_counter() - started) * 1000)
                hits = max(hits, len(rows))
            print(f"  {name:<16} {statistics.median(timings):10.2f} {percentile(timings, 0.95):8.2f} {hits:6}")
        started = time.perf_counter()
        count = archive.db.execute("SELECT count(*) FROM messages WHERE text LIKE '%违约%'").fetchone()[0]
        print(f"  floor: LIKE '%违约%' full scan: {(time.perf_counter() - started) * 1000:.1f} ms ({count} hits)")
        conversation = archive.db.execute("SELECT conversation FROM messages LIMIT 1").fetchone()[0]
        started = time.perf_counter()
        rows = list(archive.timeline(conversation))
        print(f"  timeline of one conversation: {len(rows):,} messages in {(time.perf_counter() - started) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
