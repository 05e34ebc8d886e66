"""PostgreSQL store: import against a bare-COPY floor, search p95 per query class, four concurrent
importers beside twenty searchers, and `migrate` both ways.

    python bench/bench_pg.py import N [--trgm]   import N messages, the floor, then search p95
    python bench/bench_pg.py concurrent N        a base of N, then 4 importers (N each) + 20 searchers
    python bench/bench_pg.py migrate N           SQLite → PostgreSQL → SQLite of an N-message archive
    python bench/bench_pg.py search N [--db URL] [--rounds R] [--label NAME]
                                                 search latency per query class on an archive of N
                                                 (built, or the one at URL reused), with the server's
                                                 planning and execution time per search

A throwaway cluster (tests/pg_cluster.py: fsync, synchronous_commit and full_page_writes off —
durability is not what is measured). Every import is `chataudit --db postgresql://… import` in a
child process. CPU seconds are read from the kernel beside wall time (the machine is shared):
the client's (the command and its parsing process: the children's rusage) and the server's (the
postmaster's /proc entry: its own time, its reaped backends' and its live children's), with the
1-minute load average sampled every 5 s.

The floor of an import is a bare ``COPY`` of the very rows it stored into a fresh archive of the
same schema (same partitions, indexes and triggers), in the same run: "messages + index rows" (what
a search needs) and "every row" (+ sightings, ledger leaves, ledger sighting hashes, tree nodes).
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
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
PERIOD_QUERY = "退货"  # the period-bounded class: this query within one month in the middle of the archive
ROUNDS = 40
FLOOR_TABLES = ("messages", "message_fts", "sightings", "ledger_leaves", "ledger_sightings", "ledger_nodes")
TICK = os.sysconf("SC_CLK_TCK")
OUT = HERE / "out"
SEARCHERS, IMPORTERS, THINK_S = 20, 4, 1.0


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


# ---- CPU and load ------------------------------------------------------------------------------------

def _stat(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2:].split()  # fields from the 3rd (state) on


def server_cpu(cluster) -> float:
    """CPU seconds of the cluster's processes so far: the postmaster's own and its reaped children's,
    plus its live children's."""
    master = int((cluster.folder / "data" / "postmaster.pid").read_text().split()[0])
    fields = _stat(master)
    total = sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                child = _stat(int(entry.name))
            except (OSError, ValueError):
                continue
            if int(child[1]) == master:
                total += int(child[11]) + int(child[12])
    return total / TICK


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Meter:
    """Wall, client CPU (children or self), server CPU and the load average over a block."""

    def __init__(self, cluster, client=children_cpu):
        self.cluster, self.client, self.loads = cluster, client, []
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.wait(5):
            self.loads.append(os.getloadavg()[0])

    def __enter__(self):
        self.loads.append(os.getloadavg()[0])
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        self.c0, self.s0, self.t0 = self.client(), server_cpu(self.cluster), time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.t0
        self.client_s, self.server_s = self.client() - self.c0, server_cpu(self.cluster) - self.s0
        self._stop.set()
        self.loads.append(os.getloadavg()[0])

    def figures(self, count: int | None = None) -> dict:
        out = {"wall_s": round(self.wall, 1), "client_cpu_s": round(self.client_s, 1),
               "server_cpu_s": round(self.server_s, 1),
               "load": [round(min(self.loads), 1), round(statistics.mean(self.loads), 1), round(max(self.loads), 1)]}
        if count:
            out["msg_per_s"] = round(count / self.wall)
        return out


def show(name: str, figures: dict) -> None:
    load = figures["load"]
    print(f"{name}: {figures['wall_s']} s wall" + (f" = {figures['msg_per_s']:,} msg/s" if "msg_per_s" in figures else "")
          + f"; CPU client {figures['client_cpu_s']} s, server {figures['server_cpu_s']} s;"
          f" load min/mean/max {load[0]}/{load[1]}/{load[2]}", flush=True)


# ---- helpers ------------------------------------------------------------------------------------------

