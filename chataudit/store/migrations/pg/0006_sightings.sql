-- 0006: sightings — every source that holds a message, with what that copy showed.
-- A message is stored once (its content hash decides), but each copy of a conversation (two
-- parties' exports, last month's and this month's) is a witness of its own: compare and check read
-- a source's full view from here, including the messages an earlier source brought first.
-- PostgreSQL dialect of ../0006_sightings.sql (same number, same tables and meaning).

CREATE TABLE sightings (
    source         BIGINT NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    message        BIGINT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    position       BIGINT,                  -- line / record index in that source
    sender_name    TEXT,                     -- the name that copy showed
    utc_offset_min BIGINT NOT NULL,         -- the offset that copy showed
    edited_at_ms   BIGINT,
    message_id     TEXT,                     -- the id in that copy (private-chat ids differ per party)
    extras         TEXT,
    PRIMARY KEY (source, message)
);

CREATE INDEX sightings_message ON sightings(message);

INSERT INTO sightings (source, message, position, sender_name, utc_offset_min, edited_at_ms, message_id, extras)
    SELECT source, id, position, sender_name, utc_offset_min, edited_at_ms, message_id, extras FROM messages;
