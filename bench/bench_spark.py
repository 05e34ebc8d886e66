"""Spark benchmark: `spark import` and `spark verify` on local[1] and local[2] against the single-process
path on the same data, measured in the same run.

The data: `generate.py`'s customer-service chats (generic JSONL), N messages cut into F files of
consecutive lines (Spark parses one file per task, so F bounds the parallelism of the parse). The
single-process path is `chataudit import` of the same files (then `lake export`, for the same
artifact) and `chataudit verify`. Each Spark run is its own process (`--master` is fixed per JVM);
its JVM start is reported apart from the job.

    python bench/bench_spark.py [MESSAGES] [FILES] [--masters local[1],local[2]] [--no-verify] [--no-single]
    (default 200,000 messages in 8 files)

Each run reports its wall time, the CPU seconds of its whole process tree and, for Spark, the sum of
its tasks' executorRunTime and executorCpuTime (bench/spark_metrics.py), with the load average seen.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "spark"
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402
from spark_metrics import measured  # noqa: E402

CLI = [sys.executable, "-m", "chataudit.cli"]


def split(source: Path, files: int, count: int) -> list[Path]:
    per = -(-count // files)
    paths = []
    with open(source, "rb") as handle:
        for k in range(files):
            path = OUT / f"part-{k:02d}.jsonl"
            with open(path, "wb") as out:
                for _ in range(per):
                    line = handle.readline()
                    if not line:
                        break
                    out.write(line)
            paths.append(path)
    return paths


def run(args: list[str], env: dict | None = None, events: Path | None = None) -> tuple[dict, dict]:
    """One CLI run measured (wall, whole-tree CPU, load, Spark task metrics); its JSON output."""
    if events:
        shutil.rmtree(events, ignore_errors=True)
    info = measured(CLI + args, env, events)
    out = info.pop("stdout")
    return info, json.loads(out) if out.strip().startswith("{") else {}


def main() -> None:
    global OUT
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("count", nargs="?", type=int, default=200_000)
    parser.add_argument("files", nargs="?", type=int, default=8)
    parser.add_argument("--masters", default="local[1],local[2]")
    parser.add_argument("--no-verify", action="store_true", help="spark import only (and `import` for the floor)")
    parser.add_argument("--no-single", action="store_true", help="skip the single-process runs")
    parser.add_argument("--out", type=Path, default=OUT, help=f"working folder, emptied first (default {OUT})")
    args = parser.parse_args()
    OUT = args.out
    count, files = args.count, args.files
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    generate(OUT / "all.jsonl", count)  # streamed to disk, then cut into files: never all in memory
    paths = [str(p) for p in split(OUT / "all.jsonl", files, count)]
    (OUT / "all.jsonl").unlink()
    env = {"CHATAUDIT_KEY": str(OUT / "archive.key")}
    db = str(OUT / "archive.db")
    rows = []

    def report(name: str, cores: str, info: dict, job: float | None) -> None:
        rows.append((name, cores, info, job))
        print(row_text(count, *rows[-1]), flush=True)

    if not args.no_single:
        info, summary = run(["--db", db, "import", *paths, "--tz", "Asia/Shanghai", "--json"], env)
        assert summary["new"] == count, summary
        report("single process: `import`", "1 (+ its parsing process)", info, None)
        if not args.no_verify:
            info, _ = run(["--db", db, "lake", "export", "--out", str(OUT / "exported"), "--json"], env)
            report("single process: `lake export`", "1", info, None)
            info, _ = run(["--db", db, "verify", "--json", "--no-index-check"], env)
            report("single process: `verify` (no index check)", "1", info, None)
        Path(db).unlink()

    for master in args.masters.split(","):
        lake = OUT / f"lake-{master[6:-1]}"
        info, result = run(["spark", "import", *paths, "--lake", str(lake), "--key", str(OUT / "spark.key"),
                            "--tz", "Asia/Shanghai", "--master", master, "--json"], events=OUT / f"events-import-{master[6:-1]}")
        assert result["new"] == count, result
        report(f"`spark import` {master}", master[6:-1], info, result["seconds"])
        if not args.no_verify:
            info, result = run(["spark", "verify", "--lake", str(lake), "--master", master, "--json"],
                               events=OUT / f"events-verify-{master[6:-1]}")
            assert result["ok"] and result["checked"] == count, result["problems"]
            report(f"`spark verify` {master}", master[6:-1], info, result["seconds"])
        shutil.rmtree(lake)

    print(f"\n{count:,} messages in {files} files")
    print(HEADER)
    for row in rows:
        print(row_text(count, *row))


HEADER = ("| run | cores | wall | in the job | CPU (process tree) | CPU s per 1M | Spark tasks: run / JVM CPU | load avg |\n"
          "| --- | --- | --- | --- | --- | --- | --- | --- |")


def row_text(count: int, name: str, cores: str, info: dict, job: float | None) -> str:
    tasks = f"{info['run_s']:.0f} s / {info['jvm_cpu_s']:.0f} s ({info['tasks']} tasks)" if "run_s" in info else "–"
    return (f"| {name} | {cores} | {info['wall_s']:.1f} s | {'' if job is None else f'{job:.1f} s'} | "
            f"{info['cpu_s']:.1f} s | {info['cpu_s'] * 1_000_000 / count:.0f} | {tasks} | "
            f"{info['load'][0]:.1f}–{info['load'][1]:.1f} |")

if __name__ == "__main__":
    main()
