"""``spark verify``: every message's leaf recomputed on the executors from the lake's rows, with the
ledger's own leaf code (:func:`chataudit.ledger.leaves.message_leaf`), compared with ``ledger_leaves``;
and the tree's root recomputed from per-chunk subtrees (:mod:`chataudit.spark.merkle`), which must be
the root of the checkpoint the lake was exported (or imported) under.

What runs where: the rows never come to the driver; it receives only the mismatches (named: message,
leaf, conversation, sender, instant, the fields that changed), a count per task, and one hash per
chunk of leaves. The manifest's and checkpoint's signatures are checked on the driver first
(``lake verify`` checks the files' hashes; this checks what the rows say).
"""

from __future__ import annotations

import time
from typing import Any, Iterator

import orjson

from ..errors import ChatAuditError
from ..ledger import leaves as L
from ..ledger.note import Verifier
from ..lake import layout
from . import merkle as spark_merkle
from .arrow import map_rows

MESSAGE_FIELDS = [c.strip()[2:] for c in L.MESSAGE_COLUMNS.split(",")]  # "m.id" → "id", in leaf-code order
MAX_NAMED = 10_000
PROBLEM_COLUMNS = ("kind", "message", "leaf", "conversation", "sender", "sent_at_ms", "fields", "checked")
PROBLEM_SCHEMA = ("kind string, message long, leaf long, conversation string, sender string, sent_at_ms long,"
                  " fields string, checked long")


def _leaf_checker(sources: dict[int, str], redactions: dict[int, dict[str, Any]]):
    """A partition function: joined rows (MESSAGE_FIELDS, native, idx, leaf_hash, salts, fields)
    → one tuple (PROBLEM_COLUMNS) per mismatch and one ``_checked`` tuple per task."""
    message_leaf, differing, width = L.message_leaf, L.differing_fields, len(MESSAGE_FIELDS)
    from ..ledger.merkle import leaf_hash

    def run(rows: Iterator[Any]) -> Iterator[tuple]:
        checked = mismatched = 0
        for problem in _check(rows):
            if problem[0] == "_checked":
                checked = problem[-1]
                continue
            mismatched += 1
            if mismatched <= MAX_NAMED:  # each task names at most this many; all are counted
                yield problem
        yield ("_checked", mismatched, None, None, None, None, None, checked)

    def _check(rows: Iterator[Any]) -> Iterator[tuple]:
        checked = 0
        for values in rows:
            row, (native, idx, stored, salts, fingerprints) = values[:width], values[width:]
            message_id = row[0]
            sender = None if message_id is None else row[L.COL_SENDER_NAME] or row[L.COL_SENDER_ID]
            if idx is None:
                yield ("not_in_ledger", message_id, None, native, sender, row[L.COL_SENT_AT], None, 0)
                continue
            if message_id is None:
                yield ("deleted", None, idx, None, None, None, None, 0)
                continue
            checked += 1
            data = message_leaf(row, native or "", sources.get(row[L.COL_SOURCE], ""),
                                bytes(salts).hex() if salts else "", redactions.get(idx))
            if leaf_hash(data) != bytes(stored):
                yield ("modified", message_id, idx, native, sender, row[L.COL_SENT_AT],
                       orjson.dumps(differing(bytes(fingerprints) if fingerprints else None, data)).decode(), 0)
        yield ("_checked", None, None, None, None, None, None, checked)

    return run


def read_table(session: Any, uri: str, manifest: dict[str, Any], table: str) -> Any:
    """A lake table as a DataFrame, read from exactly the files the manifest lists."""
    paths = layout.spark_paths(uri, manifest, table)
    if not paths:
        raise ChatAuditError(f"{uri}: the manifest lists no {table} files")
    return session.read.parquet(*paths)


