"""Web benchmark: `chataudit serve` under 20 concurrent clients on loopback — API search p95 and
page time-to-first-byte p95 — and the page of a 100,000-message conversation.

Builds bench/out/web.db: MESSAGES generated customer-service messages (bench/generate.py) plus one
conversation of 100,000 messages, then serves it with uvicorn in this process and runs a bounded
load (CLIENTS threads × REQUESTS each, keep-alive connections, Bearer token).

    python bench/bench_web.py [MESSAGES] [--reuse]    (default 1,000,000; --reuse: the last built archive)
"""

from __future__ import annotations

import http.client
import socket
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402

CLIENTS, REQUESTS = 20, 25
LONG = 100_000
TOKEN = "bench-token-0123456789abcdef"
QUERIES = ["退货", "物流", "申请退款", "refund", '"tracking number"', "退货 -快递", "违约"]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def long_chat(path: Path) -> None:
    start = datetime(2024, 1, 1, 8, tzinfo=timezone(timedelta(hours=8)))
    with open(path, "wb") as out:
        for i in range(LONG):
            out.write(orjson.dumps({"sent_at": (start + timedelta(seconds=37 * i)).isoformat(), "platform": "wechat",
                                    "conversation_id": "long", "conversation_title": "long chat",
                                    "sender_id": "me" if i % 2 else "them", "sender_name": "我" if i % 2 else "客户",
                                    "is_me": bool(i % 2), "text": f"第 {i} 条消息，关于退货和物流"}) + b"\n")


def build(db: Path, count: int) -> None:
    from chataudit.importer import import_paths
    from chataudit.store import Archive

    OUT.mkdir(exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    generated, long = OUT / "web-messages.jsonl", OUT / "web-long.jsonl"
    generate(generated, count)
    long_chat(long)
    started = time.perf_counter()
    with Archive(db) as archive:
        import_paths(archive, [generated, long], format_name="generic", tz="Asia/Shanghai")
    print(f"built {db.name}: {count:,} + {LONG:,} messages in {time.perf_counter() - started:.0f} s")


def timed_get(connection: http.client.HTTPConnection, path: str) -> tuple[float, float]:
    """(time to first byte, total) in ms."""
    started = time.perf_counter()
    connection.request("GET", path, headers={"Authorization": f"Bearer {TOKEN}"})
    response = connection.getresponse()
    first = time.perf_counter()
    body = response.read()
    assert response.status == 200, (path, response.status, body[:200])
    return (first - started) * 1000, (time.perf_counter() - started) * 1000


def load(port: int, paths: list[str]) -> list[float]:
    results: list[float] = []
    lock = threading.Lock()

    def client(offset: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = [paths[(offset + i) % len(paths)] for i in range(REQUESTS)]
        for path in mine:
            first, _ = timed_get(connection, path)
            with lock:
                results.append(first)
        connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def main() -> None:
    import uvicorn
    from urllib.parse import quote

    from chataudit.store import Archive
    from chataudit.web.app import create_app
    from chataudit.web.config import ServerConfig

    numbers = [a for a in sys.argv[1:] if a.isdigit()]
    count = int(numbers[0]) if numbers else 1_000_000
    db = OUT / "web.db"
    if "--reuse" not in sys.argv or not db.exists():
        build(db, count)
    with Archive(db) as archive:
        long_id = archive.db.execute("SELECT id FROM conversations WHERE native_id = 'long'").fetchone()[0]
        middle = archive.db.execute("SELECT id FROM messages WHERE conversation = ? ORDER BY sent_at_ms LIMIT 1 OFFSET ?",
                                    (long_id, LONG // 2)).fetchone()[0]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(ServerConfig(db=db, token=TOKEN, owner="bench", jobs_dir=OUT / "web-jobs"))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        newest = [timed_get(connection, f"/conversations/{long_id}")[1] for _ in range(5)]
        middle_page = [timed_get(connection, f"/conversations/{long_id}?at={middle}")[1] for _ in range(5)]
        print(f"100k-message conversation page (200 bubbles): newest {percentile(newest, 0.5):.0f} ms, "
              f"around a message in the middle {percentile(middle_page, 0.5):.0f} ms (median of 5, whole page)")
        alone = {}
        for path in ("/conversations", f"/search?q={quote('退货')}", f"/messages/{middle}", "/api/v1/conversations"):
            alone[path.replace(str(middle), "ID").replace(quote("退货"), "退货")] = percentile(
                [timed_get(connection, path)[0] for _ in range(5)], 0.5)
        print("alone, median TTFB: " + ", ".join(f"{path} {ms:.0f} ms" for path, ms in alone.items()))
        proofs = [timed_get(connection, f"/messages/{middle}/proof")[1] for _ in range(3)]
        print(f"a message's inclusion proof (fetched after its page shows): {percentile(proofs, 0.5):.0f} ms, alone")
        connection.close()
        search = load(port, [f"/api/v1/search?q={quote(q)}" for q in QUERIES])
        print(f"API search, {CLIENTS} clients x {REQUESTS}: p50 {percentile(search, 0.5):.0f} ms, "
              f"p95 {percentile(search, 0.95):.0f} ms (time to first byte)")
        pages = load(port, [f"/conversations/{long_id}", "/conversations", f"/search?q={quote('退货')}",
                            f"/messages/{middle}", f"/conversations/{long_id}?at={middle}"])
        print(f"pages, {CLIENTS} clients x {REQUESTS}: TTFB p50 {percentile(pages, 0.5):.0f} ms, "
              f"p95 {percentile(pages, 0.95):.0f} ms")
    finally:
        server.should_exit = True
        thread.join(10)


if __name__ == "__main__":
    main()
