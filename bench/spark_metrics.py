"""What a Spark benchmark run cost, independent of the load of a shared machine: the CPU seconds of a
child process's whole tree (the driver, the JVM, its Python workers; read from /proc) and Spark's own
task metrics (sum of executorRunTime and executorCpuTime over every task, from the event log the run
is told to write through ``PYSPARK_SUBMIT_ARGS``).

executorCpuTime is the JVM task threads' CPU only: the Python workers' CPU is outside it (it shows in
executorRunTime, which counts the time a task waits for its Python worker, and in the tree CPU).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu(root: int, seen: dict[int, float]) -> None:
    """Record the CPU seconds so far of ``root`` and its descendants in ``seen`` (by pid, the latest
    reading: a worker that exits between two readings loses at most one polling interval)."""
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
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / TICK  # utime + stime
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


def peak_rss_mib(pid: int) -> float:
    """The peak resident memory (VmHWM) of ``pid`` so far, in MiB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def java_pids(root: int) -> list[int]:
    """The JVMs among ``root``'s children (a PySpark driver starts its JVM as a child)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as handle:
                    name, rest = handle.read().split(b") ", 1)
                if int(rest.split()[1]) == root and name.endswith(b"(java"):
                    out.append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    return out


def event_log_env(folder: Path) -> dict[str, str]:
    """The environment that makes a PySpark child write its event log under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    return {"PYSPARK_SUBMIT_ARGS": f"--conf spark.eventLog.enabled=true --conf spark.eventLog.dir=file://{folder}"
                                   " --conf spark.eventLog.compress=false --conf spark.eventLog.rolling.enabled=false"
                                   " pyspark-shell"}


def task_metrics(folder: Path) -> dict[str, float]:
    """Sum over every finished task in the event logs under ``folder``: run and CPU seconds, tasks."""
    run_ms = cpu_ns = tasks = 0
    for path in sorted(folder.rglob("*")) if folder.exists() else ():
        if not path.is_file() or path.name.startswith("appstatus"):
            continue
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if '"SparkListenerTaskEnd"' not in line:
                    continue
                metrics = json.loads(line).get("Task Metrics") or {}
                run_ms += metrics.get("Executor Run Time", 0)
                cpu_ns += metrics.get("Executor CPU Time", 0)
                tasks += 1
    return {"run_s": run_ms / 1000, "jvm_cpu_s": cpu_ns / 1e9, "tasks": tasks}


def measured(cmd: list[str], env: dict | None = None, events: Path | None = None) -> dict:
    """Run ``cmd``; its wall seconds, whole-tree CPU seconds, load average before/after, stdout, the
    peak resident memory of its Python process (the driver) and of its JVM (in local mode the driver's
    JVM is the executors too), and (with ``events``) Spark's task metrics. Raises SystemExit with its stderr when it fails."""
    env = {**os.environ, **(env or {}), **(event_log_env(events) if events else {})}
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    seen: dict[int, float] = {}
    reader = threading.Thread(target=lambda: setattr(process, "out", process.communicate()))
    reader.start()
    loads = [load_before]
    python_mib = jvm_mib = 0.0
    while reader.is_alive():
        tree_cpu(process.pid, seen)
        loads.append(os.getloadavg()[0])
        python_mib = max(python_mib, peak_rss_mib(process.pid))
        jvm_mib = max([jvm_mib] + [peak_rss_mib(pid) for pid in java_pids(process.pid)])
        reader.join(0.5)
    wall = time.perf_counter() - started
    stdout, stderr = process.out
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({process.returncode}): {stderr[-3000:]}")
    result = {"wall_s": wall, "cpu_s": sum(seen.values()), "load": (min(loads), max(loads)), "stdout": stdout,
              "python_peak_mib": python_mib, "jvm_peak_mib": jvm_mib}
    if events:
        result.update(task_metrics(events))
    return result
