"""Web benchmark: `chataudit serve` on loopback under 20 concurrent clients.

Builds (once) bench/out/web.db from the generator's N messages (default 1,000,000) plus one
100,000-message conversation, starts `chataudit serve` on 127.0.0.1, then measures with a bounded
load script (fixed request counts, a timeout on every request, loopback only):

* API search (`GET /api/v1/search?q=…&limit=50`): latency to the last byte, p50/p95 (target p95 < 50 ms);
* pages (search with hits, conversation list, a conversation): time to first byte, p50/p95 (target < 200 ms);
* the 100k-message conversation's page: whole HTML, sequential (target usable < 1 s);
* a message's page (its hashes and inclusion proof) and the API's proof, sequential.

Each client keeps its connection open (as a browser does). Figures are given for one client (the
latency of a request alone) and for 20 (the queue a single server process makes).

    python bench/bench_web.py [N] [--workers W]

``--workers W`` serves with `serve --workers W` (W processes; default 1).
"""

from __future__ import annotations

import http.client
import math
import os
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import CST, PHRASES, generate  # noqa: E402

OUT = HERE / "out"
CLIENTS = 20
PER_CLIENT = 50  # 1,000 requests per measurement with 20 clients
TIMEOUT_S = 30.0
TOKEN = "bench-web-token-0123456789abcdef"
BIG = 100_000
QUERIES = ["退货", "物流", "投诉", "申请退款", "refund", "parcel", "违约", "发票", "优惠", "快递"]


def chataudit() -> list[str]:
    return [sys.executable, "-m", "chataudit.cli"]


