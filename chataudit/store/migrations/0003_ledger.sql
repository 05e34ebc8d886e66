-- 0003: the tamper-evident ledger — an RFC 6962 Merkle tree over sources, messages and policy
-- events (chataudit/ledger/leaves.py documents each leaf), signed checkpoints and RFC 3161 tokens.
-- Append-only: the ledger code adds triggers that refuse updates and deletes of these rows.
CREATE TABLE ledger_leaves (
    idx          INTEGER PRIMARY KEY,        -- position in the tree, from 0
    kind         INTEGER NOT NULL,           -- 0 source, 1 message, 2 policy event
    ref          INTEGER NOT NULL,           -- sources.id, messages.id, or idx itself for an event
    leaf_hash    BLOB NOT NULL,              -- SHA-256(0x00 || leaf bytes)
    conversation INTEGER,                    -- where a message was (names it if its row is deleted)
    sent_at_ms   INTEGER,
    sender       TEXT,                       -- cleared when the message is purged
    salts        BLOB                        -- a message's random 16-byte field salts, concatenated:
                                             -- text, sender_id, sender_name, extras, attachments…
                                             -- (dropped on purge, zeroed per field on redaction)
);
CREATE INDEX ledger_leaves_ref ON ledger_leaves(kind, ref);

-- Purges and redactions by policy; each is also a leaf of the tree (leaf = its ledger_leaves.idx).
CREATE TABLE ledger_events (
    leaf    INTEGER PRIMARY KEY,
    action  TEXT NOT NULL,                   -- 'purge' or 'redaction'
    target  INTEGER NOT NULL,                -- leaf index of the message
    fields  TEXT,                            -- JSON list of redacted fields
    digests TEXT,                            -- JSON {field: digest} recorded before the values went
    reason  TEXT,
    at      TEXT NOT NULL                    -- ISO 8601 UTC
);
CREATE INDEX ledger_events_target ON ledger_events(target);

-- Signed tree heads: C2SP tlog-checkpoint text signed as a C2SP signed note.
CREATE TABLE ledger_checkpoints (
    id           INTEGER PRIMARY KEY,
    tree_size    INTEGER NOT NULL,
    root         BLOB NOT NULL,
    note         TEXT NOT NULL,              -- the signed note, byte for byte
    signed_at    TEXT NOT NULL,              -- ISO 8601 UTC, when it was signed
    signed_at_ms INTEGER NOT NULL,
    frontier     BLOB NOT NULL               -- the tree's right edge at this size (resumes appends)
);

-- RFC 3161 time-stamp responses over a checkpoint's note.
CREATE TABLE ledger_timestamps (
    id             INTEGER PRIMARY KEY,
    checkpoint     INTEGER NOT NULL REFERENCES ledger_checkpoints(id),
    tsa_url        TEXT,
    response       BLOB NOT NULL,            -- DER TimeStampResp
    gen_time       TEXT NOT NULL,            -- ISO 8601 UTC, the TSA's time
    hash_algorithm TEXT NOT NULL,
    ca_pem         TEXT,                     -- trust anchor given with --cert, if any
    created_at     TEXT NOT NULL
);
CREATE INDEX ledger_timestamps_checkpoint ON ledger_timestamps(checkpoint);
