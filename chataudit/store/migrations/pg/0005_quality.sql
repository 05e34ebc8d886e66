-- 0005: service-quality analytics (chataudit quality).
-- A covering index in timeline order with exactly the columns the response-time pass reads, so that
-- one window-function pass over it finds every wait without touching the wide message rows or
-- sorting (1M messages: ~0.8 s instead of ~1.5 s; it costs ~45 bytes per message).
-- PostgreSQL dialect of ../0005_quality.sql (same number, same tables and meaning).

CREATE INDEX messages_timing ON messages(conversation, sent_at_ms, id, kind, sender_id, sender_name);

CREATE TABLE quality_senders (
    platform    TEXT NOT NULL,
    sender_id   TEXT NOT NULL DEFAULT '',
    sender_name TEXT NOT NULL DEFAULT '',
    is_me       BIGINT NOT NULL DEFAULT 0,
    side        TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (platform, sender_id, sender_name, is_me, side)
);

CREATE TABLE quality_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE quality_nlp (
    content_hash BYTEA NOT NULL,
    analyzer     TEXT NOT NULL,
    sentiment    DOUBLE PRECISION,              -- -1 (negative) .. 1 (positive)
    flags        BIGINT NOT NULL,  -- bit 0: question, bit 1: confirmation, bit 2: polite, bit 3: curt
    typos        TEXT,              -- JSON [[wrong, right, offset], ...] or NULL
    sensitive    TEXT,              -- JSON [[category, word, offset], ...] or NULL
    PRIMARY KEY (content_hash, analyzer)
);

CREATE TABLE quality_ratings (
    id           BIGINT PRIMARY KEY,
    row_hash     TEXT NOT NULL UNIQUE,  -- SHA-256 of the normalized row: re-importing adds nothing
    conversation BIGINT REFERENCES conversations(id),
    customer     TEXT,
    rated_at_ms  BIGINT NOT NULL,
    rating       DOUBLE PRECISION NOT NULL,         -- normalized to 0..1 (5-point: (r-1)/4)
    raw          TEXT NOT NULL,
    source       TEXT NOT NULL
);

CREATE TRIGGER quality_ratings_next_id BEFORE INSERT ON quality_ratings
    FOR EACH ROW WHEN (NEW.id IS NULL) EXECUTE FUNCTION chataudit_next_id();

CREATE INDEX quality_ratings_time ON quality_ratings(rated_at_ms);
