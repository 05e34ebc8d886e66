-- 0005: service-quality analytics (chataudit quality).
-- A covering index in timeline order with exactly the columns the response-time pass reads, so that
-- one window-function pass over it finds every wait without touching the wide message rows or
-- sorting (1M messages: ~0.8 s instead of ~1.5 s; it costs ~45 bytes per message).
CREATE INDEX messages_timing ON messages(conversation, sent_at_ms, id, kind, sender_id, sender_name);

-- Distinct senders as (platform, sender_id, sender_name, is_me, side), kept up to date incrementally
-- (messages.id only grows), so classifying agents, customers and bots never rescans the archive.
CREATE TABLE quality_senders (
    platform    TEXT NOT NULL,
    sender_id   TEXT NOT NULL DEFAULT '',
    sender_name TEXT NOT NULL DEFAULT '',
    is_me       INTEGER NOT NULL DEFAULT 0,
    side        TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (platform, sender_id, sender_name, is_me, side)
) WITHOUT ROWID;

-- Cursors of the incremental caches (e.g. 'senders_last_id').
CREATE TABLE quality_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- NLP results per message content: computed once per content hash and analyzer version (the
-- fingerprint of the lexicons and code), so a second report over the same messages is fast.
CREATE TABLE quality_nlp (
    content_hash BLOB NOT NULL,
    analyzer     TEXT NOT NULL,
    sentiment    REAL,              -- -1 (negative) .. 1 (positive)
    flags        INTEGER NOT NULL,  -- bit 0: question, bit 1: confirmation, bit 2: polite, bit 3: curt
    typos        TEXT,              -- JSON [[wrong, right, offset], ...] or NULL
    sensitive    TEXT,              -- JSON [[category, word, offset], ...] or NULL
    PRIMARY KEY (content_hash, analyzer)
) WITHOUT ROWID;

-- Satisfaction ratings imported with `chataudit quality --ratings FILE` (one row per rating).
CREATE TABLE quality_ratings (
    id           INTEGER PRIMARY KEY,
    row_hash     TEXT NOT NULL UNIQUE,  -- SHA-256 of the normalized row: re-importing adds nothing
    conversation INTEGER REFERENCES conversations(id),
    customer     TEXT,
    rated_at_ms  INTEGER NOT NULL,
    rating       REAL NOT NULL,         -- normalized to 0..1 (5-point: (r-1)/4)
    raw          TEXT NOT NULL,
    source       TEXT NOT NULL
);
CREATE INDEX quality_ratings_time ON quality_ratings(rated_at_ms);
