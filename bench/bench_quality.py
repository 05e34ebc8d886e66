"""Benchmark of `chataudit quality`: timing metrics over 1M messages, NLP throughput, cached re-run.

    python bench/bench_quality.py [N]          # default 1,000,000 messages from bench/generate.py

Writes bench/out/quality-N.jsonl and bench/out/quality-N.db (reused when present). Prints a
Markdown table. Timing figures are the SQL path (read from the archive, sessions, waits, every
aggregate); NLP throughput is measured on a slice of the archive with an empty cache, then again
with the cache filled.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from chataudit import importer  # noqa: E402
from chataudit.quality import config, report  # noqa: E402
from chataudit.quality.config import RosterEntry  # noqa: E402
from chataudit.store import Archive  # noqa: E402


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    data, db = out / f"quality-{count}.jsonl", out / f"quality-{count}.db"
    if not data.exists():
        import generate

        generate.generate(data, count)
    if not db.exists():
        with Archive(db) as archive:
            _, seconds, _ = timed(lambda: importer.import_paths(archive, [str(data)], format_name="generic",
                                                                 label="bench", tz="Asia/Shanghai"))
        print(f"imported {count:,} messages in {seconds:.1f} s", file=sys.stderr)
    roster = [RosterEntry(f"agent{i}", f"客服{i}", "service") for i in range(12)]
    rows = []
    with Archive(db) as archive:
        archive.migrate()  # the covering index of 0005 is built once, here if the archive predates it
        for label, gap in (("bench/generate.py data, 2 h session gap", 7200), ("same, 1 day session gap", 86400)):
            options = config.QualityOptions(roster=roster, nlp=False, session_gap_s=gap)
            report.analyze(archive, options)  # warm the page cache
            runs = [timed(lambda: report.analyze(archive, options)) for _ in range(3)]
            best = min(runs, key=lambda r: r[1])
            result = best[0]
            rows.append((f"timing metrics, {label}", f"{result['timing_seconds']:.2f} s",
                         f"{best[1]:.2f} s wall / {best[2]:.2f} s CPU for the whole call",
                         f"{result['sessions']:,} sessions, {result['responses']:,} responses"))
        # NLP on a slice: first ~60k messages
        first_ms = archive.db.execute("SELECT min(sent_at_ms) FROM messages").fetchone()[0]
        options = config.QualityOptions(roster=roster, since_ms=first_ms, until_ms=first_ms + 40 * 86_400_000)
        archive.db.execute("DELETE FROM quality_nlp")
        cold, cold_wall, _ = timed(lambda: report.analyze(archive, options))
        warm, warm_wall, _ = timed(lambda: report.analyze(archive, options))
        rows.append(("NLP, empty cache", f"{cold['nlp']['seconds']:.2f} s",
                     f"{cold['nlp']['messages'] / cold['nlp']['seconds']:,.0f} msg/s", f"{cold['nlp']['messages']:,} text messages"))
        rows.append(("NLP, second run (cache)", f"{warm['nlp']['seconds']:.2f} s",
                     f"{warm['nlp']['messages'] / max(warm['nlp']['seconds'], 1e-9):,.0f} msg/s",
                     f"{warm['nlp']['cached']:,} from cache"))
        rows.append(("whole report on that slice", f"{cold_wall:.2f} s → {warm_wall:.2f} s", "", ""))
    print(f"\n{count:,} messages, {os.cpu_count()} cores\n")
    print("| what | seconds | rate | size |\n| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
