-- 0010 (ledger): each source's conversations (platform, id, title, type, members as the archive
-- held them after the source was imported), committed to the ledger. A source appended to the tree
-- is followed, after its sightings leaf, by one "conversations" leaf (chataudit/ledger/leaves.py)
-- whose digest covers the hash of each conversation its messages are in; the hashes are kept here so
-- that `verify` can name a conversation whose title, type or members changed since it was signed.
-- Append-only, like the other ledger tables (the ledger code adds the guards).
-- PostgreSQL dialect of ../0013_ledger_conversations.sql (same number, same tables and meaning).

CREATE TABLE ledger_conversations (
    source       BIGINT NOT NULL,           -- sources.id
    conversation BIGINT NOT NULL,           -- conversations.id
    hash         BYTEA NOT NULL,              -- SHA-256 of the conversation's canonical JSON line
    fields       BYTEA,                       -- one CRC byte per field of the line (names the change)
    PRIMARY KEY (source, conversation)
);
