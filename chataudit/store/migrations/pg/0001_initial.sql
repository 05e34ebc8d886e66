-- 0001: sources, conversations, messages and the full-text index.
-- Instants are UTC milliseconds; utc_offset_min keeps the offset the export showed.
-- PostgreSQL dialect of ../0001_initial.sql (same number, same tables and meaning).

-- SQLite gives a row without an id the largest id + 1 (INTEGER PRIMARY KEY without AUTOINCREMENT):
-- ids are dense, and an import that rolled back leaves no gap. The same here, by a trigger on each
-- such table; every writer holds the archive's write lock (an advisory lock, see store/postgres.py),
-- so two inserts never compute the same id.
CREATE FUNCTION chataudit_next_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SELECT coalesce(max(id), 0) + 1 FROM %I', TG_TABLE_NAME) INTO NEW.id;
    RETURN NEW;
END $$;

-- SQLite's RAISE(ABORT, message) in a trigger: the statement fails with that message.
CREATE FUNCTION chataudit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation';
END $$;

-- SQLite's json_valid(text): true for a well-formed JSON text, false (never an error) otherwise.
CREATE FUNCTION chataudit_json_valid(value text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    PERFORM value::jsonb;
    RETURN value IS NOT NULL;
EXCEPTION WHEN others THEN
    RETURN false;
END $$;

CREATE TABLE sources (
    id            BIGINT PRIMARY KEY,
    sha256        TEXT NOT NULL UNIQUE,      -- of the file's bytes (or of a folder's manifest)
    path          TEXT NOT NULL,
    size          BIGINT NOT NULL,
    format        TEXT NOT NULL,
    label         TEXT,
    imported_at   TEXT NOT NULL,             -- ISO 8601 UTC
    message_count BIGINT NOT NULL DEFAULT 0, -- messages the file holds
    new_count     BIGINT NOT NULL DEFAULT 0  -- of which were new to the archive
);

CREATE TRIGGER sources_next_id BEFORE INSERT ON sources
    FOR EACH ROW WHEN (NEW.id IS NULL) EXECUTE FUNCTION chataudit_next_id();

CREATE INDEX sources_label ON sources(label);

CREATE TABLE conversations (
    id        BIGINT PRIMARY KEY,
    platform  TEXT NOT NULL,
    native_id TEXT NOT NULL,
    title     TEXT,
    type      TEXT NOT NULL DEFAULT 'unknown',
    members   TEXT,                          -- JSON [[id, name], ...]
    UNIQUE (platform, native_id)
);

CREATE TRIGGER conversations_next_id BEFORE INSERT ON conversations
    FOR EACH ROW WHEN (NEW.id IS NULL) EXECUTE FUNCTION chataudit_next_id();

CREATE TABLE messages (
    id             BIGINT PRIMARY KEY,
    conversation   BIGINT NOT NULL REFERENCES conversations(id),
    platform       TEXT NOT NULL,
    message_id     TEXT,
    sender_id      TEXT,
    sender_name    TEXT,
    sent_at_ms     BIGINT NOT NULL,
    utc_offset_min BIGINT NOT NULL,
    kind           TEXT NOT NULL,
    text           TEXT NOT NULL,
    reply_to       TEXT,
    edited_at_ms   BIGINT,
    amount         TEXT,
    currency       TEXT,
    attachments    TEXT,                     -- JSON list or NULL
    is_me          BIGINT,
    extras         TEXT,                     -- JSON object or NULL
    source         BIGINT NOT NULL REFERENCES sources(id),
    position       BIGINT,
    content_hash   BYTEA NOT NULL,            -- SHA-256 of model.canonical_bytes
    content_key    BIGINT NOT NULL,         -- its first 8 bytes as a signed integer
    occurrence     BIGINT NOT NULL DEFAULT 0 -- n-th identical message at the same instant
);

CREATE TRIGGER messages_next_id BEFORE INSERT ON messages
    FOR EACH ROW WHEN (NEW.id IS NULL) EXECUTE FUNCTION chataudit_next_id();

CREATE UNIQUE INDEX messages_identity ON messages(conversation, sent_at_ms, content_key, occurrence);

CREATE INDEX messages_source ON messages(source);

-- The full-text index (SQLite: a contentless FTS5 table). rowid = sent_at seconds * 2^31 + messages.id as
-- there, so ORDER BY rowid DESC is newest-first and --since/--until are rowid ranges. words is the
-- tsvector of the tokens FTS5's unicode61 tokenizer makes of textindex.index_body(text) (CJK runs as
-- bigrams plus their last character), with positions, so a 2+ character query is a phrase (<->) and a
-- 1-character query a prefix (:*); the store writes it (chataudit/store/postgres.py), GIN answers it.
CREATE TABLE message_fts (
    rowid BIGINT PRIMARY KEY,
    words tsvector NOT NULL
);
CREATE INDEX message_fts_words ON message_fts USING gin (words);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- What `verify` asks of FTS5's docsize table (is there an index row at all for this rowid?).
CREATE VIEW message_fts_docsize AS SELECT rowid AS id FROM message_fts;

-- SQLite's JSON functions over TEXT columns, as capabilities call them (json_valid, json_extract,
-- json_each): a path is '$', '$.key', '$.a.b' or '$.a[0]'; a scalar comes back as text (compared
-- with a parameter, the parameter is read as text: see store/pgsql.py), an object or array as JSON
-- text; malformed JSON gives NULL where SQLite would raise (a WHERE clause checks json_valid first,
-- which PostgreSQL does not promise to evaluate first).
CREATE FUNCTION chataudit_json(value text) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN value::jsonb;
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;

CREATE FUNCTION chataudit_json_path(path text) RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN path IN ('$', '') THEN ARRAY[]::text[] ELSE
        string_to_array(regexp_replace(regexp_replace(path, '^\$\.?', ''), '\[(\d+)\]', '.\1', 'g'), '.') END
$$;

CREATE FUNCTION json_valid(value text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT value IS NOT NULL AND chataudit_json(value) IS NOT NULL
$$;

CREATE FUNCTION chataudit_json_text(v jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE jsonb_typeof(v) WHEN 'object' THEN v::text WHEN 'array' THEN v::text WHEN 'null' THEN NULL
                WHEN 'boolean' THEN CASE WHEN v = 'true'::jsonb THEN '1' ELSE '0' END ELSE v #>> '{}' END
$$;

CREATE FUNCTION json_extract(doc text, path text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT chataudit_json_text(chataudit_json(doc) #> chataudit_json_path(path))
$$;

CREATE FUNCTION json_each(doc text, path text DEFAULT '$')
RETURNS TABLE (key text, value text, type text, atom text) LANGUAGE sql IMMUTABLE AS $$
    SELECT e.key, chataudit_json_text(e.value), jsonb_typeof(e.value),
           CASE WHEN jsonb_typeof(e.value) IN ('object', 'array') THEN NULL ELSE chataudit_json_text(e.value) END
    FROM (SELECT chataudit_json(doc) #> chataudit_json_path(path) AS v) x
    CROSS JOIN LATERAL (
        SELECT (ordinality - 1)::text AS key, a.value FROM jsonb_array_elements(CASE WHEN jsonb_typeof(x.v) = 'array' THEN x.v END)
            WITH ORDINALITY a(value, ordinality)
        UNION ALL
        SELECT o.key, o.value FROM jsonb_each(CASE WHEN jsonb_typeof(x.v) = 'object' THEN x.v END) o
    ) e
$$;