def verify_on_spark(session: Any, uri: str, *, verifier: Verifier | None = None) -> dict[str, Any]:
    """Recompute every message leaf and the root on the cluster; the report (keys in the README)."""
    from pyspark.sql import functions as F

    started = time.perf_counter()
    from ..lake.verify import open_signed

    fs, base, manifest, problems, problem, verifier, key_source = open_signed(uri, verifier)
    checkpoint = manifest.get("checkpoint") or {}
    tree_size, signed_root = int(checkpoint.get("tree_size", 0)), str(checkpoint.get("root", ""))

    # small tables on the driver: sources' hashes, the policy events (purges, redactions)
    sources = {row["id"]: row["sha256"] for row in read_table(session, uri, manifest, "sources")
               .select("id", "sha256").collect()}
    purged: set[int] = set()
    redactions: dict[int, dict[str, Any]] = {}
    for row in read_table(session, uri, manifest, "ledger_events").orderBy("leaf").collect():
        if row["action"] == "purge":
            purged.add(row["target"])
        elif row["action"] == "redaction" and row["digests"]:
            redactions.setdefault(row["target"], {}).update(orjson.loads(row["digests"]))

    leaves = read_table(session, uri, manifest, "ledger_leaves").where(F.col("idx") < tree_size)
    live = leaves.where((F.col("kind") == L.MESSAGE) & ~F.col("idx").isin(list(purged)) if purged
                        else F.col("kind") == L.MESSAGE)
    # a message's live leaf is its latest unpurged one (a purged message's id may be reused)
    latest = live.groupBy("ref").agg(F.max("idx").alias("idx"))
    live = live.join(latest, ["ref", "idx"]).select("ref", "idx", "leaf_hash", "salts", "fields")
    messages = read_table(session, uri, manifest, "messages").select(*MESSAGE_FIELDS)
    conversations = read_table(session, uri, manifest, "conversations").select(
        F.col("id").alias("_cid"), F.col("native_id").alias("_native"))
    joined = (messages.join(conversations, messages["conversation"] == conversations["_cid"], "left")
              .join(live, messages["id"] == live["ref"], "full_outer")
              .select(*[messages[c] for c in MESSAGE_FIELDS], "_native", live["idx"], "leaf_hash", "salts",
                      live["fields"]))
    found = map_rows(joined, _leaf_checker(sources, redactions), PROBLEM_SCHEMA)
    checked, named, mismatches = 0, [], 0
    for values in found.collect():
        row = dict(zip(PROBLEM_COLUMNS, values))
        if row["kind"] == "_checked":
            checked += row["checked"]
            mismatches += row["message"]
            continue
        if len(named) < MAX_NAMED:
            named.append({"kind": row["kind"], "message": row["message"], "leaf": row["leaf"],
                          "conversation": row["conversation"], "sender": row["sender"],
                          "sent_at_ms": row["sent_at_ms"],
                          "fields": orjson.loads(row["fields"]) if row["fields"] else []})
    named.sort(key=lambda m: (m["leaf"] is None, m["leaf"] or 0, m["message"] or 0))

    root, chunks, why = spark_merkle.tree_root(session, leaves, tree_size)
    if why:
        problem("ledger_order", why, "ledger_leaves")
    elif root.hex() != signed_root:
        problem("ledger_root", f"the leaves hash to {root.hex()} at size {tree_size}, the signed checkpoint says "
                               f"{signed_root}", "ledger_leaves")
    if mismatches:
        problem("messages", f"{mismatches} message(s) do not match their leaves", "messages")
    return {
        "ok": not problems,
        "lake": uri,
        "master": session.sparkContext.master,
        "key": str(verifier) if verifier else None,
        "key_source": key_source,
        "tree_size": tree_size,
        "root": root.hex() if root else None,
        "signed_root": signed_root,
        "checked": checked,
        "chunks": chunks,
        "mismatches": named,
        "mismatch_count": mismatches,
        "problems": problems,
        "seconds": round(time.perf_counter() - started, 3),
    }

