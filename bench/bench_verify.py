"""Verify benchmark: `chataudit verify` of a 1M-message archive vs a floor measured in the same run.

The floor reads the very same rows with the very same query (leaves in tree order joined to their
messages and salts) and SHA-256-hashes each row once — the least any verifier that looks at every
record can cost. `verify` additionally recomputes every salted field digest and leaf, builds the
Merkle tree and checks the signed checkpoint.

    python bench/bench_verify.py [MESSAGES]    (default 1,000,000)
"""

from __future__ import annotations

import gc
import hashlib
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402


def build(db: Path, source: Path, ledger: bool = True) -> float:
    import chataudit.importer as importer
    from chataudit.importer import import_paths
    from chataudit.store import Archive

    if not ledger:  # for the import-overhead comparison only
        importer.attach_ledger = lambda archive: None

    for suffix in ("", "-wal", "-shm", ".key"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    started = time.perf_counter()
    with Archive(db) as archive:
        summary = import_paths(archive, [source], tz="Asia/Shanghai")
    assert not summary.errors, summary.errors
    return time.perf_counter() - started


def floor(db: Path) -> tuple[float, float, int]:
    """The same query as verify's pass, each row SHA-256-hashed once."""
    from chataudit.store import Archive

    from chataudit.ledger.verify import VERIFY_QUERY as sql

    sha = hashlib.sha256
    with Archive(db) as archive:
        started, cpu = time.perf_counter(), time.process_time()
        cursor = archive.db.cursor()
        cursor.row_factory = None
        cursor.execute(sql)
        count = 0
        while rows := cursor.fetchmany(5000):
            for row in rows:
                sha(b"\x00" + (row[9] or "").encode()).digest()
                count += 1
        return time.perf_counter() - started, time.process_time() - cpu, count


def verify(db: Path) -> tuple[float, float, dict]:
    from chataudit.ledger.verify import verify_archive
    from chataudit.store import Archive

    with Archive(db) as archive:
        started, cpu = time.perf_counter(), time.process_time()
        report = verify_archive(archive)
        return time.perf_counter() - started, time.process_time() - cpu, report.as_dict()


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    OUT.mkdir(exist_ok=True)
    source = OUT / f"generated-{count}.jsonl"
    if not source.exists():
        generate(source, count)
    db = OUT / f"verify-{count}.db"
    if not db.exists() or os.environ.get("REBUILD"):
        import_seconds = build(db, source)
        print(f"import with ledger   : {import_seconds:7.1f} s ({count / import_seconds:,.0f} msg/s)")
        if os.environ.get("COMPARE_IMPORT"):
            plain = build(OUT / f"verify-{count}-noledger.db", source, ledger=False)
            print(f"import without ledger: {plain:7.1f} s ({count / plain:,.0f} msg/s); "
                  f"the ledger adds {100 * (import_seconds / plain - 1):.0f} %")
    gc.collect()
    floor(db)  # warms the page cache for both
    # alternate and keep the best of each: the machine is shared, so single runs are noisy; CPU
    # seconds (process time) are shown too, as they depend less on what else is running
    floors = [floor(db) for _ in range(2)]
    verifies = [verify(db) for _ in range(2)]
    floor_seconds, floor_cpu, rows = min(floors)
    verify_seconds, verify_cpu, report = min(verifies, key=lambda r: r[0])
    assert report["ok"], report["problems"][:5]
    print(f"verify of {count:,} messages ({rows:,} leaves; {db.stat().st_size / 1e6:.0f} MB archive)")
    print(f"  chataudit verify : {verify_seconds:7.2f} s  {rows / verify_seconds:10,.0f} leaves/s  "
          f"(CPU {verify_cpu:.2f} s)")
    print(f"  floor            : {floor_seconds:7.2f} s  {rows / floor_seconds:10,.0f} rows/s    "
          f"(CPU {floor_cpu:.2f} s; same query, one SHA-256 per row)")
    print(f"  ratio            : {verify_seconds / floor_seconds:.2f}x the floor's time, "
          f"{verify_cpu / floor_cpu:.2f}x its CPU time (target <= 5x)")


if __name__ == "__main__":
    main()
