"""Web benchmark: `chataudit serve` on loopback under 20 concurrent clients.

Builds (once) bench/out/web.db from the generator's N messages (default 1,000,000) plus one
100,000-message conversation, starts `chataudit serve` on 127.0.0.1, then measures with a bounded
load script (fixed request counts, a timeout on every request, loopback only):

* API search (`GET /api/v1/search?q=…&limit=50`): latency to the last byte, p50/p95 (target p95 < 50 ms);
* pages (search with hits, conversation list, a conversation): time to first byte, p50/p95 (target < 200 ms);
* the 100k-message conversation's page: whole HTML, sequential (target usable < 1 s).

    python bench/bench_web.py [N]
"""

from __future__ import annotations

import http.client
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
PER_CLIENT = 50  # 1,000 requests per measurement
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


def request(port: int, path: str, *, first_byte: bool, headers: dict[str, str]) -> tuple[float, int, int]:
    """One GET on a fresh connection: seconds to the first byte (or to the last), status, body bytes."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
    try:
        started = time.perf_counter()
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()  # status line and headers read: the first byte is in
        ttfb = time.perf_counter() - started
        body = response.read()
        return (ttfb if first_byte else time.perf_counter() - started), response.status, len(body)
    finally:
        connection.close()


def load(port: int, paths: list[str], *, first_byte: bool, headers: dict[str, str]) -> dict[str, float]:
    """CLIENTS threads, PER_CLIENT requests each, round-robin over paths; every answer must be 200."""
    def client(n: int) -> list[float]:
        times = []
        for i in range(PER_CLIENT):
            seconds, status, _ = request(port, paths[(n + i) % len(paths)], first_byte=first_byte, headers=headers)
            if status != 200:
                raise SystemExit(f"{paths[(n + i) % len(paths)]}: HTTP {status}")
            times.append(seconds)
        return times

    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        times = [t for each in pool.map(client, range(CLIENTS)) for t in each]
    wall = time.perf_counter() - started
    ordered = sorted(times)
    return {"requests": len(times), "p50_ms": statistics.median(times) * 1000,
            "p95_ms": ordered[int(0.95 * (len(ordered) - 1))] * 1000, "max_ms": ordered[-1] * 1000,
            "per_s": len(times) / wall}


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    db = OUT / f"web-{count}.db"
    if not db.exists():
        build(db, count)
    port = free_port()
    env = {**os.environ, "CHATAUDIT_TOKEN": TOKEN}
    server = subprocess.Popen([*chataudit(), "--db", str(db), "serve", "--host", "127.0.0.1", "--port", str(port),
                               "--no-open"], env=env, stderr=subprocess.DEVNULL)
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
        api = load(port, [f"/api/v1/search?q={quote(q)}&limit=50" for q in QUERIES], first_byte=False, headers=bearer)
        report("API search (whole answer)", api, 50)
        ids = [c["id"] for c in conversations if c["id"] != big["id"]][:20]
        pages = [f"/search?q={quote(q)}" for q in QUERIES] + ["/conversations"] + [f"/conversations/{i}" for i in ids]
        ttfb = load(port, pages, first_byte=True, headers=bearer)
        report("pages (time to first byte)", ttfb, 200)
        for label, path in (("100k conversation, first page", f"/conversations/{big['id']}"),
                            ("100k conversation, jump to a date", f"/conversations/{big['id']}?date=2025-08-01")):
            times = []
            for _ in range(10):
                seconds, status, length = request(port, path, first_byte=False, headers=bearer)
                assert status == 200, status
                times.append(seconds)
            print(f"{label}: whole HTML ({length / 1e3:.0f} kB) median {statistics.median(times) * 1000:.0f} ms, "
                  f"max {max(times) * 1000:.0f} ms (target < 1000 ms)", flush=True)
    finally:
        server.terminate()
        server.wait(10)


def http_get(port: int, path: str, headers: dict[str, str]) -> bytes:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
    try:
        connection.request("GET", path, headers=headers)
        return connection.getresponse().read()
    finally:
        connection.close()


def report(label: str, figures: dict[str, float], target_ms: float) -> None:
    verdict = "within" if figures["p95_ms"] < target_ms else "MISSES"
    print(f"{label}: {figures['requests']} requests, p50 {figures['p50_ms']:.1f} ms, p95 {figures['p95_ms']:.1f} ms, "
          f"max {figures['max_ms']:.0f} ms, {figures['per_s']:.0f} req/s — {verdict} the {target_ms:.0f} ms target",
          flush=True)


if __name__ == "__main__":
    main()
