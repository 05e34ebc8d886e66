"""The archive's append-only log: leaves, signed checkpoints, proofs, purges and redactions.

Every imported source and each of its new messages is appended (inside the source's own
transaction) and a checkpoint is signed over the new tree head; a purge or redaction by policy is
itself appended as an event leaf and signed. Nothing already in the tree is ever rewritten.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from operator import itemgetter
from pathlib import Path
from typing import Any, Iterable, Iterator

import orjson

from ..errors import ChatAuditError
from ..store import SQLITE_ERRORS
from ..store.sqlite import DELETE_BATCH
from . import leaves as L
from .keys import KEY_PATH_SETTING, load_or_create_key, resolve_key_path
from .merkle import (EMPTY_ROOT, MemoryTree, ProofError, TreeBuilder, consistency_proof, hash_from_pieces,
                     inclusion_proof, leaf_hash, perfect_pieces, verify_inclusion)
from .note import Checkpoint, NoteError, Signer, Verifier, sign
from .witness import advance as advance_witness, load as load_witness, witness_path as resolve_witness_path

ORIGIN_SETTING = "ledger.origin"
VKEY_SETTING = "ledger.vkey"
NODES_SETTING = "ledger.nodes_size"  # leaves whose perfect subtrees ledger_nodes holds
NODE_PROOFS = 1000  # above this many proofs in one call, one O(n) tree build is cheaper than lookups
BATCH = 5000
_leaf_hash = hashlib.sha256
REDACTABLE = ("text", "sender_id", "sender_name", "extras", "attachments")
GONE_SALT = bytes(L.SALT_BYTES)  # a redacted field's salt is discarded, so its value can't be guessed
# a checkpoint's extension line carrying the instant it was signed, so the claim is under the signature
SIGNED_AT_PREFIX = "chataudit-signed-at "

# The migration runner splits on ';', which a trigger body needs, so the guards are created here.
GUARDS = [
    ("ledger_leaves_no_delete", "BEFORE DELETE ON ledger_leaves"),
    # salts and the sender locator may go (purge, redaction); what the tree committed to may not
    ("ledger_leaves_no_update", "BEFORE UPDATE OF idx, kind, ref, leaf_hash ON ledger_leaves"),
    ("ledger_checkpoints_no_delete", "BEFORE DELETE ON ledger_checkpoints"),
    ("ledger_checkpoints_no_update", "BEFORE UPDATE ON ledger_checkpoints"),
    ("ledger_events_no_delete", "BEFORE DELETE ON ledger_events"),
    ("ledger_events_no_update", "BEFORE UPDATE ON ledger_events"),
    ("ledger_timestamps_no_delete", "BEFORE DELETE ON ledger_timestamps"),
    ("ledger_timestamps_no_update", "BEFORE UPDATE ON ledger_timestamps"),
    ("ledger_sightings_no_delete", "BEFORE DELETE ON ledger_sightings"),
    # a purge drops a sighting's salt; what the tree committed to may not change
    ("ledger_sightings_no_update", "BEFORE UPDATE OF source, leaf, hash ON ledger_sightings"),
    ("ledger_conversations_no_delete", "BEFORE DELETE ON ledger_conversations"),
    ("ledger_conversations_no_update", "BEFORE UPDATE ON ledger_conversations"),
]


def now_utc() -> tuple[str, int]:
    moment = datetime.now(timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"), int(moment.timestamp() * 1000)


@dataclass(frozen=True)
class CheckpointRecord:
    id: int
    tree_size: int
    root: bytes
    note: str
    signed_at: str
    signed_at_ms: int

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "tree_size": self.tree_size, "root": self.root.hex(), "note": self.note,
                "signed_at": self.signed_at}


@dataclass(frozen=True)
class Proof:
    """An inclusion proof of one leaf against a signed checkpoint (hashes as hex in ``as_dict``)."""

    message_id: int | None
    leaf_index: int
    leaf: bytes
    leaf_hash: bytes
    tree_size: int
    hashes: list[bytes]
    checkpoint: CheckpointRecord
    disclosures: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "message": self.message_id,
            "leaf_index": self.leaf_index,
            "leaf": self.leaf.decode(),
            "leaf_hash": self.leaf_hash.hex(),
            "disclosures": self.disclosures,
            "tree_size": self.tree_size,
            "proof": [h.hex() for h in self.hashes],
            "root": self.checkpoint.root.hex(),
            "checkpoint": self.checkpoint.note,
        }


def _rows(db, sql: str, params: Iterable[Any] = ()) -> Iterator[tuple]:
    cursor = db.cursor()
    cursor.row_factory = None
    cursor.execute(sql, tuple(params))
    while batch := cursor.fetchmany(BATCH):
        yield from batch


def _conversation_rows(db, ids: list[int]) -> Iterator[tuple]:
    """The CONVERSATION_COLUMNS rows of these conversations (ids sorted), in id order."""
    for start in range(0, len(ids), DELETE_BATCH):
        chunk = ids[start:start + DELETE_BATCH]
        yield from _rows(db, f"SELECT {L.CONVERSATION_COLUMNS} FROM conversations WHERE id IN"
                             f" ({', '.join('?' * len(chunk))}) ORDER BY id", chunk)


class Ledger:
    """The ledger of one open :class:`~chataudit.store.Archive`."""

    def __init__(self, archive, key_path: str | Path | None = None, *, witness_path: str | Path | None = None):
        self.archive = archive
        self.db = archive.db
        self.key_path = resolve_key_path(archive.path, key_path, archive.setting(KEY_PATH_SETTING))
        self.witness_path = resolve_witness_path(self.key_path, witness_path)
        self._signer: Signer | None = None
        self._conversations: dict[int, str] | None = None

    # ---- identity and keys ----------------------------------------------------------------------

    @property
    def origin(self) -> str | None:
        return self.archive.setting(ORIGIN_SETTING)

    def recorded_verifier(self) -> Verifier | None:
        text = self.archive.setting(VKEY_SETTING)
        return Verifier.from_key(text) if text else None

    def ensure_guards(self) -> None:
        for name, when in GUARDS:
            self.db.execute(
                f"CREATE TRIGGER IF NOT EXISTS {name} {when}"
                " BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END"
            )

    def signer(self) -> Signer:
        """The signing key, created on first use; it must be the key this archive was signed with."""
        if self._signer is not None:
            return self._signer
        origin = self.origin
        if origin is None:
            origin = "chataudit/" + secrets.token_hex(8)
            self.archive.set_setting(ORIGIN_SETTING, origin)
        signer, _created = load_or_create_key(self.key_path, origin)
        recorded = self.recorded_verifier()
        if recorded is None:
            self.archive.set_setting(VKEY_SETTING, str(signer.verifier))
        elif recorded != signer.verifier:
            raise ChatAuditError(
                f"{self.key_path} is key {signer.name}+{signer.key_id:08x}, but this archive is signed by "
                f"{recorded.name}+{recorded.key_id:08x}; pass that key with --key or $CHATAUDIT_KEY"
            )
        self._signer = signer
        return signer

    # ---- reading --------------------------------------------------------------------------------

    def leaf_count(self) -> int:
        """Leaves in the tree (indexes are dense from 0; `verify` reports any gap)."""
        return self.db.execute("SELECT coalesce(max(idx) + 1, 0) FROM ledger_leaves").fetchone()[0]

    def checkpoints(self) -> list[CheckpointRecord]:
        return [CheckpointRecord(*row) for row in _rows(
            self.db, "SELECT id, tree_size, root, note, signed_at, signed_at_ms FROM ledger_checkpoints ORDER BY id")]

    def latest_checkpoint(self) -> CheckpointRecord | None:
        row = self.db.execute(
            "SELECT id, tree_size, root, note, signed_at, signed_at_ms FROM ledger_checkpoints ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return CheckpointRecord(*row) if row else None

    def timestamps(self, checkpoint_id: int | None = None) -> list[dict[str, Any]]:
        """Stored RFC 3161 responses (DER), of one checkpoint or all, oldest first."""
        sql = "SELECT id, checkpoint, tsa_url, response, gen_time, hash_algorithm, ca_pem FROM ledger_timestamps"
        params: tuple = ()
        if checkpoint_id is not None:
            sql += " WHERE checkpoint = ?"
            params = (checkpoint_id,)
        keys = ("id", "checkpoint", "tsa_url", "response", "gen_time", "hash_algorithm", "ca_pem")
        return [dict(zip(keys, row)) for row in _rows(self.db, sql + " ORDER BY id", params)]

    def conversation_ids(self) -> dict[int, str]:
        if self._conversations is None:
            self._conversations = dict(_rows(self.db, "SELECT id, native_id FROM conversations"))
        return self._conversations

    def source_hashes(self) -> dict[int, str]:
        return dict(_rows(self.db, "SELECT id, sha256 FROM sources"))

    def stored_leaf_hashes(self, size: int | None = None) -> Iterator[bytes]:
        sql = "SELECT leaf_hash FROM ledger_leaves ORDER BY idx"
        if size is not None:
            sql += f" LIMIT {int(size)}"
        for (value,) in _rows(self.db, sql):
            yield value

    def purged_leaves(self) -> set[int]:
        return {t for (t,) in _rows(self.db, "SELECT target FROM ledger_events WHERE action = 'purge'")}

    def redactions(self) -> dict[int, dict[str, Any]]:
        """leaf index → {field: digest recorded before the value was removed}."""
        result: dict[int, dict[str, Any]] = {}
        for target, digests in _rows(self.db, "SELECT target, digests FROM ledger_events"
                                              " WHERE action = 'redaction' ORDER BY leaf"):
            result.setdefault(target, {}).update(orjson.loads(digests))
        return result

    def message_leaf_index(self, message_id: int, purged: set[int] | None = None) -> int:
        """The live leaf of a message (a purged message's id may have been reused by a later one)."""
        purged = self.purged_leaves() if purged is None else purged
        rows = self.db.execute(
            "SELECT idx FROM ledger_leaves WHERE kind = 1 AND ref = ? ORDER BY idx DESC", (message_id,)
        ).fetchall()
        for (idx,) in rows:
            if idx not in purged:
                return idx
        if self.db.execute("SELECT 1 FROM messages WHERE id = ?", (message_id,)).fetchone():
            raise ChatAuditError(f"message {message_id} is not in the ledger yet (run `chataudit init`)")
        raise ChatAuditError(f"no message {message_id}")

    def _message_row(self, message_id: int) -> tuple:
        cursor = self.db.cursor()
        cursor.row_factory = None
        row = cursor.execute(f"SELECT {L.MESSAGE_COLUMNS} FROM messages m WHERE m.id = ?", (message_id,)).fetchone()
        if row is None:
            raise ChatAuditError(f"no message {message_id}")
        return row

    def leaf_record(self, message_id: int) -> tuple[int, bytes, dict[str, Any]]:
        """(leaf index, leaf bytes as recomputed now, disclosures of the fields still present)."""
        idx = self.message_leaf_index(message_id)
        row = self._message_row(message_id)
        salts = self.db.execute("SELECT salts FROM ledger_leaves WHERE idx = ?", (idx,)).fetchone()[0]
        salts_text = salts.hex() if salts else ""
        redacted = self.redactions().get(idx)
        source = self.db.execute("SELECT sha256 FROM sources WHERE id = ?", (row[L.COL_SOURCE],)).fetchone()
        data = L.message_leaf(row, self.conversation_ids().get(row[L.COL_CONVERSATION], ""),
                              source[0] if source else "", salts_text, redacted)
        disclosures = L.message_disclosures(row, salts_text)
        for name in redacted or {}:
            disclosures.pop(name, None)
        return idx, data, disclosures

    def tree(self, size: int | None = None) -> MemoryTree:
        return MemoryTree(b"".join(self.stored_leaf_hashes(size)))

    def checkpoint_tree(self, checkpoint: CheckpointRecord | None = None) -> tuple[CheckpointRecord, MemoryTree]:
        """The stored tree at a signed checkpoint's size, refused unless it matches the signed root."""
        checkpoint = checkpoint or self.latest_checkpoint()
        if checkpoint is None:
            raise ChatAuditError("the archive has no checkpoint yet (run `chataudit init`)")
        tree = self.tree(checkpoint.tree_size)
        if tree.size != checkpoint.tree_size or tree.root() != checkpoint.root:
            raise ChatAuditError("the ledger does not match its signed checkpoint; run `chataudit verify`")
        return checkpoint, tree

    def proofs(self, message_ids: Iterable[int], checkpoint: CheckpointRecord | None = None) -> list[Proof]:
        """Inclusion proofs of messages against a checkpoint (default: the latest).

        A few proofs read O(log n) stored node hashes each (ledger_nodes), every one checked against
        the signed root; many, or any that does not check, are made from one rebuild of the tree
        from the stored leaves (which is itself checked against the signed root).
        """
        ids = list(message_ids)
        checkpoint = checkpoint or self.latest_checkpoint()
        if checkpoint is None:
            raise ChatAuditError("the archive has no checkpoint yet (run `chataudit init`)")
        if len(ids) <= NODE_PROOFS and int(self.archive.setting(NODES_SETTING) or 0) >= checkpoint.tree_size:
            try:
                return [self._node_proof(message_id, checkpoint) for message_id in ids]
            except _StaleNodes as stale:  # the node cache is never trusted: recompute from the leaves
                wrong_nodes = stale.args == ("node",)
        else:
            wrong_nodes = False
        checkpoint, tree = self.checkpoint_tree(checkpoint)
        self._fill_nodes_from(tree, replace=wrong_nodes)
        result = []
        for message_id in ids:
            idx, data, disclosures = self.leaf_record(message_id)
            if idx >= checkpoint.tree_size:
                raise ChatAuditError(f"message {message_id} is not in checkpoint {checkpoint.id} yet")
            if leaf_hash(data) != tree.leaf(idx):
                raise ChatAuditError(f"message {message_id} no longer matches its ledger leaf; run `chataudit verify`")
            result.append(Proof(message_id, idx, data, tree.leaf(idx), checkpoint.tree_size,
                                tree.inclusion_proof(idx, checkpoint.tree_size), checkpoint, disclosures))
        return result

    def _fill_nodes_from(self, tree: MemoryTree, replace: bool = False) -> None:
        """Keep the nodes of a tree just checked against the signed root when ledger_nodes lacks them
        (an archive from before 0016) or holds a wrong one (``replace``), so later proofs are
        O(log n). Only when the write lock comes within the connection's short busy timeout (0.25 s):
        a proof never waits its turn behind a writer (an import fills them itself as it appends)."""
        if self.db.in_transaction or (not replace and int(self.archive.setting(NODES_SETTING) or -1) >= tree.size):
            return
        try:
            self.db.execute_once("BEGIN IMMEDIATE")
        except SQLITE_ERRORS:
            return
        try:
            if self.leaf_count() == tree.size:
                self.db.execute("DELETE FROM ledger_nodes")
                for level, hashes in enumerate(tree.levels[1:], 1):
                    self.db.executemany("INSERT INTO ledger_nodes (level, idx, hash) VALUES (?, ?, ?)",
                                        ((level, i, hashes[i * 32:(i + 1) * 32]) for i in range(len(hashes) // 32)))
                self.archive.set_setting(NODES_SETTING, str(tree.size))
            self.db.execute("COMMIT")
        except SQLITE_ERRORS:
            self.db.execute("ROLLBACK")

    def _node_proof(self, message_id: int, checkpoint: CheckpointRecord) -> Proof:
        """One inclusion proof from the stored nodes; _StaleNodes unless it verifies against the
        signed root (a missing or altered node, or a leaf that no longer matches)."""
        idx, data, disclosures = self.leaf_record(message_id)
        if idx >= checkpoint.tree_size:
            raise ChatAuditError(f"message {message_id} is not in checkpoint {checkpoint.id} yet")
        stored = self._stored_subtree(idx, idx + 1)
        if leaf_hash(data) != stored:
            raise _StaleNodes("leaf")  # the full path tells which: the message or the ledger
        hashes = inclusion_proof(idx, checkpoint.tree_size, self._stored_subtree)
        try:
            verify_inclusion(idx, checkpoint.tree_size, stored, hashes, checkpoint.root)
        except ProofError:
            raise _StaleNodes("node") from None
        return Proof(message_id, idx, data, stored, checkpoint.tree_size, hashes, checkpoint, disclosures)

    def _stored_subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) from ledger_leaves and ledger_nodes (unchecked: callers verify)."""
        if end <= start:
            return EMPTY_ROOT
        pieces = {}
        for a, b in perfect_pieces(start, end):
            width = b - a
            if width == 1:
                row = self.db.execute("SELECT leaf_hash FROM ledger_leaves WHERE idx = ?", (a,)).fetchone()
            else:
                level = width.bit_length() - 1
                row = self.db.execute("SELECT hash FROM ledger_nodes WHERE level = ? AND idx = ?",
                                      (level, a >> level)).fetchone()
            if row is None or not isinstance(row[0], bytes) or len(row[0]) != 32:
                raise _StaleNodes("node")
            pieces[(a, b)] = row[0]
        return hash_from_pieces(start, end, pieces)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        checkpoint, tree = self.checkpoint_tree()
        return consistency_proof(old_size, checkpoint.tree_size if new_size is None else new_size, tree.subtree)

    # ---- the witness: the latest checkpoint, kept outside the archive --------------------------------

    def witnessed(self) -> str | None:
        """The checkpoint note the witness file keeps for this archive's log (None: none kept)."""
        origin = self.origin
        if origin is None:
            return None
        entry = load_witness(self.witness_path).get(origin)
        return entry.note if entry else None

    def witness_checkpoint(self, from_size: int | None = None) -> dict[str, Any] | None:
        """The latest checkpoint, for an evidence package to carry beside the one it proves against:
        its note, and the RFC 9162 consistency proof (hex) from ``from_size`` to it. Refused when the
        witness file keeps a checkpoint this archive no longer holds (its tail was cut or rewritten).
        None when the archive has no checkpoint."""
        latest = self.latest_checkpoint()
        if latest is None:
            return None
        kept = self.witnessed()
        if kept is not None and kept != latest.note and self.db.execute(
                "SELECT 1 FROM ledger_checkpoints WHERE note = ?", (kept,)).fetchone() is None:
            raise ChatAuditError(f"the witness file {self.witness_path} keeps a checkpoint this archive does not hold: "
                                 "its tail was cut or rewritten; run `chataudit verify`")
        result: dict[str, Any] = {"note": latest.note, "tree_size": latest.tree_size, "root": latest.root.hex()}
        if from_size is not None:
            result["from_size"] = from_size
            result["consistency"] = ([] if from_size == latest.tree_size else
                                     [h.hex() for h in self.consistency_proof(from_size)])
        return result

    def sync_witness(self) -> str:
        """Move the witness file forward to the latest committed checkpoint (never backwards, never to
        a log that does not hold the kept one). Returns ``recorded``, ``unchanged``, ``pending`` (inside
        a transaction: only committed checkpoints are witnessed) or ``refused: <why>``."""
        if self.db.in_transaction:
            return "pending"
        latest = self.latest_checkpoint()
        if latest is None:
            return "unchanged"
        # the key the archive records (never create one here); a forged record fails against the kept head
        try:
            verifier = self.recorded_verifier()
        except NoteError as error:
            return f"refused: the archive's recorded key is unreadable ({error})"
        if verifier is None:
            return "refused: the archive records no signing key"

        def archive_holds(note: str) -> bool:
            return self.db.execute("SELECT 1 FROM ledger_checkpoints WHERE note = ?", (note,)).fetchone() is not None

        try:
            return advance_witness(self.witness_path, latest.note, verifier, archive_holds)
        except NoteError as error:
            return f"refused: the latest checkpoint does not verify with {verifier.name} ({error})"
        except OSError as error:
            return f"refused: {self.witness_path}: {error.strerror or error}"
        except ChatAuditError as error:  # an unreadable witness file is left for `verify` to name
            return f"refused: {error}"

    def _sync_witness_or_warn(self) -> None:
        """After a commit: tell the witness; a refusal is one line on stderr (the commit stands)."""
        _warn_unwitnessed(self.sync_witness())

    def cosign(self, url: str, witness_key: str, *, timeout: float = 30.0) -> dict[str, Any]:
        """Have a C2SP tlog-witness at ``url`` cosign the latest checkpoint, proving it consistent with
        the head the witness holds; the cosignature is kept in the witness file beside the checkpoint."""
        from .cosign import CosignError, Cosigner, add_checkpoint
        from .witness import add_cosignature

        try:
            cosigner = Cosigner.from_key(witness_key)
        except NoteError as error:
            raise ChatAuditError(f"witness key: {error}") from None
        _warn_unwitnessed(self.sync_witness())
        checkpoint, tree = self.checkpoint_tree()

        def proof_from(old_size: int) -> list[bytes]:
            if old_size > checkpoint.tree_size:
                raise CosignError(f"{url}: the witness saw this log at size {old_size}, larger than its latest "
                                  f"checkpoint ({checkpoint.tree_size}): the log was cut")
            return tree.consistency_proof(old_size, checkpoint.tree_size)

        line, timestamp = add_checkpoint(url, checkpoint.note, cosigner, proof_from, timeout=timeout)
        origin = Checkpoint.from_text(checkpoint.note.split("\n\n", 1)[0] + "\n").origin
        kept = add_cosignature(self.witness_path, origin, checkpoint.note,
                               {"witness_key": str(cosigner), "line": line, "timestamp": timestamp, "url": url})
        return {"checkpoint": checkpoint.id, "tree_size": checkpoint.tree_size, "witness": cosigner.name,
                "timestamp": timestamp, "cosignature": line, "kept": kept}

    def _witness_on_close(self) -> None:
        """Have the archive tell the witness on close (a caller's transaction commits after us)."""
        hooks = getattr(self.archive, "on_close", None)
        if hooks is None:
            return
        self.archive.ledger_witness = (self.key_path, self.witness_path)
        if _sync_witness_on_close not in hooks:
            hooks.append(_sync_witness_on_close)

    # ---- appending ------------------------------------------------------------------------------

    def _builder(self) -> TreeBuilder:
        """The tree's right edge, resumed from the latest checkpoint, keeping the node hashes of what
        it appends (ledger_nodes, flushed with the checkpoint). Nodes missing for the leaves already
        there (an archive from before 0016) are first made from the stored leaves, once."""
        builder = self._resume_builder()
        self._nodes: list[tuple[int, int, bytes]] = []
        if int(self.archive.setting(NODES_SETTING) or -1) != builder.size:
            self.db.execute("DELETE FROM ledger_nodes")
            TreeBuilder(on_node=self._keep_node).extend(self.stored_leaf_hashes(builder.size))
        builder.on_node = self._keep_node
        return builder

    def _keep_node(self, start: int, end: int, digest: bytes) -> None:
        width = end - start
        if width > 1:  # leaves are in ledger_leaves
            level = width.bit_length() - 1
            self._nodes.append((level, start >> level, digest))
            if len(self._nodes) >= BATCH:
                self._flush_nodes()

    def _flush_nodes(self) -> None:
        self.db.executemany("INSERT OR REPLACE INTO ledger_nodes (level, idx, hash) VALUES (?, ?, ?)", self._nodes)
        self._nodes.clear()

    def _resume_builder(self) -> TreeBuilder:
        """The tree's right edge, resumed from the latest checkpoint; never one that contradicts it."""
        latest = self.latest_checkpoint()
        count = self.leaf_count()
        if latest is None:
            if count:
                raise ChatAuditError("the ledger has leaves but no checkpoint; run `chataudit verify`")
            return TreeBuilder()
        frontier_blob = self.db.execute("SELECT frontier FROM ledger_checkpoints WHERE id = ?", (latest.id,)).fetchone()[0]
        frontier = [frontier_blob[i:i + 32] for i in range(0, len(frontier_blob), 32)]
        if count == latest.tree_size and len(frontier) == bin(count).count("1"):
            builder = TreeBuilder(frontier, count)
            if builder.root() == latest.root:
                return builder
        builder = TreeBuilder()
        builder.extend(self.stored_leaf_hashes(latest.tree_size))
        if builder.size != latest.tree_size or builder.root() != latest.root or count != latest.tree_size:
            raise ChatAuditError("the ledger does not match its latest checkpoint; refusing to sign "
                                 "(run `chataudit verify`)")
        return builder

    def _write_checkpoint(self, builder: TreeBuilder) -> CheckpointRecord:
        signer = self.signer()
        if builder.on_node == self._keep_node:
            self._flush_nodes()
            self.archive.set_setting(NODES_SETTING, str(builder.size))
        root = builder.root()
        signed_at, signed_ms = now_utc()
        text = Checkpoint(self.origin or signer.name, builder.size, root, (SIGNED_AT_PREFIX + signed_at,)).text()
        note = sign(text, signer)
        self._witness_on_close()
        cursor = self.db.execute(
            "INSERT INTO ledger_checkpoints (tree_size, root, note, signed_at, signed_at_ms, frontier)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (builder.size, root, note, signed_at, signed_ms, b"".join(builder.frontier)),
        )
        return CheckpointRecord(cursor.lastrowid, builder.size, root, note, signed_at, signed_ms)

    def _append_messages(self, builder: TreeBuilder, source_id: int, source_sha256: str) -> None:
        cursor = self.db.cursor()
        cursor.row_factory = None
        cursor.execute(f"SELECT {L.MESSAGE_COLUMNS} FROM messages m WHERE m.source = ? ORDER BY m.id", (source_id,))
        append = builder.append
        while rows := cursor.fetchmany(BATCH):
            leaves_rows = self._message_leaf_rows(rows, builder.size, source_sha256)
            for leaf_row in leaves_rows:
                append(leaf_row[3])
            self._insert_leaves(leaves_rows)

    def _message_leaf_rows(self, rows: list[tuple], first_idx: int, source_sha256: str) -> list[tuple]:
        """The ledger_leaves rows of stored messages (MESSAGE_COLUMNS order, in id order) as leaves
        ``first_idx``…: new salts (drawn for the whole batch at once, in the same order), the leaf, its
        hash and field fingerprints."""
        conversations = self.conversation_ids()
        counts = [L.salt_count(row[L.COL_ATTACHMENTS]) if row[L.COL_ATTACHMENTS] else len(L.SALTED_FIELDS)
                  for row in rows]
        pool = L.new_salts(sum(counts))
        pool_hex = pool.hex()
        message_leaf, fingerprints, kind = L.message_leaf, L.field_fingerprints, L.MESSAGE
        result = []
        offset = 0
        for idx, (row, count) in enumerate(zip(rows, counts), first_idx):
            conversation = row[L.COL_CONVERSATION]
            native = conversations.get(conversation)
            if native is None:  # a conversation created by this very import
                self._conversations = None
                conversations = self.conversation_ids()
                native = conversations.get(conversation, "")
            end = offset + count
            data = message_leaf(row, native, source_sha256, pool_hex[32 * offset:32 * end])
            result.append((idx, kind, row[L.COL_ID], _leaf_hash(b"\x00" + data).digest(), conversation,
                           row[L.COL_SENT_AT], row[L.COL_SENDER_NAME] or row[L.COL_SENDER_ID],
                           pool[16 * offset:16 * end], fingerprints(data)))
            offset = end
        return result

    # ---- an import's message leaves, made while its batches are stored ----------------------------

    def begin_import(self, source_id: int) -> "_ImportLeaves | None":
        """Start the leaves of a source being imported, so that each stored batch's new messages get
        theirs at once (:meth:`_ImportLeaves.add`); None when another source is still waiting for
        its leaves (an archive imported without the ledger): then the import appends at its end."""
        self.ensure_guards()
        self.signer()  # fail before any work when the key is wrong
        pending = self.db.execute("SELECT count(*) FROM sources WHERE id != ? AND id NOT IN"
                                  " (SELECT ref FROM ledger_leaves WHERE kind = 0)", (source_id,)).fetchone()[0]
        if pending:
            return None
        sha256 = self.db.execute("SELECT sha256 FROM sources WHERE id = ?", (source_id,)).fetchone()[0]
        builder = self._builder()
        return _ImportLeaves(self, source_id, sha256, builder)

    def _append_sightings(self, builder: TreeBuilder, source_id: int, source_sha256: str,
                          new: tuple[int, int] | None = None) -> None:
        """One leaf committing to every sighting of the source; each sighting's hash is kept.

        Streamed in batches in leaf order (a source may hold millions of sightings), so the digest
        is computed as they pass and memory stays flat. ``new`` = (first message id, its leaf
        index, how many): the messages from that id on are this import's, with consecutive leaves
        in id order; their sightings are then read in key order after the others, without a leaf
        lookup or a sort (the same rows in the same order), a page of BATCH ids per query (a
        PostgreSQL client cursor holds a query's whole result).
        """
        digest, count = hashlib.sha256(), 0
        if new is None:
            queries = [(f"SELECT * FROM ({L.SIGHTINGS_QUERY}) ORDER BY 1", (source_id,))]
        else:
            first_id, first_leaf, number = new
            queries = [(f"SELECT * FROM ({L.SIGHTINGS_QUERY} AND si.message < ?) ORDER BY 1", (source_id, first_id))]
            queries += [("SELECT si.message + ?, si.message, si.position, si.sender_name, si.utc_offset_min,"
                         " si.edited_at_ms, si.message_id, si.extras FROM sightings si"
                         " WHERE si.source = ? AND si.message >= ? AND si.message < ? ORDER BY si.message",
                         (first_leaf - first_id, source_id, start, min(start + BATCH, first_id + number)))
                        for start in range(first_id, first_id + number, BATCH)]
        for query, params in queries:
            count = self._hash_sightings(query, params, source_id, digest, count)
        self._append_leaf(builder, L.SIGHTINGS, source_id, L.sightings_leaf_of(source_sha256, count, digest.digest()))

    def _hash_sightings(self, query: str, params: tuple, source_id: int, digest: Any, count: int) -> int:
        """Hash and keep the sightings ``query`` reads (SIGHTINGS_QUERY's columns, in leaf order),
        each with a new salt; returns ``count`` plus their number."""
        insert = "INSERT INTO ledger_sightings (source, leaf, hash, salt) VALUES (?, ?, ?, ?)"
        cursor = self.db.cursor()
        cursor.row_factory = None
        cursor.execute(query, params)
        sighting_hash, size = L.sighting_hash, L.SALT_BYTES
        while rows := cursor.fetchmany(BATCH):
            pool = os.urandom(size * len(rows))  # the batch's salts in one draw, in the same order
            batch = []
            for i, row in enumerate(rows):
                if row[0] is None:
                    raise ChatAuditError(f"source {source_id} holds message {row[1]}, which is not in the ledger; "
                                         "run `chataudit verify`")
                salt = pool[size * i:size * (i + 1)]
                value = sighting_hash(row, salt)
                digest.update(value)
                batch.append((source_id, row[0], value, salt))
            count += len(batch)
            self.db.executemany(insert, batch)
        return count

    def _append_conversations(self, builder: TreeBuilder, source_id: int, source_sha256: str,
                              new: tuple[int, set[int]] | None = None) -> None:
        """One leaf committing to the title, type and members of every conversation the source's
        messages are in, as they stand after the import; each conversation's hash is kept.

        ``new`` = (first message id, the conversations of the messages from it on): the messages
        from that id on are this import's (see _append_sightings), so only the sightings of older
        messages are looked up (a join over every message of the archive otherwise)."""
        digest, rows = hashlib.sha256(), []
        if new is None:
            found = _rows(self.db, f"SELECT {L.CONVERSATION_COLUMNS} FROM conversations WHERE id IN"
                                   " (SELECT m.conversation FROM sightings si JOIN messages m ON m.id = si.message"
                                   "  WHERE si.source = ? UNION SELECT conversation FROM messages WHERE source = ?)"
                                   " ORDER BY id", (source_id, source_id))
        else:
            first_id, ids = new
            if self.db.execute("SELECT 1 FROM sightings WHERE source = ? AND message < ? LIMIT 1",
                               (source_id, first_id)).fetchone():
                ids = ids | {r[0] for r in _rows(self.db, "SELECT DISTINCT m.conversation FROM sightings si JOIN messages m"
                                                          " ON m.id = si.message WHERE si.source = ? AND si.message < ?",
                                                 (source_id, first_id))}
            found = _conversation_rows(self.db, sorted(ids))
        for row in found:
            line = L.conversation_line(row)
            value = hashlib.sha256(line).digest()
            digest.update(value)
            rows.append((source_id, row[0], value, L.field_fingerprints(line)))
        self.db.executemany("INSERT INTO ledger_conversations (source, conversation, hash, fields) VALUES (?, ?, ?, ?)",
                            rows)
        self._append_leaf(builder, L.CONVERSATIONS, source_id,
                          L.conversations_leaf_of(source_sha256, len(rows), digest.digest()))

    def conversation_states(self) -> dict[int, str]:
        """conversation id → ``signed`` (its title, type and members are the ones last signed),
        ``changed`` (they differ from what was signed) or ``unsigned`` (imported before the ledger
        committed to conversations). `verify` checks the same and names each change."""
        latest: dict[int, bytes] = {}
        for conversation, value in _rows(self.db, "SELECT lc.conversation, lc.hash FROM ledger_conversations lc"
                                                  f" JOIN ledger_leaves l ON l.kind = {L.CONVERSATIONS} AND l.ref = lc.source"
                                                  " ORDER BY l.idx"):
            latest[conversation] = value
        states = {}
        for row in _rows(self.db, f"SELECT {L.CONVERSATION_COLUMNS} FROM conversations"):
            kept = latest.get(row[0])
            states[row[0]] = ("unsigned" if kept is None else
                              "signed" if hashlib.sha256(L.conversation_line(row)).digest() == kept else "changed")
        return states

    def _insert_leaves(self, leaves_rows: list[tuple]) -> None:
        if leaves_rows:
            self.db.executemany(
                "INSERT INTO ledger_leaves (idx, kind, ref, leaf_hash, conversation, sent_at_ms, sender, salts, fields)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", leaves_rows)
            leaves_rows.clear()

    def _append_leaf(self, builder: TreeBuilder, kind: int, ref: int | None, data: bytes) -> int:
        idx = builder.size
        digest = leaf_hash(data)
        builder.append(digest)
        self.db.execute("INSERT INTO ledger_leaves (idx, kind, ref, leaf_hash) VALUES (?, ?, ?, ?)",
                        (idx, kind, idx if ref is None else ref, digest))
        return idx

    def append_pending(self, *, checkpoint_if_empty: bool = False) -> CheckpointRecord | None:
        """Append every source not yet in the tree (with the messages it brought) and sign the new head.

        Runs inside the caller's transaction when there is one (the import hook), else in its own.
        """
        with _transaction(self.db, self._sync_witness_or_warn):
            self.ensure_guards()
            pending = list(_rows(self.db, f"SELECT {L.SOURCE_COLUMNS} FROM sources WHERE id NOT IN"
                                          " (SELECT ref FROM ledger_leaves WHERE kind = 0) ORDER BY id"))
            has_checkpoint = self.latest_checkpoint() is not None
            if not pending and (has_checkpoint or not checkpoint_if_empty):
                return None
            self.signer()  # fail before any work when the key is wrong
            builder = self._builder()
            for source in pending:
                self._append_leaf(builder, L.SOURCE, source[0], L.source_leaf(source))
                self._append_messages(builder, source[0], source[1])
                self._append_sightings(builder, source[0], source[1])
                self._append_conversations(builder, source[0], source[1])
            return self._write_checkpoint(builder)

    # ---- policy: purge and redaction --------------------------------------------------------------

    def _record_event(self, action: str, target: int, fields: list[str] | None, digests: dict | None,
                      reason: str | None) -> CheckpointRecord:
        at, _ = now_utc()
        builder = self._builder()
        self._append_event(builder, action, target, fields, digests, reason, at)
        return self._write_checkpoint(builder)

    def _append_event(self, builder: TreeBuilder, action: str, target: int, fields: list[str] | None,
                      digests: dict | None, reason: str | None, at: str) -> None:
        idx = builder.size
        row = (idx, action, target, orjson.dumps(fields).decode() if fields is not None else None, reason, at)
        self.db.execute("INSERT INTO ledger_events (leaf, action, target, fields, digests, reason, at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (idx, action, target, row[3], orjson.dumps(digests).decode() if digests else None, reason, at))
        self._append_leaf(builder, L.EVENT, None, L.event_leaf(row))

    def _check_unchanged(self, idx: int, message_id: int) -> tuple[tuple, str]:
        row = self._message_row(message_id)
        stored = self.db.execute("SELECT leaf_hash FROM ledger_leaves WHERE idx = ?", (idx,)).fetchone()[0]
        raw = self.db.execute("SELECT salts FROM ledger_leaves WHERE idx = ?", (idx,)).fetchone()[0]
        salts = raw.hex() if raw else ""
        source = self.db.execute("SELECT sha256 FROM sources WHERE id = ?", (row[L.COL_SOURCE],)).fetchone()
        data = L.message_leaf(row, self.conversation_ids().get(row[L.COL_CONVERSATION], ""),
                              source[0] if source else "", salts, self.redactions().get(idx))
        if leaf_hash(data) != stored:
            raise ChatAuditError(f"message {message_id} does not match its ledger leaf; run `chataudit verify`")
        return row, salts

    def purge(self, message_id: int, reason: str) -> CheckpointRecord:
        """Delete a message by retention policy; its leaf hash stays as a tombstone, the event is signed."""
        return self.purge_many([(message_id, reason)])

    def purge_many(self, purges: Iterable[tuple[int, str]]) -> CheckpointRecord:
        """Purge messages given as (message id, reason) in one transaction under one signed checkpoint.

        Each message's content goes through the store (its full-text rows and the rows that point
        at it go too), its leaf hash stays in the tree as its tombstone, and a purge event leaf
        naming the tombstone and the reason is appended.
        """
        purges = list(dict(purges).items())  # each message once
        with _transaction(self.db, self._sync_witness_or_warn):
            self.ensure_guards()
            self.signer()
            purged = self.purged_leaves()
            targets = []
            for message_id, reason in purges:
                idx = self.message_leaf_index(message_id, purged)
                self._message_row(message_id)  # refuses an unknown id before anything is deleted
                targets.append((idx, reason))
            self.archive.delete_messages(message_id for message_id, _ in purges)
            self.db.executemany("UPDATE ledger_leaves SET sender = NULL, salts = NULL WHERE idx = ?",
                                [(idx,) for idx, _ in targets])
            self.db.executemany("UPDATE ledger_sightings SET salt = NULL WHERE leaf = ?",
                                [(idx,) for idx, _ in targets])
            at, _ = now_utc()
            builder = self._builder()
            for idx, reason in targets:
                self._append_event(builder, "purge", idx, None, None, reason, at)
            return self._write_checkpoint(builder)

    def append_entry(self, kind: int, ref: int, data: bytes, *, at_ms: int | None = None,
                     who: str | None = None) -> CheckpointRecord:
        """Append one leaf whose record another capability keeps (an audit entry: kind
        :data:`~.leaves.AUDIT`, ``ref`` its row id, ``data`` its leaf bytes) and sign the new head.

        ``at_ms`` and ``who`` are kept beside the leaf (as a message's instant and sender are), so
        that `verify` can still name the entry if its row is deleted. Runs inside the caller's
        transaction when there is one.
        """
        with _transaction(self.db, self._sync_witness_or_warn):
            self.ensure_guards()
            self.signer()
            builder = self._builder()
            idx = builder.size
            digest = leaf_hash(data)
            builder.append(digest)
            self.db.execute("INSERT INTO ledger_leaves (idx, kind, ref, leaf_hash, sent_at_ms, sender)"
                            " VALUES (?, ?, ?, ?, ?, ?)", (idx, kind, ref, digest, at_ms, who))
            return self._write_checkpoint(builder)

    def redact(self, message_id: int, fields: Iterable[str], reason: str) -> CheckpointRecord:
        """Remove field values by policy; the leaf keeps their digests, so proofs still verify."""
        from ..store.sqlite import ROWID_SHIFT

        fields = sorted(set(fields))
        unknown = [f for f in fields if f not in REDACTABLE]
        if not fields or unknown:
            raise ChatAuditError(f"cannot redact {unknown or fields}; fields are {', '.join(REDACTABLE)}")
        with _transaction(self.db, self._sync_witness_or_warn):
            self.ensure_guards()
            self.signer()
            idx = self.message_leaf_index(message_id)
            row, salts = self._check_unchanged(idx, message_id)
            current = L.message_field_digests(row, salts)
            earlier = self.redactions().get(idx, {})
            digests = {f: earlier.get(f, current[f]) for f in fields}
            if "text" in fields:
                rowid = (row[L.COL_SENT_AT] // 1000) * ROWID_SHIFT + message_id
                self.db.execute("INSERT INTO message_fts (message_fts, rowid, body) VALUES ('delete', ?, index_body(?))",
                                (rowid, row[L.COL_TEXT]))
            assignments = ", ".join(f"{f} = {REDACTED_VALUE[f]}" for f in fields)
            self.db.execute(f"UPDATE messages SET {assignments} WHERE id = ?", (message_id,))
            if {"sender_id", "sender_name"} & set(fields):  # the conversation's count of senders may change
                self.archive.refresh_conversation_stats([row[L.COL_CONVERSATION]])
            positions = [SALT_POSITION[f] for f in fields if f in SALT_POSITION]
            if salts:
                raw = bytearray.fromhex(salts)
                for p in positions:
                    raw[p * L.SALT_BYTES:(p + 1) * L.SALT_BYTES] = GONE_SALT
                if "attachments" in fields:
                    del raw[len(L.SALTED_FIELDS) * L.SALT_BYTES:]
                self.db.execute("UPDATE ledger_leaves SET salts = ? WHERE idx = ?", (bytes(raw), idx))
            copied = [f for f in ("sender_name", "extras") if f in fields]
            if copied:
                # every copy's view of the message loses the value too; the sightings' kept hashes
                # stand in for them (as after a purge), and their salts go so they confirm no guess
                self.db.execute(f"UPDATE sightings SET {', '.join(f'{f} = NULL' for f in copied)} WHERE message = ?",
                                (message_id,))
                self.db.execute("UPDATE ledger_sightings SET salt = NULL WHERE leaf = ?", (idx,))
            return self._record_event("redaction", idx, fields, digests, reason)


REDACTED_VALUE = {"text": "''", "sender_id": "NULL", "sender_name": "NULL", "extras": "NULL", "attachments": "NULL"}
SALT_POSITION = {name: i for i, name in enumerate(L.SALTED_FIELDS)}


class _ImportLeaves:
    """The leaves of one source while it is imported: its message leaves are stored batch by batch
    at the indexes they will have (after the source leaf, which needs the final counts), and tied
    into the tree at the end in the same order as :meth:`Ledger.append_pending` would append them."""

    def __init__(self, ledger: Ledger, source_id: int, sha256: str, builder: TreeBuilder):
        self.ledger, self.source_id, self.sha256, self.builder = ledger, source_id, sha256, builder
        self.source_idx = builder.size
        self.next_idx = builder.size + 1
        self.first_id: int | None = None  # the first message id this import stored (its leaf: source_idx + 1)
        self.conversations: set[int] = set()  # those of the messages this import stored

    def add(self, first_new_id: int, stored: list[tuple] | None = None) -> None:
        """The leaves of the messages this source stored from ``first_new_id`` on (one batch):
        ``stored`` (the rows as SQLite holds them, in MESSAGE_COLUMNS order), else read back."""
        ledger = self.ledger
        if self.first_id is None:
            self.first_id = first_new_id
        if stored is not None:
            self.conversations.update(map(itemgetter(L.COL_CONVERSATION), stored))
            leaves_rows = ledger._message_leaf_rows(stored, self.next_idx, self.sha256)
            self.next_idx += len(leaves_rows)
            ledger._insert_leaves(leaves_rows)
            return
        cursor = ledger.db.cursor()
        cursor.row_factory = None
        cursor.execute(f"SELECT {L.MESSAGE_COLUMNS} FROM messages m WHERE m.id >= ? ORDER BY m.id", (first_new_id,))
        while rows := cursor.fetchmany(BATCH):
            self.conversations.update(map(itemgetter(L.COL_CONVERSATION), rows))
            leaves_rows = ledger._message_leaf_rows(rows, self.next_idx, self.sha256)
            self.next_idx += len(leaves_rows)
            ledger._insert_leaves(leaves_rows)

    def _new_leaves(self) -> tuple[int, int, int] | None:
        """(first new message id, its leaf index, how many) when this import's messages are the ids
        from it on, one leaf each, consecutive in id order (checked at both ends and by their
        number); else None."""
        first, count = self.first_id, self.next_idx - self.source_idx - 1
        if first is None or not count:
            return None
        db = self.ledger.db
        last = db.execute("SELECT max(id), count(*) FROM messages WHERE id >= ?", (first,)).fetchone()
        ends = db.execute("SELECT ref FROM ledger_leaves WHERE idx IN (?, ?) AND kind = ? ORDER BY idx",
                          (self.source_idx + 1, self.next_idx - 1, L.MESSAGE)).fetchall()
        if last[1] != count or last[0] != first + count - 1 or [r[0] for r in ends] != sorted({first, last[0]}):
            return None
        return first, self.source_idx + 1, count

    def current(self) -> bool:
        """True when the leaves stored so far are this import's and nothing else's (not those of an
        earlier import that was rolled back and had the same source id)."""
        latest = self.ledger.latest_checkpoint()
        return (self.builder.size == self.source_idx == (latest.tree_size if latest else 0)
                and self.ledger.leaf_count() == (self.next_idx if self.next_idx > self.source_idx + 1
                                                 else self.source_idx))  # messages after the source's place

    def finish(self) -> CheckpointRecord:
        """The source leaf, the stored message leaves, the sightings and conversations leaves and a
        signed checkpoint over the new head."""
        ledger, builder, db = self.ledger, self.builder, self.ledger.db
        source = db.execute(f"SELECT {L.SOURCE_COLUMNS} FROM sources WHERE id = ?", (self.source_id,)).fetchone()
        if builder.size != self.source_idx:
            raise ChatAuditError("the ledger changed during the import; run `chataudit verify`")
        ledger._append_leaf(builder, L.SOURCE, self.source_id, L.source_leaf(tuple(source)))
        cursor = db.cursor()
        cursor.row_factory = None
        keep = builder.on_node == ledger._keep_node  # (it is: the builder came from _builder)
        # the message leaves, a page of BATCH per query (a PostgreSQL client cursor holds a whole result)
        for start in range(self.source_idx + 1, self.next_idx, BATCH):
            rows = cursor.execute("SELECT leaf_hash FROM ledger_leaves WHERE idx >= ? AND idx < ? ORDER BY idx",
                                  (start, min(start + BATCH, self.next_idx))).fetchall()
            if keep:
                builder.extend_nodes([value for (value,) in rows], ledger._nodes)
                if len(ledger._nodes) >= BATCH:
                    ledger._flush_nodes()
            else:
                builder.extend(value for (value,) in rows)
        new = self._new_leaves()
        ledger._append_sightings(builder, self.source_id, self.sha256, new)
        ledger._append_conversations(builder, self.source_id, self.sha256,
                                     None if new is None else (new[0], self.conversations))
        return ledger._write_checkpoint(builder)


class _StaleNodes(Exception):
    """A stored node is missing or a proof made from the nodes does not verify."""


class _transaction:
    """BEGIN IMMEDIATE … COMMIT unless the connection is already inside a transaction; ``on_commit``
    runs after a COMMIT of its own (the witness is told only what is committed)."""

    def __init__(self, db, on_commit: Any = None):
        self.db = db
        self.own = False
        self.on_commit = on_commit

    def __enter__(self):
        if not self.db.in_transaction:
            self.db.execute("BEGIN IMMEDIATE")
            self.own = True
        return self

    def __exit__(self, exc_type, *exc: Any) -> None:
        if not self.own:
            return
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        if not exc_type and self.on_commit is not None:
            self.on_commit()


def _sync_witness_on_close(archive) -> None:
    key_path, witness = getattr(archive, "ledger_witness", (None, None))
    try:
        status = Ledger(archive, key_path, witness_path=witness).sync_witness()
    except (ChatAuditError, NoteError, OSError) as error:
        status = f"refused: {error}"
    _warn_unwitnessed(status)


def _warn_unwitnessed(status: str) -> None:
    if status.startswith("refused"):
        print(f"chataudit: witness file not updated: {status[len('refused: '):]}", file=sys.stderr)


def after_batch(archive, source_id: int, first_new_id: int, number: int, stored: list[tuple] | None = None) -> None:
    """The import's batch hook: the leaves of the messages the batch stored, inside the source's
    transaction (so the parsing process works on the next batch meanwhile); ``stored``: their rows
    as SQLite holds them, when the store knows them without reading them back."""
    state = getattr(archive, "ledger_import", None)
    if number == 0 or state is None or state[0] != source_id:
        ledger = Ledger(archive)
        state = archive.ledger_import = (source_id, ledger.begin_import(source_id))
    if state[1] is not None:
        state[1].add(first_new_id, stored)


def after_import(archive, source_id: int) -> None:
    """The import hook: runs inside the source's transaction, so a failure imports nothing."""
    state = getattr(archive, "ledger_import", None)
    archive.ledger_import = None
    if state is not None and state[0] == source_id and state[1] is not None and state[1].current():
        ledger = state[1].ledger
        with _transaction(ledger.db, ledger._sync_witness_or_warn):
            state[1].finish()
        return
    Ledger(archive).append_pending()


def attach(archive) -> None:
    """Make every later import of this open archive append to its ledger and sign a checkpoint."""
    hooks = archive.after_import
    if after_import not in hooks:
        hooks.append(after_import)
    batch_hooks = getattr(archive, "after_batch", None)
    if batch_hooks is not None and after_batch not in batch_hooks:
        batch_hooks.append(after_batch)
