"""Benchmark of `chataudit spark quality`: Spark on local[1] and local[2] against the single-machine
`quality` (the floor) on the same messages, with the figures compared.

    python bench/bench_spark_jobs.py [N] [--parallel] [--session-messages] [--no-session-lists] [--no-floor | --floor-only] [--db DB --lake DIR]
                                                                              # default 200,000 messages

The data is bench/generate.py's (1.4 messages per session), or with --session-messages its service
sessions of 10–30 messages (files named spark-N-s.*).

Writes bench/out/spark-N.jsonl, bench/out/spark-N.db and the lake bench/out/spark-N.lake (reused when
present; the lake is written per the layout contract by tests/lake_support.py until `lake export`
exists). Each Spark run is a child process (a SparkSession's master is fixed for its process); its
start-up is reported apart. --no-session-lists: the report without its lists of every session (what
`quality --no-session-lists` prints; at 10M they are tens of GB in the processes that hold them).
--db/--lake: an archive and its lake built elsewhere (e.g. bench_spark.py's 10M files). --no-floor:
Spark only (the single machine holds one record per session: ≈ 3 GB per million messages), the
two Spark runs' figures compared with each other; --floor-only: the single machine only. Each run's
figures are kept in bench/out/spark-jobs-N.json (a later run's are compared with them). The whole report is measured, texts included (the NLP cache emptied
before the single-machine run: Spark keeps none). Prints a Markdown table.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from chataudit.quality import config  # noqa: E402
from chataudit.quality.config import RosterEntry  # noqa: E402

ROSTER = [RosterEntry(f"agent{i}", f"客服{i}", "service") for i in range(12)]
COMPARED = ("sessions", "responses", "unanswered", "mean_response_s", "median_response_s", "p90_response_s",
            "resolution_rate")


ROWS = "--no-session-lists" not in sys.argv


def child(master: str, lake: str) -> None:
    """One Spark run: print {startup_s, seconds, figures} as JSON."""
    from chataudit.spark import quality_job
    from chataudit.spark.session import get_session

    started = time.perf_counter()
    spark = get_session(master)
    spark.range(1).count()  # the JVM and the first job up
    startup = time.perf_counter() - started
    options = config.QualityOptions(roster=ROSTER, session_lists=ROWS)
    began = time.perf_counter()
    result = quality_job.analyze(spark, lake, options)
    seconds = time.perf_counter() - began
    print(json.dumps({"startup_s": startup, "seconds": seconds, "timing_seconds": result["timing_seconds"],
                      "nlp_seconds": result["nlp"]["seconds"], "figures": {k: result[k] for k in COMPARED}}))


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 200_000
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    sessions = "--session-messages" in sys.argv
    name = f"spark-{count}" + ("-s" if sessions else "")
    data, db, lake = out / f"{name}.jsonl", out / f"{name}.db", out / f"{name}.lake"
    if "--db" in sys.argv:  # built elsewhere: both or neither
        db, lake = Path(sys.argv[sys.argv.index("--db") + 1]), Path(sys.argv[sys.argv.index("--lake") + 1])
        data = db  # (exists: nothing generated)
    from chataudit import importer
    from chataudit.store import Archive

    if not data.exists():
        import generate

        generate.generate(data, count, sessions=sessions)
    if not db.exists():
        with Archive(db) as archive:
            importer.import_paths(archive, [str(data)], format_name="generic", label="bench", tz="Asia/Shanghai")
    if not lake.exists():
        from lake_support import write_lake

        write_lake(db, lake)
    import shutil

    from spark_metrics import measured

    rows = []
    with Archive(db) as archive:
        archive.db.execute("DELETE FROM quality_nlp")
        archive.db.commit()
    # the floor in its own process too, so that its CPU is read the same way (its whole process tree);
    # --parallel runs the three at once (on a shared machine: the CPU figures stay comparable, wall does not)
    path = {"PYTHONPATH": os.pathsep.join(sys.path)}
    rows_flag = [] if ROWS else ["--no-session-lists"]
    runs = {} if "--no-floor" in sys.argv else {"floor": ([sys.executable, __file__, "--floor", str(db), *rows_flag], path, None)}
    for master in () if "--floor-only" in sys.argv else ("local[1]", "local[2]"):
        events = out / f"events-{name}-{master[6]}"
        shutil.rmtree(events, ignore_errors=True)
        runs[master] = ([sys.executable, __file__, "--child", master, str(lake), *rows_flag], path, events)
    if "--parallel" in sys.argv:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(runs)) as pool:
            done = dict(zip(runs, pool.map(lambda r: measured(*r), runs.values())))
    else:
        done = {name: measured(*run) for name, run in runs.items()}
    kept = out / f"spark-jobs-{count}.json"  # each run's figures, by run (a later run is compared with them)
    saved = json.loads(kept.read_text()) if kept.exists() else {}
    for run_name, info in done.items():
        saved[run_name] = json.loads(info["stdout"].strip().splitlines()[-1])["figures"]
    kept.write_text(json.dumps(saved, indent=1))
    if "floor" in done:
        floor_info = done["floor"]
        single = json.loads(floor_info["stdout"].strip().splitlines()[-1])
        single_s = single["seconds"]
        rows.append(("single machine `quality` (floor)", single_s, single["timing_seconds"], single["nlp_seconds"],
                     None, floor_info, "–"))
    else:  # no floor: local[1]'s figures are what local[2]'s are compared with
        single = json.loads(done["local[1]"]["stdout"].strip().splitlines()[-1])
        single_s = None
    figures = single["figures"]
    for master in [m for m in ("local[1]", "local[2]") if m in done]:
        run_info = done[master]
        run = json.loads(run_info["stdout"].strip().splitlines()[-1])
        same = ("figures equal" + ("" if single_s else " (local[1]'s and local[2]'s)") if run["figures"] == figures
                else f"DIFFERENT: {run['figures']} vs {figures}")
        rows.append((f"`spark quality` {master}", run["seconds"], run["timing_seconds"], run["nlp_seconds"],
                     run["startup_s"], run_info, same))
    millions = count / 1_000_000
    print(f"\n{count:,} messages ({single['figures']['sessions']:,} sessions), {os.cpu_count()} cores\n")
    print("| run | whole report | timings | texts (NLP) | Spark start-up | × floor | CPU (process tree) | CPU s per 1M"
          " | Spark tasks: run / JVM CPU | peak RSS: Python / JVM | load avg | note |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for label, seconds, timing_s, nlp_s, startup, info, note in rows:
        tasks = f"{info['run_s']:.0f} s / {info['jvm_cpu_s']:.0f} s ({info['tasks']} tasks)" if "run_s" in info else "–"
        print(f"| {label} | {seconds:.1f} s | {timing_s:.1f} s | {nlp_s:.1f} s | "
              + ("–" if startup is None else f"{startup:.1f} s")
              + (f" | {seconds / single_s:.2f}×" if single_s else " | –") + f" | {info['cpu_s']:.1f} s | {info['cpu_s'] / millions:.0f} | {tasks}"
              f" | {info['python_peak_mib']:.0f} / {info['jvm_peak_mib']:.0f} MiB"
              f" | {info['load'][0]:.1f}–{info['load'][1]:.1f} | {note} |")
    for earlier in [m for m in ("local[1]", "local[2]") if m not in done and m in saved]:
        print(f"\n`spark quality` {earlier} (an earlier run, {kept.name}): "
              + ("figures equal" if saved[earlier] == figures else f"DIFFERENT: {saved[earlier]} vs {figures}"))


def floor(db: str) -> None:
    """The single-machine report in this process: print {seconds, figures} as JSON."""
    from chataudit.quality import report
    from chataudit.store import Archive

    with Archive(Path(db)) as archive:
        began = time.perf_counter()
        single = report.analyze(archive, config.QualityOptions(roster=ROSTER, session_lists=ROWS))
        seconds = time.perf_counter() - began
    print(json.dumps({"seconds": seconds, "timing_seconds": single["timing_seconds"],
                      "nlp_seconds": single["nlp"]["seconds"], "figures": {k: single[k] for k in COMPARED}}))

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
    elif len(sys.argv) > 1 and sys.argv[1] == "--floor":
        floor(sys.argv[2])
    else:
        main()
