-- 0009 (imp11): keys under which a conversation is known besides its native id.
-- A format may say that a conversation is also named by other keys (an e-mail thread by every
-- Message-ID in it); a later import that names any of them joins the stored conversation instead of
-- starting a new one. Each key belongs to one conversation: the first to claim it.
-- PostgreSQL dialect of ../0010_conversation_aliases.sql (same number, same tables and meaning).

CREATE TABLE conversation_aliases (
    platform     TEXT NOT NULL,
    alias        TEXT NOT NULL,
    conversation BIGINT NOT NULL REFERENCES conversations(id),
    PRIMARY KEY (platform, alias)
);

CREATE INDEX conversation_aliases_conversation ON conversation_aliases(conversation);

INSERT INTO conversation_aliases (platform, alias, conversation)
    SELECT platform, native_id, id FROM conversations
    ON CONFLICT DO NOTHING;
