"""``spark supervise``: the pure supervision matcher (:class:`chataudit.supervision.matcher.Matcher`,
shipped to the executors as its definition) over every message of a lake, through the very
function ``supervise run`` calls per batch (:func:`chataudit.supervision.engine._match_rows`, with
its prefilter). Who wrote a message and which conversations have an external contact are decided
by the same rules (:func:`chataudit.supervision.engine.roles_of` over the lake's senders; the
conversations where a sender who is neither agent nor bot wrote, found by an anti-join). Alerts land
as Parquet under ``LAKE/results/supervise/``; an alert is raised once per (message, policy, rule,
start), as the archive's unique index keeps them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

from ..quality.sessions import classify
from ..supervision import engine
from ..supervision.matcher import Matcher
from .arrow import map_rows
from .jobs import lake_path, read_table, sender_rows

ALERTS = ("conversation long, message long, kind string, policy string, category string, rule string,"
          " matched string, start long, end long")
BATCH = 5_000


def _matcher_of(definition: dict[str, Any], roles: Any, external: Any):  # type: ignore[no-untyped-def]
    def run(rows: Iterator[Any]) -> Iterator[tuple]:
        matcher = Matcher(definition)
        batch: list[tuple] = []

        def flush() -> Iterator[tuple]:
            seen: set[tuple] = set()
            for hit in engine._match_rows(matcher, batch, roles.value, external.value):
                key = (hit[1], hit[3], hit[5], -1 if hit[7] is None else hit[7])
                if key not in seen:  # INSERT OR IGNORE under supervision_alerts_once: the first stays
                    seen.add(key)
                    yield hit
            batch.clear()

        for row in rows:
            batch.append(tuple(row))
            if len(batch) >= BATCH:
                yield from flush()
        if batch:
            yield from flush()

    return run


def run(spark: Any, lake: str | Path, definition: dict[str, Any], *, roster: list[Any] | None = None,
        since_ms: int | None = None) -> dict[str, Any]:
    """``{messages, alerts, by_category, results, seconds}`` of the policy ``definition`` over the lake;
    ``roster`` (quality RosterEntry list, as the archive's governance roster gives) places agents."""
    started = time.perf_counter()
    read_table(spark, lake, "messages").createOrReplaceTempView("lake_messages")
    rows = sender_rows(spark)
    senders, _agents = classify(rows, list(roster or []), None, 0)
    roles = engine.roles_of(senders, bool(roster), [(r[0], r[1], r[2]) for r in rows])
    spark.createDataFrame([(p, sid, sname) for (p, sid, sname), role in roles.items() if role in ("agent", "bot")]
                          or [], "platform string, sid string, sname string").createOrReplaceTempView("inside")
    external = {r[0] for r in spark.sql(
        "SELECT DISTINCT m.conversation FROM lake_messages m LEFT ANTI JOIN inside i ON i.platform = m.platform"
        " AND i.sid = coalesce(m.sender_id, '') AND i.sname = coalesce(m.sender_name, '')").collect()}
    context = spark.sparkContext
    where = "kind NOT IN ('system', 'recall')" + (f" AND sent_at_ms >= {int(since_ms)}" if since_ms is not None else "")
    messages = spark.sql(
        "SELECT id, conversation, platform, coalesce(sender_id, ''), coalesce(sender_name, ''), sent_at_ms, text,"
        f" attachments FROM lake_messages WHERE {where}")
    # within a partition in id order, as `supervise run` streams them (the alerts' order within a message)
    ordered = messages.repartitionByRange("id").sortWithinPartitions("id")
    hits = map_rows(ordered, _matcher_of(definition, context.broadcast(roles), context.broadcast(external)), ALERTS)
    out = lake_path(lake, "results", "supervise")
    hits.write.mode("overwrite").parquet(out)
    stored = spark.read.parquet(out)
    by_category = {r[0]: r[1] for r in stored.groupBy("category").count().orderBy("category").collect()}
    return {"messages": messages.count(), "alerts": sum(by_category.values()), "by_category": by_category,
            "results": out, "seconds": round(time.perf_counter() - started, 3)}
