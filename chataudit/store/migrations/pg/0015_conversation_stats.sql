-- 0015: per-conversation counts kept by the store, so listing conversations does not aggregate
-- every message per request. A cache: the store refreshes the rows of the conversations an import,
-- a purge or a redaction touches (Archive.refresh_conversation_stats); check and verify never
-- read it. A conversation without messages has no row.
-- PostgreSQL dialect of ../0015_conversation_stats.sql (same number, same tables and meaning).

CREATE TABLE conversation_stats (
    conversation  BIGINT PRIMARY KEY,       -- conversations.id
    message_count BIGINT NOT NULL,
    first_ms      BIGINT NOT NULL,
    last_ms       BIGINT NOT NULL,
    senders       BIGINT NOT NULL           -- distinct coalesce(sender_id, sender_name)
);

INSERT INTO conversation_stats (conversation, message_count, first_ms, last_ms, senders)
    SELECT conversation, count(*), min(sent_at_ms), max(sent_at_ms), count(DISTINCT coalesce(sender_id, sender_name))
    FROM messages GROUP BY conversation;
