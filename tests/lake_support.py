"""A lake written straight from an archive with pyarrow, per the layout contract of
:mod:`chataudit.lake` — so the Spark job tests do not depend on ``lake export`` (the lead switches
this helper to it at merge; keep the signature)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds

TABLES = ("messages", "conversations", "sources", "people", "person_identities", "sightings",
          "ledger_leaves", "ledger_sightings")
TYPES = {"INTEGER": pa.int64(), "TEXT": pa.string(), "BLOB": pa.binary(), "REAL": pa.float64()}


def write_lake(archive_path: str | Path, out_dir: str | Path) -> Path:
    """The archive's tables as Parquet under ``out_dir`` (messages partitioned platform=/month=)."""
    out = Path(out_dir)
    db = sqlite3.connect(f"file:{archive_path}?mode=ro", uri=True)
    try:
        for table in TABLES:
            columns = [(r[1], TYPES.get((r[2] or "").upper(), pa.string()))
                       for r in db.execute(f"PRAGMA table_info({table})")]
            if not columns:
                continue
            names = [n for n, _ in columns]
            rows = db.execute(f"SELECT {', '.join(names)} FROM {table}").fetchall()
            data = {n: [r[i] for r in rows] for i, n in enumerate(names)}
            fields = [pa.field(n, t) for n, t in columns]
            if table == "messages":
                data["month"] = [f"{y}" for y in _months(data["sent_at_ms"])]
                fields.append(pa.field("month", pa.string()))
                ds.write_dataset(pa.table(data, schema=pa.schema(fields)), out / table, format="parquet",
                                 partitioning=["platform", "month"], partitioning_flavor="hive",
                                 basename_template="part-{i}.parquet")
            else:
                (out / table).mkdir(parents=True, exist_ok=True)
                import pyarrow.parquet as pq

                pq.write_table(pa.table(data, schema=pa.schema(fields)), out / table / "part-0.parquet")
    finally:
        db.close()
    return out


def _months(instants: list[int]) -> list[str]:
    from datetime import datetime, timezone

    return [datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m") for ms in instants]