def build(db: Path, count: int) -> None:
    OUT.mkdir(exist_ok=True)
    bulk = OUT / f"web-{count}.jsonl"
    if not bulk.exists():
        generate(bulk, count)
    big = OUT / "web-big.jsonl"
    if not big.exists():
        moment = datetime(2025, 6, 1, 8, tzinfo=CST)
        with open(big, "wb") as out:
            for i in range(BIG):
                moment += timedelta(seconds=7 + i % 40)
                agent = i % 2 == 1
                out.write(orjson.dumps({
                    "sent_at": moment.isoformat(), "platform": "wecom", "conversation_id": "conv-big",
                    "conversation_title": "大客户", "sender_id": "agent-big" if agent else "cust-big",
                    "sender_name": "客服大" if agent else "大客户", "text": PHRASES[i % len(PHRASES)] + f" #{i}",
                }) + b"\n")
    started = time.perf_counter()
    subprocess.run([*chataudit(), "--db", str(db), "import", str(bulk), str(big), "--format", "generic",
                    "--tz", "Asia/Shanghai"], check=True, stdout=subprocess.DEVNULL)
    print(f"built {db.name} in {time.perf_counter() - started:.0f} s", flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request(connection: http.client.HTTPConnection, path: str, *, first_byte: bool,
            headers: dict[str, str]) -> tuple[float, int, int]:
    """One GET on a kept-alive connection (as a browser's): seconds to the first byte (or to the
    last), status, body bytes."""
    started = time.perf_counter()
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()  # status line and headers read: the first byte is in
    ttfb = time.perf_counter() - started
    body = response.read()
    return (ttfb if first_byte else time.perf_counter() - started), response.status, len(body)


def load(port: int, paths: list[str], *, first_byte: bool, headers: dict[str, str],
         clients: int = CLIENTS) -> dict[str, dict[str, float]]:
    """``clients`` threads, each with its own connection, PER_CLIENT requests each, round-robin over
    paths; every answer must be 200. Figures for all requests ("all") and per path class."""
    def client(n: int) -> list[tuple[str, float]]:
        times = []
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
        try:
            for i in range(PER_CLIENT):
                path = paths[(n + i) % len(paths)]
                seconds, status, _ = request(connection, path, first_byte=first_byte, headers=headers)
                if status != 200:
                    raise SystemExit(f"{path}: HTTP {status}")
                times.append((path_class(path), seconds))
        finally:
            connection.close()
        return times

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        times = [t for each in pool.map(client, range(clients)) for t in each]
    wall = time.perf_counter() - started
    figures = {"all": summary([t for _, t in times])}
    figures["all"]["per_s"] = len(times) / wall
    for name in sorted({c for c, _ in times}):
        figures[name] = summary([t for c, t in times if c == name])
    return figures


def path_class(path: str) -> str:
    base = path.split("?")[0]
    if base.startswith("/conversations/"):
        return "conversation page"
    return {"/search": "search page", "/conversations": "conversation list", "/api/v1/search": "API search"}.get(base, base)


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"requests": len(times), "p50_ms": statistics.median(times) * 1000,
            "p95_ms": ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)] * 1000,  # nearest rank
            "max_ms": ordered[-1] * 1000}


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=1, help="server processes (`serve --workers`)")
    arguments = parser.parse_args()
    count = arguments.count
    db = OUT / f"web-{count}.db"
    if not db.exists():
        build(db, count)
    port = free_port()
    env = {**os.environ, "CHATAUDIT_TOKEN": TOKEN}
    server = subprocess.Popen([*chataudit(), "--db", str(db), "serve", "--host", "127.0.0.1", "--port", str(port),
                               "--no-open", "--workers", str(arguments.workers)], env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start")
                time.sleep(0.2)
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        conversations = orjson.loads(http_get(port, "/api/v1/conversations", bearer))
        messages = sum(c["message_count"] for c in conversations)
        big = next(c for c in conversations if c["native_id"] == "conv-big")
        print(f"archive: {messages:,} messages in {len(conversations)} conversations, "
              f"{db.stat().st_size / 1e6:.0f} MB; {CLIENTS} clients x {PER_CLIENT} requests each", flush=True)
        searches = [f"/api/v1/search?q={quote(q)}&limit=50" for q in QUERIES]
        ids = [c["id"] for c in conversations if c["id"] != big["id"]][:20]
        pages = [f"/search?q={quote(q)}" for q in QUERIES] + ["/conversations"] + [f"/conversations/{i}" for i in ids]
        for clients in (1, CLIENTS):
            report(f"API search, whole answer, {clients} client(s)",
                   load(port, searches, first_byte=False, headers=bearer, clients=clients), 50)
            report(f"pages, time to first byte, {clients} client(s)",
                   load(port, pages, first_byte=True, headers=bearer, clients=clients), 200)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
        for label, path in (("100k conversation, first page", f"/conversations/{big['id']}"),
                            ("100k conversation, jump to a date", f"/conversations/{big['id']}?date=2025-08-01"),
                            ("100k conversation, API page of 500", f"/api/v1/conversations/{big['id']}/messages?limit=500"),
                            ("a message's page with its inclusion proof", f"/messages/{messages // 2}"),
                            ("API proof of a message", f"/api/v1/messages/{messages // 3}/proof")):
            times = []
            for _ in range(10):
                seconds, status, length = request(connection, path, first_byte=False, headers=bearer)
                assert status == 200, status
                times.append(seconds)
            print(f"{label}: whole answer ({length / 1e3:.0f} kB) median {statistics.median(times) * 1000:.0f} ms, "
                  f"max {max(times) * 1000:.0f} ms (target < 1000 ms)", flush=True)
        quality(port, bearer)
        connection.close()
    finally:
        server.terminate()
        server.wait(10)


def quality(port: int, headers: dict[str, str]) -> None:
    """A quality report as the dashboard runs it (a background job, the 12 agents in an uploaded
    roster) over a 30-day slice (tens of thousands of sessions: nearly every generated message is
    its own session), then the dashboard showing its result and one drill-down."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        roster = "id,name,role,hired_on\n" + "".join(f"agent{i},客服{i},service,2024-06-01\n" for i in range(12))
        roster += "agent-big,客服大,service,2024-06-01\n"
        boundary = "bench-web-boundary"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"roster\"; filename=\"roster.csv\"\r\n"
                f"Content-Type: text/csv\r\n\r\n{roster}\r\n--{boundary}--\r\n").encode()
        started = time.perf_counter()
        connection.request("POST", "/api/v1/quality/jobs?since=2025-03-01&until=2025-03-30", body=body,
                           headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"})
        answer = connection.getresponse()
        job = orjson.loads(answer.read())
        assert answer.status == 202, job
        while job["state"] not in ("done", "failed", "cancelled"):
            time.sleep(0.5)
            job = orjson.loads(http_get(port, f"/api/v1/jobs/{job['id']}", headers))
        wall = time.perf_counter() - started
        assert job["state"] == "done", job
        result = job["result"]
        size = len(orjson.dumps(result))
        print(f"quality-report job, 30 days: {result['messages']:,} messages, {result['sessions']:,} sessions, "
              f"{wall:.1f} s to done; result {size / 1e6:.1f} MB", flush=True)
        connection.close()  # idle longer than the server's keep-alive: a new one
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        for label, path in (("quality dashboard", f"/quality?job={job['id']}"),
                            ("its drill-down (slowest first responses)",
                             f"/quality/jobs/{job['id']}/sessions?sort=first_response_s")):
            times = []
            for _ in range(3):
                seconds, status, length = request(connection, path, first_byte=False, headers=headers)
                assert status == 200, status
                times.append(seconds)
            print(f"{label}: whole page ({length / 1e3:.0f} kB) median {statistics.median(times) * 1000:.0f} ms",
                  flush=True)
    finally:
        connection.close()


def http_get(port: int, path: str, headers: dict[str, str]) -> bytes:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
    try:
        connection.request("GET", path, headers=headers)
        return connection.getresponse().read()
    finally:
        connection.close()


def report(label: str, figures: dict[str, dict[str, float]], target_ms: float) -> None:
    every = figures["all"]
    verdict = "within" if every["p95_ms"] < target_ms else "MISSES"
    print(f"{label}: {every['requests']} requests, p50 {every['p50_ms']:.1f} ms, p95 {every['p95_ms']:.1f} ms, "
          f"max {every['max_ms']:.0f} ms, {every['per_s']:.0f} req/s — {verdict} the {target_ms:.0f} ms p95 target",
          flush=True)
    for name, row in figures.items():
        if name != "all" and len(figures) > 2:
            print(f"    {name}: {row['requests']} requests, p50 {row['p50_ms']:.1f} ms, p95 {row['p95_ms']:.1f} ms",
                  flush=True)


if __name__ == "__main__":
    main()