def data_file(count: int, seed: int = 7) -> Path:
    OUT.mkdir(exist_ok=True)
    path = OUT / (f"pg-{count}.jsonl" if seed == 7 else f"pg-{count}-s{seed}.jsonl")
    if not path.exists():
        generate(path, count, seed)  # streamed line by line
    return path


KEYS: list[Path] = []


def new_keys() -> Path:
    """A folder for a throwaway archive's signing key (removed at the end of the run)."""
    OUT.mkdir(exist_ok=True)
    KEYS.append(Path(tempfile.mkdtemp(prefix="pgbench-keys-", dir=OUT)))
    return KEYS[-1]


def _env(keys: Path) -> dict:
    env = {"CHATAUDIT_KEYS": str(keys), "PATH": "/usr/bin:/bin", "HOME": str(OUT)}
    if "PYTHONPATH" in os.environ:  # (to measure another checkout's code)
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env


def run_import(db: str, path: Path, keys: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "chataudit.cli", "--db", db, "import", str(path), "--tz",
                             "Asia/Shanghai"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(keys), text=True, cwd=OUT)


def finish(process: subprocess.Popen) -> str:
    out, err = process.communicate()
    if process.returncode:
        raise SystemExit(f"import failed ({process.returncode}): {err.strip()[-2000:]}")
    return out


def chataudit(*args: str, keys: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "chataudit.cli", *args], capture_output=True, text=True, env=_env(keys), cwd=OUT)
    if done.returncode:
        raise SystemExit(f"chataudit {' '.join(args)} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


def search_times(archive: Archive, query: str, rounds: int = ROUNDS) -> tuple[float, float, int]:
    expression = parse_query(query).expression
    found = len(archive.search(expression))  # warm
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        archive.search(expression)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), p95(times), found


def floor(cluster, url: str, count: int) -> dict:
    """A bare COPY of the rows the import stored, table by table, into a fresh archive of the same
    schema (partitions made first), in one transaction; the rows go through files, streamed."""
    floor_url = cluster.create_database("floor")
    Archive(floor_url).close()  # the same migrations: same tables, partitions' parent, indexes, triggers
    with psycopg.connect(url, autocommit=True) as source, psycopg.connect(floor_url, autocommit=True) as target:
        months = [r[0] for r in source.execute(
            "SELECT DISTINCT (extract(epoch FROM date_trunc('month', to_timestamp(sent_at_ms / 1000.0)"
            " AT TIME ZONE 'UTC')) * 1000)::bigint FROM messages").fetchall()]
        target.execute("SELECT chataudit_month_partitions(%s::bigint[])", (sorted(months),))
        for table in ("sources", "conversations"):  # what the rows refer to, not timed
            with target.cursor().copy(f"COPY {table} FROM STDIN") as into:
                with source.cursor().copy(f"COPY (SELECT * FROM {table}) TO STDOUT") as copy:
                    for block in copy:
                        into.write(block)
        per_table = {}
        with target.transaction():
            for table in FLOOR_TABLES:  # each table out to a file (not timed), then in by COPY (timed)
                path = OUT / f"floor-{table}.copy"
                with open(path, "wb") as out, source.cursor().copy(f"COPY (SELECT * FROM {table}) TO STDOUT") as copy:
                    for block in copy:
                        out.write(block)
                with Meter(cluster, self_cpu) as meter:
                    with open(path, "rb") as rows, target.cursor().copy(f"COPY {table} FROM STDIN") as copy:
                        while block := rows.read(1 << 20):
                            copy.write(block)
                per_table[table] = meter.figures()
                path.unlink()
    with psycopg.connect(cluster.dsn, autocommit=True) as admin:
        admin.execute("DROP DATABASE floor")  # (disk)
    fields = ("wall_s", "client_cpu_s", "server_cpu_s")
    result = {}
    for name, tables in (("messages + index rows", FLOOR_TABLES[:2]), ("every row", FLOOR_TABLES)):
        result[name] = {f: round(sum(per_table[t][f] for t in tables), 1) for f in fields}
        result[name]["msg_per_s"] = round(count / result[name]["wall_s"])
        result[name]["load"] = per_table["messages"]["load"]
    result["per_table"] = per_table
    return result


