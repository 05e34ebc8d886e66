-- 0016: the hashes of the ledger tree's perfect subtrees (width 2^level >= 2, the idx-th of its
-- level), written as leaves are appended, so an inclusion proof reads O(log n) hashes instead of
-- rebuilding the tree. A cache: every proof made from it is checked against the signed root before
-- it is returned (a wrong or missing node falls back to recomputing from the leaves), and `verify`
-- never reads it. Filled for an existing archive at its next ledger append.
-- PostgreSQL dialect of ../0016_ledger_nodes.sql (same number, same tables and meaning).

CREATE TABLE ledger_nodes (
    level BIGINT NOT NULL,
    idx   BIGINT NOT NULL,
    hash  BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);
