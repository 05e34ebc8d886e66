"""``spark pii``: the personal-data recognizers of ``pii scan`` (:func:`chataudit.privacy.recognizers.find`)
run on the executors over every message of a lake; the findings land as Parquet under
``LAKE/results/pii/`` (message_id, type, value, start, end, sensitive) and only counts and the
first ``limit`` findings come back to the driver."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

from ..privacy.recognizers import SENSITIVE
from ..privacy.scan import parse_types
from .arrow import map_rows
from .jobs import lake_path, read_table

FINDINGS = "message_id long, type string, value string, start long, end long"


def _find(rows: Iterator[Any]) -> Iterator[tuple]:
    from ..privacy.recognizers import find

    for message_id, text in rows:
        for f in find(text or ""):
            yield message_id, f.type, f.value, f.start, f.end


def scan(spark: Any, lake: str | Path, *, conversation: int | None = None, types: str | None = None,
         limit: int = 1000) -> dict[str, Any]:
    """``{findings, counts, scanned, seconds, total, results}``: the first ``limit`` findings in
    message and text order (as ``pii scan`` lists them), counts by type, messages read, how many
    findings in all and where they are."""
    started = time.perf_counter()
    wanted = parse_types(types) if types is not None else None
    messages = read_table(spark, lake, "messages")
    if conversation is not None:
        messages = messages.where(messages["conversation"] == int(conversation))
    found = map_rows(messages.select("id", "text"), _find, FINDINGS)  # Arrow batches, not pickled rows
    if wanted:
        found = found.where(found["type"].isin(sorted(wanted)))
    sensitive = ", ".join(f"'{t}'" for t in sorted(SENSITIVE)) or "''"
    out = lake_path(lake, "results", "pii")
    found.selectExpr("*", f"type IN ({sensitive}) AS sensitive").write.mode("overwrite").parquet(out)
    stored = spark.read.parquet(out)
    counts = {r[0]: r[1] for r in stored.groupBy("type").count().orderBy("type").collect()}
    first = [r.asDict() for r in stored.orderBy("message_id", "start").limit(limit).collect()]
    return {"findings": first, "counts": counts, "scanned": messages.count(), "seconds": round(time.perf_counter() - started, 3),
            "total": sum(counts.values()), "results": out}
