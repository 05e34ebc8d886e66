"""Cost of encryption at rest: import, search and quality on a plain and an encrypted archive, same run.

    python bench/bench_encryption.py [N]       # default 200,000 messages from bench/generate.py

Both archives are built from the same generated file in this one process, alternating plain and
encrypted for every measurement (the machine is shared: alternating keeps a neighbour's burst from
landing on one side only). The encrypted archive uses a key file (a raw key: SQLCipher runs no
PBKDF2 at open); the argon2id derivation of a passphrase is measured apart, once per process. Also
times a backup and its verify. Prints a Markdown table; writes under bench/out/.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from chataudit import importer  # noqa: E402
from chataudit.backup import api as backup_api  # noqa: E402
from chataudit.quality import config, report  # noqa: E402
from chataudit.quality.config import RosterEntry  # noqa: E402
from chataudit.search import search_messages  # noqa: E402
from chataudit.store import Archive  # noqa: E402
from chataudit.vault import convert, keys  # noqa: E402

QUERIES = ["退货", "快递 物流", "refund", "违约金", "发票", "非常抱歉", "tracking number", "尺码 偏小"]


def timed(fn):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def fresh(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", ".vault", ".vault.next", ".key", ".witness", ".witness.lock"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    out = HERE / "out" / "encryption"
    out.mkdir(parents=True, exist_ok=True)
    data = HERE / "out" / f"encryption-{count}.jsonl"
    if not data.exists():
        import generate

        generate.generate(data, count)
    key_file = out / "bench.key"
    key_file.unlink(missing_ok=True)
    secret = keys.new_key_file(key_file)
    keys.use(secret)
    plain, encrypted = out / "plain.db", out / "encrypted.db"
    fresh(plain)
    fresh(encrypted)
    convert.encrypt(encrypted, secret)  # a new, empty encrypted archive (as `init --encrypt` makes)
    rows = []

    imports = {}
    for name, db in (("plain", plain), ("encrypted", encrypted)):
        with Archive(db) as archive:
            _, seconds = timed(lambda: importer.import_paths(archive, [str(data)], format_name="generic",
                                                             label="bench", tz="Asia/Shanghai"))
        imports[name] = seconds
    rows.append(("import (with signing)", f"{count:,} messages", imports["plain"], imports["encrypted"]))

    searches: dict[str, list[float]] = {"plain": [], "encrypted": []}
    opened = {name: Archive(db, create=False) for name, db in (("plain", plain), ("encrypted", encrypted))}
    try:
        for archive in opened.values():
            for query in QUERIES:
                search_messages(archive, query, limit=50)  # warm
        for _ in range(5):
            for query in QUERIES:
                for name, archive in opened.items():
                    searches[name].append(timed(lambda: search_messages(archive, query, limit=50))[1])
        rows.append(("search, median of 40", f"{len(QUERIES)} queries × 5, limit 50",
                     statistics.median(searches["plain"]), statistics.median(searches["encrypted"])))

        roster = [RosterEntry(f"agent{i}", f"客服{i}", "service") for i in range(12)]
        options = config.QualityOptions(roster=roster, nlp=False, session_gap_s=7200)
        quality: dict[str, list[float]] = {"plain": [], "encrypted": []}
        for archive in opened.values():
            report.analyze(archive, options)  # warm
        for _ in range(3):
            for name, archive in opened.items():
                quality[name].append(timed(lambda: report.analyze(archive, options))[1])
        rows.append(("quality (timing metrics, no NLP), best of 3", "2 h session gap",
                     min(quality["plain"]), min(quality["encrypted"])))

        cold: dict[str, float] = {}
        for name, db in (("plain", plain), ("encrypted", encrypted)):
            def count_text() -> int:
                with Archive(db, create=False) as archive:
                    return archive.db.execute("SELECT sum(length(text)) FROM messages").fetchone()[0]
            cold[name] = timed(count_text)[1]
        rows.append(("open + full scan of message text", "page cache warm", cold["plain"], cold["encrypted"]))

        backups = out / "backups"
        shutil.rmtree(backups, ignore_errors=True)
        timing = {}
        for name, archive in opened.items():
            made, seconds = timed(lambda: backup_api.create(archive, str(backups / name), plain=False, secret=secret,
                                                            operator="bench"))
            verified, check_seconds = timed(lambda: backup_api.verify(str(backups / name), archive=archive,
                                                                      secret=secret))
            assert verified[0]["ok"]
            timing[name] = (seconds, check_seconds, made["size"], made["snapshot_size"])
        rows.append(("backup --to folder", "snapshot + zlib + AES-GCM", timing["plain"][0], timing["encrypted"][0]))
        rows.append(("backup verify", "every frame", timing["plain"][1], timing["encrypted"][1]))
    finally:
        for archive in opened.values():
            archive.close()

    _, argon = timed(lambda: keys.new_header(keys.passphrase("a passphrase"), None))
    print(f"| what | workload | plain | encrypted | ratio |")
    print("| --- | --- | --- | --- | --- |")
    for what, workload, a, b in rows:
        unit = (lambda s: f"{s * 1000:.1f} ms") if a < 1 else (lambda s: f"{s:.2f} s")
        print(f"| {what} | {workload} | {unit(a)} | {unit(b)} | {b / a:.2f}× |")
    print(f"\nfile sizes: plain {plain.stat().st_size / 1e6:.1f} MB, encrypted {encrypted.stat().st_size / 1e6:.1f} MB; "
          f"backup of plain {timing['plain'][2] / 1e6:.1f} MB (of {timing['plain'][3] / 1e6:.1f} MB), of encrypted "
          f"{timing['encrypted'][2] / 1e6:.1f} MB (of {timing['encrypted'][3] / 1e6:.1f} MB)")
    print(f"argon2id (3 passes, 64 MiB, 4 lanes) for one passphrase: {argon:.2f} s, once per process")
    print(f"cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} (machine shared with other work)")


if __name__ == "__main__":
    main()
