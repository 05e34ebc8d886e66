"""Inclusion proofs from the stored perfect-subtree hashes (migration 0016): O(log n) reads, equal
to the proofs recomputed from the leaves, and never trusted (a wrong node is caught by the signed
root; verify does not read the nodes)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from chataudit.importer import import_paths
from chataudit.ledger import Ledger, merkle
from chataudit.ledger.log import NODES_SETTING
from chataudit.ledger.verify import verify_archive
from chataudit.store import Archive

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
WANG = Path(__file__).parent / "fixtures" / "compare" / "wang_phone.csv"
FULL_SCAN = "SELECT leaf_hash FROM ledger_leaves ORDER BY idx"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "a.db"
    with Archive(path) as archive:
        assert not import_paths(archive, [SAMPLES], tz="Asia/Shanghai").errors
    return path


def message_ids(archive: Archive) -> list[int]:
    return [r[0] for r in archive.db.execute("SELECT id FROM messages ORDER BY id")]


def traced_proofs(archive: Archive, ids: list[int]) -> tuple[list, list[str]]:
    statements: list[str] = []
    archive.db.set_trace_callback(statements.append)
    try:
        return Ledger(archive).proofs(ids), statements
    finally:
        archive.db.set_trace_callback(None)


def assert_proofs_are_the_trees(archive: Archive, proofs: list) -> None:
    ledger = Ledger(archive)
    checkpoint, tree = ledger.checkpoint_tree()
    for proof in proofs:
        assert proof.hashes == tree.inclusion_proof(proof.leaf_index, checkpoint.tree_size)
        assert proof.leaf_hash == tree.leaf(proof.leaf_index)
        merkle.verify_inclusion(proof.leaf_index, proof.tree_size, proof.leaf_hash, proof.hashes, checkpoint.root)


def test_proofs_read_stored_nodes_and_equal_the_recomputed_ones(db: Path) -> None:
    with Archive(db) as archive:
        ids = message_ids(archive)
        size = archive.db.execute("SELECT count(*) FROM ledger_leaves").fetchone()[0]
        assert archive.setting(NODES_SETTING) == str(size)
        # every perfect subtree of width >= 2 is stored: n - popcount(n) of them
        assert archive.db.execute("SELECT count(*) FROM ledger_nodes").fetchone()[0] == size - bin(size).count("1")
        proofs, statements = traced_proofs(archive, ids[:5])
        assert not any(FULL_SCAN in s for s in statements)  # no rebuild of the tree
        assert len([s for s in statements if "FROM ledger_nodes" in s]) <= 5 * size.bit_length()
        assert_proofs_are_the_trees(archive, proofs)
        # after a purge and a redaction (new leaves appended), still from the nodes, still right
        ledger = Ledger(archive)
        ledger.purge(ids[0], "retention")
        ledger.redact(ids[1], ["text"], "personal data")
        proofs, statements = traced_proofs(archive, ids[1:6])
        assert not any(FULL_SCAN in s for s in statements)
        assert_proofs_are_the_trees(archive, proofs)


def test_a_tampered_node_fails_against_the_signed_root_and_is_not_used(db: Path) -> None:
    with Archive(db) as archive:
        target = message_ids(archive)[3]
        ledger = Ledger(archive)
        checkpoint = ledger.latest_checkpoint()
        idx = ledger.message_leaf_index(target)
    # falsify the stored hash of the sibling subtree nearest the root on the proof's path
    start, end = merkle.inclusion_ranges(idx, checkpoint.tree_size)[-1]
    while end - start > 1 and (end - start) & (end - start - 1):  # a perfect piece of it
        start, end = merkle.perfect_pieces(start, end)[0]
    level = (end - start).bit_length() - 1
    with sqlite3.connect(db) as connection:
        changed = connection.execute("UPDATE ledger_nodes SET hash = zeroblob(32) WHERE level = ? AND idx = ?",
                                     (level, start >> level)).rowcount
    assert changed == 1
    with Archive(db) as archive:
        ledger = Ledger(archive)
        forged = merkle.inclusion_proof(idx, checkpoint.tree_size, ledger._stored_subtree)
        leaf = ledger._stored_subtree(idx, idx + 1)
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(idx, checkpoint.tree_size, leaf, forged, checkpoint.root)
        # what proofs() hands out is recomputed from the leaves and verifies
        (proof,) = Ledger(archive).proofs([target])
        assert proof.hashes != forged
        assert_proofs_are_the_trees(archive, [proof])
        report = verify_archive(archive)  # verify recomputes from the leaves; the cache is no evidence
        assert report.ok, report.problems
        # the wrong node was replaced from the checked tree: the next proof reads the nodes again
        again, statements = traced_proofs(archive, [target])
        assert not any(FULL_SCAN in s for s in statements) and again[0].hashes == proof.hashes


def forget_nodes(db: Path) -> None:
    with sqlite3.connect(db) as connection:  # as an archive made before 0016
        connection.execute("DELETE FROM ledger_nodes")
        connection.execute("DELETE FROM settings WHERE key = ?", (NODES_SETTING,))


def test_an_archive_without_nodes_gets_them_from_its_first_proof(db: Path) -> None:
    forget_nodes(db)
    with Archive(db) as archive:
        ids = message_ids(archive)
        proofs, statements = traced_proofs(archive, ids[:3])
        assert any(FULL_SCAN in s for s in statements)
        assert_proofs_are_the_trees(archive, proofs)
        proofs, statements = traced_proofs(archive, ids[3:6])
        assert not any(FULL_SCAN in s for s in statements)
        assert_proofs_are_the_trees(archive, proofs)


def test_an_archive_without_nodes_gets_them_at_its_next_append(db: Path) -> None:
    forget_nodes(db)
    with Archive(db) as archive:
        ids = message_ids(archive)
        assert not import_paths(archive, [WANG], tz="Asia/Shanghai").errors
        size = archive.db.execute("SELECT count(*) FROM ledger_leaves").fetchone()[0]
        assert archive.db.execute("SELECT count(*) FROM ledger_nodes").fetchone()[0] == size - bin(size).count("1")
        proofs, statements = traced_proofs(archive, ids[:3] + message_ids(archive)[-3:])
        assert not any(FULL_SCAN in s for s in statements)
        assert_proofs_are_the_trees(archive, proofs)


def test_a_modified_message_is_still_refused(db: Path) -> None:
    with Archive(db) as archive:
        target = message_ids(archive)[2]
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE messages SET text = '我同意' WHERE id = ?", (target,))
    with Archive(db) as archive, pytest.raises(Exception, match="no longer matches its ledger leaf"):
        Ledger(archive).proofs([target])