# ---- the benchmarks -----------------------------------------------------------------------------------

def _progress(process: subprocess.Popen, data: Path, count: int, cluster, meter: "Meter") -> None:
    """Every minute, how far the import's parsing process has read the file (bytes read / size,
    as messages: ahead of what is stored by the batch or two in the pipe), with CPU so far."""
    size = data.stat().st_size
    while process.poll() is None:
        time.sleep(60)
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and int(_stat(int(entry.name))[1]) == process.pid:
                    read = int(next(line for line in (entry / "io").read_text().splitlines()
                                    if line.startswith("rchar")).split()[1])
                    print(f"  progress {time.perf_counter() - meter.t0:.0f} s: ~{min(count, count * read // size):,}"
                          f" messages parsed; server CPU {server_cpu(cluster) - meter.s0:.0f} s;"
                          f" load {os.getloadavg()[0]:.1f}", flush=True)
            except (OSError, ValueError, StopIteration):
                continue


def save(name: str, result: dict) -> None:
    """The figures so far (a long run that is stopped keeps what it measured)."""
    result["cores"] = os.cpu_count()
    (OUT / f"{name}.json").write_text(json.dumps(result, indent=1))


def bench_import(cluster, count: int, trgm: bool) -> dict:
    """The import, then search p95 per query class on its archive straight away and again after
    ``VACUUM ANALYZE``, then the floor (in that order: a run stopped early keeps the first figures)."""
    data = data_file(count)
    url = cluster.create_database("bench")
    keys = new_keys()
    with Meter(cluster) as meter:
        process = run_import(url, data, keys)
        watch = threading.Thread(target=_progress, args=(process, data, count, cluster, meter), daemon=True)
        watch.start()
        print(finish(process).strip().splitlines()[-1], flush=True)
    result = {"messages": count, "import": meter.figures(count)}
    result["import"]["client_max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    show(f"import {count:,}", result["import"])
    save(f"pg-import-{count}", result)
    result["search_straight_after"] = {}  # before any vacuum or analyze: what a user searching right away gets
    with Archive(url, create=False) as archive:
        for name, query in QUERIES.items():
            median, high, hits = search_times(archive, query)
            result["search_straight_after"][name] = {"median_ms": round(median, 1), "p95_ms": round(high, 1), "hits": hits}
            print(f"search straight after the import {name:8} {query}: median {median:.1f} ms, p95 {high:.1f} ms,"
                  f" {hits} hits; load {os.getloadavg()[0]:.1f}", flush=True)
    save(f"pg-import-{count}", result)
    with psycopg.connect(url, autocommit=True) as db:
        started = time.perf_counter()
        db.execute("VACUUM ANALYZE")
        print(f"VACUUM ANALYZE {time.perf_counter() - started:.1f} s", flush=True)
        result["database_size"] = db.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
        if trgm:
            db.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            db.execute("CREATE INDEX messages_trgm ON messages USING gin (text gin_trgm_ops)")
            db.execute("ANALYZE messages")
    print(f"database size {result['database_size']}", flush=True)
    result["search"] = {}
    loads = [os.getloadavg()[0]]
    with Archive(url, create=False) as archive:
        for name, query in QUERIES.items():
            median, high, hits = search_times(archive, query)
            result["search"][name] = {"median_ms": round(median, 1), "p95_ms": round(high, 1), "hits": hits}
            if trgm:
                like = lambda: archive.db.raw.execute(  # noqa: E731
                    "SELECT id FROM messages WHERE text LIKE $1 ORDER BY sent_at_ms DESC, id DESC LIMIT 50",
                    (f"%{query}%",)).fetchall()
                like()
                times = []
                for _ in range(ROUNDS):
                    started = time.perf_counter()
                    like()
                    times.append((time.perf_counter() - started) * 1000)
                result["search"][name]["trgm_median_ms"] = round(statistics.median(times), 1)
                result["search"][name]["trgm_p95_ms"] = round(p95(times), 1)
            loads.append(os.getloadavg()[0])
            print(f"search {name:8} {query}: median {median:.1f} ms, p95 {high:.1f} ms, {hits} hits", flush=True)
    result["search_load"] = [round(min(loads), 1), round(max(loads), 1)]
    save(f"pg-import-{count}", result)
    result["floor"] = floor(cluster, url, count)
    for name in ("messages + index rows", "every row"):
        show(f"floor: bare COPY of {name}", result["floor"][name])
        print(f"  import = {result['import']['wall_s'] / result['floor'][name]['wall_s']:.2f}x this floor (wall),"
              f" {(result['import']['client_cpu_s'] + result['import']['server_cpu_s']) / (result['floor'][name]['client_cpu_s'] + result['floor'][name]['server_cpu_s']):.2f}x (CPU)")
    return result


def _searcher(url: str, stop_file: str, seed: int) -> None:
    """One searcher process: a query of each class in turn with a think time between (a person
    reading the answer), until ``stop_file`` exists; prints (time, class, ms) of each as JSON."""
    rng = random.Random(seed)
    names = list(QUERIES)
    expressions = {n: parse_query(q).expression for n, q in QUERIES.items()}
    done = []
    with Archive(url, create=False) as archive:
        i = rng.randrange(len(names))
        while not os.path.exists(stop_file):
            name = names[i % len(names)]
            started = time.perf_counter()
            archive.search(expressions[name])
            done.append((time.time(), name, (time.perf_counter() - started) * 1000))
            i += 1
            time.sleep(rng.uniform(0.5, 1.5) * THINK_S)
    print(json.dumps(done))


def _p95_by_class(times: list[tuple], since: float, until: float) -> dict:
    picked: dict[str, list[float]] = {}
    for at, name, ms in times:
        if since <= at <= until:
            picked.setdefault(name, []).append(ms)
    every = [ms for values in picked.values() for ms in values]
    out = {name: {"searches": len(v), "median_ms": round(statistics.median(v), 1), "p95_ms": round(p95(v), 1)}
           for name, v in picked.items()}
    if every:
        out["all"] = {"searches": len(every), "median_ms": round(statistics.median(every), 1),
                      "p95_ms": round(p95(every), 1), "per_s": round(len(every) / (until - since), 1)}
    return out


def bench_concurrent(cluster, count: int) -> dict:
    """A base of ``count`` messages; then twenty searchers, alone for a minute, then beside four
    importers started at once (three different files of ``count`` messages, and one of them a second
    time); then the archive is checked (no duplicate, no lost message, dense ids, `verify`)."""
    url = cluster.create_database("team")
    keys = new_keys()
    base = data_file(count)
    files = [data_file(count, seed) for seed in (11, 12, 13)]
    files.append(files[-1])
    with Meter(cluster) as meter:
        finish(run_import(url, base, keys))
    result = {"messages_per_file": count, "base_import": meter.figures(count)}
    show(f"base import {count:,}", result["base_import"])
    stop_file = OUT / "searchers.stop"
    stop_file.unlink(missing_ok=True)
    code = ("import sys, json; sys.path[:0] = json.loads(sys.argv[1]); import bench_pg;"
            " bench_pg._searcher(sys.argv[2], sys.argv[3], int(sys.argv[4]))")
    searchers = [subprocess.Popen([sys.executable, "-c", code, json.dumps([str(HERE)]), url, str(stop_file), str(n)],
                                  stdout=subprocess.PIPE, text=True) for n in range(SEARCHERS)]
    time.sleep(10)  # started and warm
    quiet_from = time.time()
    time.sleep(60)
    started = time.time()
    with Meter(cluster) as meter:
        importers = [run_import(url, path, keys) for path in files]
        lines = [finish(p).strip().splitlines()[-1] for p in importers]
    ended = time.time()
    time.sleep(5)
    stop_file.write_text("")
    times = [tuple(t) for p in searchers for t in json.loads(p.communicate()[0])]
    stop_file.unlink()
    for line in lines:
        print("  importer:", line)
    with psycopg.connect(url, autocommit=True) as db:
        stored, distinct, top = db.execute(
            "SELECT count(*), count(DISTINCT (conversation, sent_at_ms, content_key, occurrence)), max(id)"
            " FROM messages").fetchone()
        sources = db.execute("SELECT count(*), sum(new_count) FROM sources").fetchone()
    with Meter(cluster) as verify_meter:
        verified = chataudit("--db", url, "verify", keys=keys).strip().splitlines()[-1]
    result.update({
        "importers": meter.figures(), "importer_lines": lines,
        "new_per_s": round((stored - count) / meter.wall),
        "file_messages_per_s": round(len(files) * count / meter.wall),
        "stored": stored, "distinct_identities": distinct, "max_id": top, "sources": sources[0],
        "new_counted_by_sources": int(sources[1]),
        "search_alone": _p95_by_class(times, quiet_from, started),
        "search_while_importing": _p95_by_class(times, started, ended),
        "verify": verified, "verify_run": verify_meter.figures(),
    })
    show("4 importers at once", result["importers"])
    print(f"  {result['new_per_s']:,} new msg/s, {result['file_messages_per_s']:,} file msg/s; stored {stored:,},"
          f" distinct {distinct:,}, max id {top:,}, {sources[0]} sources; verify: {verified}")
    for phase in ("search_alone", "search_while_importing"):
        print(f"  {phase}: " + ", ".join(f"{n} p95 {v['p95_ms']} ms ({v['searches']})" for n, v in result[phase].items()))
    return result


def _root(text: str) -> str:
    return json.loads(text)["root"]


def bench_migrate(cluster, count: int) -> dict:
    """An SQLite archive of ``count`` messages to PostgreSQL and back: rate, `verify` on each target,
    the checkpoint root on each side."""
    keys = new_keys()
    folder = Path(tempfile.mkdtemp(prefix="pgbench-migrate-", dir=OUT))
    first, back = folder / "first.db", folder / "back.db"
    url = cluster.create_database("migrated")
    result: dict = {"messages": count}
    with Meter(cluster) as meter:
        chataudit("--db", str(first), "import", str(data_file(count)), "--tz", "Asia/Shanghai", keys=keys)
    result["sqlite_import"] = meter.figures(count)
    show(f"SQLite import {count:,}", result["sqlite_import"])
    root = json.loads(chataudit("--db", str(first), "checkpoint", "--json", keys=keys))["root"]
    for name, source, target in (("sqlite_to_postgres", str(first), url), ("postgres_to_sqlite", url, str(back))):
        with Meter(cluster) as meter:
            moved = json.loads(chataudit("migrate", source, target, "--json", keys=keys))
        result[name] = meter.figures(count)
        result[name]["same_root"] = moved["root"] == root
        with Meter(cluster) as meter:
            result[name]["verify"] = chataudit("--db", target, "verify", keys=keys).strip().splitlines()[-1]
        result[name]["verify_run"] = meter.figures()
        show(name, result[name])
        print(f"  root {moved['root']} same as the source's: {moved['root'] == root}; verify: {result[name]['verify']};"
              f" verify {result[name]['verify_run']['wall_s']} s")
    result["root"] = root
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    return result


# ---- search latency per query class -----------------------------------------------------------------

STATEMENT_STATS = "pg_stat_statements"  # the server's per-statement planning and execution times, when loaded
COLD_ROUNDS = 5  # a new connection's first search (what one `chataudit search` command pays)
WARM_UP = 10  # searches before the timed ones: psycopg prepares a statement at its 5th, PostgreSQL may
# then choose a generic plan after 5 custom ones (what a kept connection of `serve` reaches)


def _search_archive(url: str, count: int, cluster) -> dict:
    """The archive at ``url``: built from ``count`` generated messages when it holds none (then
    analysed, as a DBA's autovacuum would), else reused as it is; what it holds."""
    with psycopg.connect(url, autocommit=True) as db:
        stored = db.execute("SELECT count(*) FROM messages").fetchone()[0] if db.execute(
            "SELECT to_regclass('messages')").fetchone()[0] else 0
    built = None
    if not stored:
        built = _build(url, count, cluster)
        with psycopg.connect(url, autocommit=True) as db:
            db.execute("VACUUM ANALYZE")
            stored = db.execute("SELECT count(*) FROM messages").fetchone()[0]
    elif stored != count:
        print(f"reusing the archive at {url}: {stored:,} messages (not {count:,})", flush=True)
    with psycopg.connect(url, autocommit=True) as db:
        low, high, months = db.execute("SELECT min(sent_at_ms), max(sent_at_ms), count(DISTINCT tableoid)"
                                       " FROM messages").fetchone()
        size = db.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
    return {"messages": stored, "built": built, "first_ms": low, "last_ms": high, "month_partitions": months,
            "database_size": size}


def _build(url: str, count: int, cluster) -> dict:
    """Import ``count`` generated messages into ``url``: wall time, and CPU where the cluster is ours."""
    if cluster is None:
        started = time.perf_counter()
        finish(run_import(url, data_file(count), new_keys()))
        return {"wall_s": round(time.perf_counter() - started, 1)}
    with Meter(cluster) as meter:
        finish(run_import(url, data_file(count), new_keys()))
    show(f"import {count:,}", meter.figures(count))
    return meter.figures(count)


def _middle_month(first_ms: int, last_ms: int) -> tuple[int, int]:
    """[since, until) in ms of the calendar month (UTC) holding the instant halfway through the archive."""
    from datetime import datetime, timezone

    middle = datetime.fromtimestamp((first_ms + last_ms) // 2000, timezone.utc)
    start = datetime(middle.year, middle.month, 1, tzinfo=timezone.utc)
    end = datetime(middle.year + middle.month // 12, middle.month % 12 + 1, 1, tzinfo=timezone.utc)
    return int(start.timestamp()) * 1000, int(end.timestamp()) * 1000


def _statement_stats(url: str) -> psycopg.Connection | None:
    """A connection that reads pg_stat_statements of the archive's database, or None where the server
    does not load it (``--db`` of a server without it in shared_preload_libraries)."""
    db = psycopg.connect(url, autocommit=True)
    try:
        db.execute(f"CREATE EXTENSION IF NOT EXISTS {STATEMENT_STATS}")
        db.execute("SELECT pg_stat_statements_reset()")
        return db
    except psycopg.Error as error:
        print(f"no planning/execution split: {str(error).strip().splitlines()[0]}", flush=True)
        db.close()
        return None


def _reset(stats: psycopg.Connection | None) -> None:
    if stats is not None:
        stats.execute("SELECT pg_stat_statements_reset()")


def _server_times(stats: psycopg.Connection | None, searches: int) -> dict:
    """Per search, since the last reset (and resetting): how many statements the server ran, how
    many of them it planned, and its planning and execution time (ms) — the statements that read
    the index."""
    if stats is None:
        return {}
    calls, plans, plan_ms, exec_ms = (float(v) for v in stats.execute(
        "SELECT coalesce(sum(calls), 0), coalesce(sum(plans), 0), coalesce(sum(total_plan_time), 0),"
        " coalesce(sum(total_exec_time), 0) FROM pg_stat_statements WHERE query LIKE '%message_fts%'"
        " AND query NOT LIKE '%pg_stat_statements%'"
        " AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())").fetchone())
    _reset(stats)
    return {"statements_per_search": round(calls / searches, 2), "plans_per_search": round(plans / searches, 2),
            "plan_ms": round(plan_ms / searches, 2), "exec_ms": round(exec_ms / searches, 2)}


def _code() -> str:
    """The commit of the chataudit measured (PYTHONPATH may name another checkout), '+' if edited."""
    import chataudit

    folder = Path(chataudit.__file__).parent.parent
    head = subprocess.run(["git", "-C", str(folder), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    edited = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--", "chataudit"],
                            capture_output=True, text=True).stdout.strip()
    return f"{folder}@{head.stdout.strip() or '?'}" + ("+" if edited else "")


def _timed(search, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        search()
        times.append((time.perf_counter() - started) * 1000)
    return times


def bench_search(url: str, count: int, rounds: int, cluster=None) -> dict:
    """Latency of ``Archive.search`` per query class: a new connection's first search (COLD_ROUNDS
    connections), then on one kept connection ``rounds`` searches after WARM_UP; with the server's
    planning and execution time per search where pg_stat_statements is loaded, and the load."""
    result = {"archive": _search_archive(url, count, cluster), "rounds": rounds, "code": _code(), "classes": {}}
    archive_info = result["archive"]
    since, until = _middle_month(archive_info["first_ms"], archive_info["last_ms"])
    classes = {name: (query, {}) for name, query in QUERIES.items()}
    classes["period"] = (PERIOD_QUERY, {"since_ms": since, "until_ms": until})
    result["period"] = [since, until]
    stats = _statement_stats(url)
    print(f"{archive_info['messages']:,} messages in {archive_info['month_partitions']} month partitions,"
          f" {archive_info['database_size']}; load {os.getloadavg()[0]:.1f}", flush=True)
    kept = Archive(url, create=False)
    try:
        for name, (query, filters) in classes.items():
            expression = parse_query(query).expression
            loads = [os.getloadavg()[0]]
            cold = []
            _reset(stats)
            for _ in range(COLD_ROUNDS):
                with Archive(url, create=False) as fresh:
                    cold += _timed(lambda: fresh.search(expression, **filters), 1)
            cold_server = _server_times(stats, COLD_ROUNDS)
            hits = len(kept.search(expression, **filters))
            for _ in range(WARM_UP - 1):
                kept.search(expression, **filters)
            _reset(stats)
            warm = _timed(lambda: kept.search(expression, **filters), rounds)
            loads.append(os.getloadavg()[0])
            figures = {"query": query, "hits": hits, "median_ms": round(statistics.median(warm), 2),
                       "p95_ms": round(p95(warm), 2), "server": _server_times(stats, rounds),
                       "cold_median_ms": round(statistics.median(cold), 2), "cold_max_ms": round(max(cold), 2),
                       "cold_server": cold_server, "load": [round(min(loads), 1), round(max(loads), 1)]}
            result["classes"][name] = figures
            server = figures["server"]
            print(f"search {name:8} {query}: median {figures['median_ms']} ms, p95 {figures['p95_ms']} ms, {hits} hits"
                  + (f" (server per search: {server['statements_per_search']} statements, {server['plans_per_search']}"
                     f" planned, plan {server['plan_ms']} ms, execution {server['exec_ms']} ms)" if server else "")
                  + f"; a new connection's first: median {figures['cold_median_ms']} ms, max {figures['cold_max_ms']} ms"
                  + (f" (plan {cold_server['plan_ms']} ms, execution {cold_server['exec_ms']} ms)" if cold_server else "")
                  + f"; load {loads[0]:.1f}-{loads[-1]:.1f}", flush=True)
    finally:
        kept.close()
        if stats is not None:
            stats.close()
    return result


def _option(name: str, default: str | None = None) -> str | None:
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv[:-1] else default


def main() -> None:
    what, count = sys.argv[1], int(sys.argv[2])
    if what == "search" and _option("--db"):  # a server of one's own: its archive is reused (or built)
        try:
            result = bench_search(_option("--db"), count, int(_option("--rounds", "100")))
        finally:
            for keys in KEYS:
                shutil.rmtree(keys, ignore_errors=True)
        save(f"pg-search-{count}" + (f"-{_option('--label')}" if _option("--label") else ""), result)
        print(json.dumps(result))
        return
    cluster = pg_cluster.start_cluster({"shared_preload_libraries": STATEMENT_STATS,
                                        "pg_stat_statements.track_planning": "on"} if what == "search" else None)
    try:
        if what == "import":
            result = bench_import(cluster, count, "--trgm" in sys.argv)
        elif what == "concurrent":
            result = bench_concurrent(cluster, count)
        elif what == "migrate":
            result = bench_migrate(cluster, count)
        elif what == "search":
            result = bench_search(cluster.create_database("bench"), count, int(_option("--rounds", "100")), cluster)
        else:
            raise SystemExit(__doc__)
        save(f"pg-{what}-{count}", result)
        print(json.dumps(result))
    finally:
        cluster.stop()
        for keys in KEYS:  # this run's signing keys (throwaway)
            shutil.rmtree(keys, ignore_errors=True)


if __name__ == "__main__":
    main()
