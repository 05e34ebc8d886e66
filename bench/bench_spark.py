"""Spark benchmark: `spark import` and `spark verify` on local[1] and local[2] against the single-process
path on the same data, measured in the same run.

The data: `generate.py`'s customer-service chats (generic JSONL), N messages cut into F files of
consecutive lines (Spark parses one file per task, so F bounds the parallelism of the parse). The
single-process path is `chataudit import` of the same files (then `lake export`, for the same
artifact) and `chataudit verify`. Each Spark run is its own process (`--master` is fixed per JVM);
its JVM start is reported apart from the job.

    python bench/bench_spark.py [MESSAGES] [FILES]     (default 200,000 messages in 8 files)
"""

from __future__ import annotations

import json
import os
import threading
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "spark"
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402

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


CPU: list[float] = []  # CPU seconds (user + sys) of each run's whole process tree: the JVM, its Python workers
TICK = os.sysconf("SC_CLK_TCK")


def _tree_cpu(root: int, seen: dict[int, float]) -> None:
    """Add the CPU seconds so far of ``root`` and its descendants to ``seen`` (by pid, the latest reading:
    a Spark worker that exits between two readings loses at most one polling interval)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / TICK
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    for pid in tree:
        if pid in times:
            seen[pid] = max(seen.get(pid, 0.0), times[pid])


def run(args: list[str], env: dict | None = None) -> tuple[float, dict]:
    started = time.perf_counter()
    process = subprocess.Popen(CLI + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, **(env or {})})
    seen: dict[int, float] = {}
    reader = threading.Thread(target=lambda: setattr(process, "out", process.communicate()))
    reader.start()
    while reader.is_alive():
        _tree_cpu(process.pid, seen)
        reader.join(0.5)
    wall = time.perf_counter() - started
    CPU.append(sum(seen.values()))
    stdout, stderr = process.out
    done = subprocess.CompletedProcess(args, process.returncode, stdout, stderr)
    if done.returncode not in (0,):
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return wall, json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    files = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    generate(OUT / "all.jsonl", count)
    paths = [str(p) for p in split(OUT / "all.jsonl", files, count)]
    (OUT / "all.jsonl").unlink()
    env = {"CHATAUDIT_KEY": str(OUT / "archive.key")}
    db = str(OUT / "archive.db")
    rows = []

    wall, summary = run(["--db", db, "import", *paths, "--tz", "Asia/Shanghai", "--json"], env)
    assert summary["new"] == count, summary
    rows.append(("single process: `import`", "1 (+ its parsing process)", wall, None, CPU[-1]))
    wall_export, _ = run(["--db", db, "lake", "export", "--out", str(OUT / "exported"), "--json"], env)
    rows.append(("single process: `lake export`", "1", wall_export, None, CPU[-1]))
    wall_verify, report = run(["--db", db, "verify", "--json", "--no-index-check"], env)
    rows.append(("single process: `verify` (no index check)", "1", wall_verify, None, CPU[-1]))

    roots = {}
    for master in ("local[1]", "local[2]"):
        lake = OUT / f"lake-{master[6]}"
        wall, result = run(["spark", "import", *paths, "--lake", str(lake), "--key", str(OUT / "spark.key"),
                            "--tz", "Asia/Shanghai", "--master", master, "--json"])
        assert result["new"] == count, result
        roots[master] = result["root"]
        rows.append((f"`spark import` {master}", master[6], wall, result["seconds"], CPU[-1]))
        wall, result = run(["spark", "verify", "--lake", str(lake), "--master", master, "--json"])
        assert result["ok"] and result["checked"] == count, result["problems"]
        rows.append((f"`spark verify` {master}", master[6], wall, result["seconds"], CPU[-1]))
    wall, result = run(["spark", "verify", "--lake", str(OUT / "exported"), "--master", "local[2]", "--json"])
    assert result["ok"] and result["checked"] == count, result["problems"]
    rows.append(("`spark verify` local[2] of the exported lake", "2", wall, result["seconds"], CPU[-1]))

    print(f"{count:,} messages in {files} files (load average {os.getloadavg()[0]:.1f} at the end)")
    print("| run | cores | wall | in the job | msg/s (job) | s per 1M (job) | CPU | CPU s per 1M |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, cores, wall, job, cpu in rows:
        basis = job if job is not None else wall
        print(f"| {name} | {cores} | {wall:.1f} s | {'' if job is None else f'{job:.1f} s'} | "
              f"{count / basis:,.0f} | {basis * 1_000_000 / count:.0f} | {cpu:.1f} s | {cpu * 1_000_000 / count:.0f} |")


if __name__ == "__main__":
    main()
