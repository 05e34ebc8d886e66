-- 0003: the tamper-evident ledger — an RFC 6962 Merkle tree over sources, messages and policy
-- events (chataudit/ledger/leaves.py documents each leaf), signed checkpoints and RFC 3161 tokens.
-- Append-only: the ledger code adds triggers that refuse updates and deletes of these rows.
-- PostgreSQL dialect of ../0003_ledger.sql (same number, same tables and meaning).

CREATE TABLE ledger_leaves (
    idx          BIGINT PRIMARY KEY,        -- position in the tree, from 0
    kind         BIGINT NOT NULL,           -- 0 source, 1 message, 2 policy event
    ref          BIGINT NOT NULL,           -- sources.id, messages.id, or idx itself for an event
    leaf_hash    BYTEA NOT NULL,              -- SHA-256(0x00 || leaf bytes)
    conversation BIGINT,                    -- where a message was (names it if its row is deleted)
    sent_at_ms   BIGINT,
    sender       TEXT,                       -- cleared when the message is purged
    salts        BYTEA                        -- a message's random 16-byte field salts, concatenated:
                                             -- text, sender_id, sender_name, extras, attachments…
                                             -- (dropped on purge, zeroed per field on redaction)
);

CREATE INDEX ledger_leaves_ref ON ledger_leaves(kind, ref);

CREATE TABLE ledger_events (
    leaf    BIGINT PRIMARY KEY,
    action  TEXT NOT NULL,                   -- 'purge' or 'redaction'
    target  BIGINT NOT NULL,                -- leaf index of the message
    fields  TEXT,                            -- JSON list of redacted fields
    digests TEXT,                            -- JSON {field: digest} recorded before the values went
    reason  TEXT,
    at      TEXT NOT NULL                    -- ISO 8601 UTC
);

CREATE INDEX ledger_events_target ON ledger_events(target);

CREATE TABLE ledger_checkpoints (
    id           BIGINT PRIMARY KEY,
    tree_size    BIGINT NOT NULL,
    root         BYTEA NOT NULL,
    note         TEXT NOT NULL,              -- the signed note, byte for byte
    signed_at    TEXT NOT NULL,              -- ISO 8601 UTC, when it was signed
    signed_at_ms BIGINT NOT NULL,
    frontier     BYTEA NOT NULL               -- the tree's right edge at this size (resumes appends)
);

CREATE TRIGGER ledger_checkpoints_next_id BEFORE INSERT ON ledger_checkpoints
    FOR EACH ROW WHEN (NEW.id IS NULL) EXECUTE FUNCTION chataudit_next_id();

CREATE TABLE ledger_timestamps (
    id             BIGINT PRIMARY KEY,
    checkpoint     BIGINT NOT NULL REFERENCES ledger_checkpoints(id),
    tsa_url        TEXT,
    response       BYTEA NOT NULL,            -- DER TimeStampResp
    gen_time       TEXT NOT NULL,            -- ISO 8601 UTC, the TSA's time
    hash_algorithm TEXT NOT NULL,
    ca_pem         TEXT,                     -- trust anchor given with --cert, if any
    created_at     TEXT NOT NULL
);

CREATE TRIGGER ledger_timestamps_next_id BEFORE INSERT ON ledger_timestamps
    FOR EACH ROW WHEN (NEW.id IS NULL) EXECUTE FUNCTION chataudit_next_id();

CREATE INDEX ledger_timestamps_checkpoint ON ledger_timestamps(checkpoint);
