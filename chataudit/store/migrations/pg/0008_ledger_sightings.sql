-- 0008: each source's sightings, committed to the ledger. A source appended to the tree is
-- followed by one "sightings" leaf (chataudit/ledger/leaves.py) whose digest covers the hash of
-- every sighting it held; those hashes are kept here, so that `verify` can name the sighting that
-- changed and a message purged later (its sightings go with it) still verifies from its hash.
-- Append-only, like the other ledger tables (the ledger code adds the guards).
-- PostgreSQL dialect of ../0008_ledger_sightings.sql (same number, same tables and meaning).

CREATE TABLE ledger_sightings (
    source BIGINT NOT NULL,                 -- sources.id (no foreign key: kept after any purge)
    leaf   BIGINT NOT NULL,                 -- the message's leaf index
    hash   BYTEA NOT NULL,                    -- SHA-256 of the sighting's canonical JSON line
    salt   BYTEA,                             -- its random 16-byte salt; dropped when the message is
                                             -- purged, so the kept hash cannot confirm a guess
    PRIMARY KEY (source, leaf)
);
