"""RFC 6962 / RFC 9162 Merkle tree hashing, tree heads, inclusion and consistency proofs.

Only ``hashlib`` is used, so this module can be copied verbatim into an evidence package and run
by anyone with a Python interpreter.

* leaf hash  = SHA-256(0x00 ‖ data)
* node hash  = SHA-256(0x01 ‖ left ‖ right)
* empty tree = SHA-256("")

Proof generation works over *ranges*: a proof is the list of subtree hashes MTH(D[start:end]) that
RFC 9162 §2.1.3.1 / §2.1.4.1 name; a caller supplies ``subtree(start, end)`` (from memory, from
SQLite, or from nodes captured while streaming), so no caller needs the whole tree in memory.
"""

from __future__ import annotations

import hashlib
from typing import Callable, Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


class ProofError(ValueError):
    """A proof does not verify (or is malformed)."""


def leaf_hash(data: bytes) -> bytes:
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1): where RFC 6962 splits a tree."""
    return 1 << ((n - 1).bit_length() - 1)


class TreeBuilder:
    """Appends leaf hashes and keeps only the frontier: one perfect subtree per set bit of the size.

    Memory is O(log n). ``on_node(start, end, hash)`` (optional) sees every perfect subtree as it
    completes, which lets a single streaming pass collect exactly the nodes later proofs need.
    """

    __slots__ = ("size", "_stack", "on_node")

    def __init__(self, frontier: Sequence[bytes] = (), size: int = 0,
                 on_node: Callable[[int, int, bytes], None] | None = None):
        if len(frontier) != bin(size).count("1"):
            raise ValueError(f"a frontier of a tree of size {size} has {bin(size).count('1')} hashes")
        self.size = size
        self._stack = list(frontier)
        self.on_node = on_node

    def append(self, leaf: bytes) -> None:
        stack = self._stack
        stack.append(leaf)
        size = self.size + 1
        self.size = size
        if self.on_node is not None:
            self.on_node(size - 1, size, leaf)
            width = 1
            while not size & width:
                right = stack.pop()
                stack[-1] = _sha256(b"\x01" + stack[-1] + right).digest()
                width <<= 1
                self.on_node(size - width, size, stack[-1])
            return
        while not size & 1:
            right = stack.pop()
            stack[-1] = _sha256(b"\x01" + stack[-1] + right).digest()
            size >>= 1

    def append_capturing(self, leaf: bytes, capture: Callable[[int, int, bytes], None]) -> None:
        """Append one leaf and hand every perfect subtree it completes to ``capture``."""
        self.on_node, previous = capture, self.on_node
        try:
            self.append(leaf)
        finally:
            self.on_node = previous

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def extend_nodes(self, leaves: Iterable[bytes], nodes: list[tuple[int, int, bytes]]) -> None:
        """Append leaves and add to ``nodes`` each inner node they complete as (level, index at that
        level, hash): the perfect subtrees ``on_node`` would see wider than one leaf, without a call
        per node (an import appends a million)."""
        stack, size, sha, keep = self._stack, self.size, _sha256, nodes.append
        for leaf in leaves:
            stack.append(leaf)
            size += 1
            at, level = size, 0
            while not at & 1:
                right = stack.pop()
                stack[-1] = node = sha(b"\x01" + stack[-1] + right).digest()
                at >>= 1
                level += 1
                keep((level, at - 1, node))
        self.size = size

    def root(self) -> bytes:
        """The tree head at the current size (the frontier folded right to left)."""
        stack = self._stack
        if not stack:
            return EMPTY_ROOT
        result = stack[-1]
        for left in reversed(stack[:-1]):
            result = _sha256(b"\x01" + left + result).digest()
        return result

    @property
    def frontier(self) -> list[bytes]:
        return list(self._stack)


def perfect_pieces(start: int, end: int) -> list[tuple[int, int]]:
    """The perfect, aligned subtrees that MTH(D[start:end]) is built from (start must be aligned)."""
    width = end - start
    if width <= 0:
        return []
    if width & (width - 1) == 0 and start % width == 0:
        return [(start, end)]
    k = _split(width)
    return perfect_pieces(start, start + k) + perfect_pieces(start + k, end)


def hash_from_pieces(start: int, end: int, pieces: dict[tuple[int, int], bytes]) -> bytes:
    """MTH(D[start:end]) from its perfect pieces (see :func:`perfect_pieces`)."""
    width = end - start
    if width <= 0:
        return EMPTY_ROOT
    if (start, end) in pieces:
        return pieces[(start, end)]
    k = _split(width)
    return node_hash(hash_from_pieces(start, start + k, pieces), hash_from_pieces(start + k, end, pieces))


def root(leaf_hashes: Iterable[bytes]) -> bytes:
    """MTH of a sequence of leaf hashes, streamed (O(log n) memory)."""
    builder = TreeBuilder()
    builder.extend(leaf_hashes)
    return builder.root()


def root_of_range(leaf_hashes: Sequence[bytes], start: int, end: int) -> bytes:
    """MTH(D[start:end]) over an in-memory list of leaf hashes."""
    if start == end:
        return EMPTY_ROOT
    builder = TreeBuilder()
    for i in range(start, end):
        builder.append(leaf_hashes[i])
    return builder.root()


# ---- which subtrees a proof consists of (RFC 9162 §2.1.3.1 PATH, §2.1.4.1 SUBPROOF) -------------

def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The ranges [start, end) whose subtree hashes form the inclusion proof of leaf ``index``."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index - start < k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()  # PATH lists the sibling nearest the leaf first
    return ranges


def consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The ranges whose subtree hashes form the consistency proof from ``old_size`` to ``new_size``."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to {new_size}")
    if old_size == 0 or old_size == new_size:
        return []
    ranges: list[tuple[int, int]] = []
    start, end, m, complete = 0, new_size, old_size, True
    while True:
        n = end - start
        if m == n:
            if not complete:
                ranges.append((start, end))
            break
        k = _split(n)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
            m -= k
            complete = False
    ranges.reverse()
    return ranges


def inclusion_proof(index: int, size: int, subtree: Callable[[int, int], bytes]) -> list[bytes]:
    return [subtree(a, b) for a, b in inclusion_ranges(index, size)]


def consistency_proof(old_size: int, new_size: int, subtree: Callable[[int, int], bytes]) -> list[bytes]:
    return [subtree(a, b) for a, b in consistency_ranges(old_size, new_size)]


# ---- verification (RFC 9162 §2.1.3.2 and §2.1.4.2, step by step) --------------------------------

def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    if len(leaf) != HASH_SIZE or any(len(p) != HASH_SIZE for p in proof):
        raise ProofError("hashes must be 32 bytes")
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is too short")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root_hash: bytes) -> None:
    """Raises :class:`ProofError` unless ``leaf`` is at ``index`` of the tree with ``root_hash``."""
    if root_from_inclusion_proof(index, size, leaf, proof) != root_hash:
        raise ProofError("inclusion proof does not lead to the root hash")


def verify_consistency(old_size: int, new_size: int, proof: Sequence[bytes],
                       old_root: bytes, new_root: bytes) -> None:
    """Raises :class:`ProofError` unless the tree of ``old_size`` is a prefix of the one of ``new_size``."""
    if not 0 <= old_size <= new_size:
        raise ProofError(f"sizes go backwards ({old_size} > {new_size})")
    if any(len(p) != HASH_SIZE for p in proof):
        raise ProofError("hashes must be 32 bytes")
    if old_size == new_size:
        if proof:
            raise ProofError("proof must be empty for equal sizes")
        if old_root != new_root:
            raise ProofError("equal sizes but different roots")
        return
    if old_size == 0:
        if proof:
            raise ProofError("proof must be empty from an empty tree")
        return
    if not proof:
        raise ProofError("empty consistency proof")
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if fr != old_root:
        raise ProofError("consistency proof does not lead to the old root")
    if sr != new_root:
        raise ProofError("consistency proof does not lead to the new root")


class MemoryTree:
    """All levels of a tree in flat byte strings: every proof in O(log n) after one O(n) build.

    Used for batches of proofs (an evidence package proves thousands of messages at once). Memory is
    about 64 bytes per leaf.
    """

    def __init__(self, leaf_hashes: bytes | Iterable[bytes]):
        level = leaf_hashes if isinstance(leaf_hashes, (bytes, bytearray)) else b"".join(leaf_hashes)
        if len(level) % HASH_SIZE:
            raise ValueError("leaf hashes must be 32 bytes each")
        self.size = len(level) // HASH_SIZE
        self.levels: list[bytes] = [bytes(level)]
        while len(level) > HASH_SIZE:
            count = len(level) // HASH_SIZE
            parents = bytearray()
            for i in range(0, count - 1, 2):
                parents += _sha256(b"\x01" + level[i * 32:(i + 2) * 32]).digest()
            self.levels.append(bytes(parents))  # an odd last node has no parent at this level
            level = parents

    def _perfect(self, start: int, width: int) -> bytes:
        depth = width.bit_length() - 1
        i = start >> depth
        return self.levels[depth][i * 32:(i + 1) * 32]

    def subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for any range that occurs in an RFC 6962 tree (start aligned)."""
        if end - start <= 0:
            return EMPTY_ROOT
        width = end - start
        if width & (width - 1) == 0 and start % width == 0:
            return self._perfect(start, width)
        k = _split(width)
        return node_hash(self.subtree(start, start + k), self.subtree(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        return self.subtree(0, self.size if size is None else size)

    def leaf(self, index: int) -> bytes:
        return self.levels[0][index * 32:(index + 1) * 32]

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(index, self.size if size is None else size, self.subtree)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        return consistency_proof(old_size, self.size if new_size is None else new_size, self.subtree)
