"""The RFC 6962 root of a lake's leaves computed on the executors: the leaves are cut into aligned
chunks of ``2^k`` (each a perfect subtree of the tree, the last one a right edge), each chunk's
subtree hash is made by one task with the ledger's own :class:`~chataudit.ledger.merkle.TreeBuilder`,
and the driver joins the few chunk hashes into the root with the ledger's
:func:`~chataudit.ledger.merkle.hash_from_pieces` (the RFC's split always lands on chunk edges).
"""

from __future__ import annotations

from typing import Any, Iterator

from ..ledger.merkle import EMPTY_ROOT, TreeBuilder, hash_from_pieces
from .arrow import rows_in_arrow

MIN_CHUNK_BITS = 10
CHUNK_SCHEMA = "chunk long, first long, leaves long, hash binary, dense boolean"


def chunk_bits(size: int, tasks: int) -> int:
    """log2 of a chunk size giving about four chunks per task (never below 1024 leaves)."""
    target = max(1, size // max(1, 4 * tasks))
    return max(MIN_CHUNK_BITS, target.bit_length() - 1)


def subtrees(bits: int):
    """A partition function: (idx, leaf_hash) rows sorted by idx, whole chunks per partition → one
    (chunk, first idx, leaves, subtree hash, dense) tuple per chunk."""

    def run(rows: Iterator[Any]) -> Iterator[tuple]:
        chunk = first = None
        builder = TreeBuilder()
        dense = True
        for idx, value in rows:
            current = idx >> bits
            if current != chunk:
                if chunk is not None:
                    yield (chunk, first, builder.size, builder.root(), dense)
                chunk, first, builder, dense = current, idx, TreeBuilder(), idx == current << bits
            elif idx != first + builder.size:
                dense = False
            value = bytes(value) if value is not None else b""
            if len(value) != 32:
                dense, value = False, bytes(32)
            builder.append(value)
        if chunk is not None:
            yield (chunk, first, builder.size, builder.root(), dense)

    return run


def join_chunks(rows: list[tuple[int, int, int, bytes, bool]], size: int, bits: int) -> tuple[bytes | None, str | None]:
    """The root from the chunk hashes, or (None, why) when the leaves are not exactly 0…size-1."""
    if size == 0:
        return EMPTY_ROOT, None
    width = 1 << bits
    pieces = {}
    expected = (size + width - 1) >> bits
    seen = {row[0] for row in rows}
    if len(rows) != len(seen) or seen != set(range(expected)):
        missing = sorted(set(range(expected)) - seen)[:1]
        return None, f"leaves missing around index {missing[0] << bits}" if missing else "duplicate leaves"
    for chunk, first, leaves, value, dense in rows:
        start, end = chunk << bits, min((chunk + 1) << bits, size)
        if not dense or first != start or leaves != end - start:
            return None, f"leaves {start}…{end - 1} are not dense ({leaves} found)"
        pieces[(start, end)] = value
    return hash_from_pieces(0, size, pieces), None


def tree_root(session: Any, leaves: Any, size: int) -> tuple[bytes | None, int, str | None]:
    """(root, chunks, why not) of a DataFrame of leaves (``idx``, ``leaf_hash``) below ``size``."""
    from pyspark.sql import functions as F

    tasks = session.sparkContext.defaultParallelism
    bits = chunk_bits(size, tasks)
    rows = (leaves.where(F.col("idx") < size).select("idx", "leaf_hash")
            .withColumn("_chunk", F.shiftright("idx", bits))
            .repartition(max(1, min(tasks * 4, (size >> bits) + 1)), "_chunk")
            .sortWithinPartitions("idx").select("idx", "leaf_hash")
            .mapInArrow(rows_in_arrow(subtrees(bits), CHUNK_SCHEMA), CHUNK_SCHEMA).collect())
    rows = [(chunk, first, leaves, bytes(value), dense) for chunk, first, leaves, value, dense in rows]
    root, why = join_chunks(rows, size, bits)
    return root, len(rows), why
