-- 0001: sources, conversations, messages and the full-text index.
-- Instants are UTC milliseconds; utc_offset_min keeps the offset the export showed.
CREATE TABLE sources (
    id            INTEGER PRIMARY KEY,
    sha256        TEXT NOT NULL UNIQUE,      -- of the file's bytes (or of a folder's manifest)
    path          TEXT NOT NULL,
    size          INTEGER NOT NULL,
    format        TEXT NOT NULL,
    label         TEXT,
    imported_at   TEXT NOT NULL,             -- ISO 8601 UTC
    message_count INTEGER NOT NULL DEFAULT 0, -- messages the file holds
    new_count     INTEGER NOT NULL DEFAULT 0  -- of which were new to the archive
);
CREATE INDEX sources_label ON sources(label);

CREATE TABLE conversations (
    id        INTEGER PRIMARY KEY,
    platform  TEXT NOT NULL,
    native_id TEXT NOT NULL,
    title     TEXT,
    type      TEXT NOT NULL DEFAULT 'unknown',
    members   TEXT,                          -- JSON [[id, name], ...]
    UNIQUE (platform, native_id)
);

CREATE TABLE messages (
    id             INTEGER PRIMARY KEY,
    conversation   INTEGER NOT NULL REFERENCES conversations(id),
    platform       TEXT NOT NULL,
    message_id     TEXT,
    sender_id      TEXT,
    sender_name    TEXT,
    sent_at_ms     INTEGER NOT NULL,
    utc_offset_min INTEGER NOT NULL,
    kind           TEXT NOT NULL,
    text           TEXT NOT NULL,
    reply_to       TEXT,
    edited_at_ms   INTEGER,
    amount         TEXT,
    currency       TEXT,
    attachments    TEXT,                     -- JSON list or NULL
    is_me          INTEGER,
    extras         TEXT,                     -- JSON object or NULL
    source         INTEGER NOT NULL REFERENCES sources(id),
    position       INTEGER,
    content_hash   BLOB NOT NULL,            -- SHA-256 of model.canonical_bytes
    content_key    INTEGER NOT NULL,         -- its first 8 bytes as a signed integer
    occurrence     INTEGER NOT NULL DEFAULT 0 -- n-th identical message at the same instant
);
-- Identity of a message and the timeline index in one: the content hash covers conversation and
-- instant, so equal messages are equal here; the key is time-clustered, which keeps bulk inserts fast.
CREATE UNIQUE INDEX messages_identity ON messages(conversation, sent_at_ms, content_key, occurrence);
CREATE INDEX messages_source ON messages(source);

-- Contentless: the text lives in messages. rowid = sent_at seconds * 2^31 + messages.id, so
-- ORDER BY rowid DESC is newest-first straight from the index and --since/--until are rowid ranges.
-- The indexed body is textindex.index_body(text): CJK runs become bigrams plus their last character,
-- so 1-character queries are prefix lookups (prefix index '1') and longer ones bigram phrases.
CREATE VIRTUAL TABLE message_fts USING fts5(
    body, content='', prefix='1', tokenize='unicode61 remove_diacritics 2'
);

-- Archive-wide settings, e.g. the zone the user's exports are in ('tz').
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
