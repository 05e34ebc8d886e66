-- 0010 (ledger): each source's conversations (platform, id, title, type, members as the archive
-- held them after the source was imported), committed to the ledger. A source appended to the tree
-- is followed, after its sightings leaf, by one "conversations" leaf (chataudit/ledger/leaves.py)
-- whose digest covers the hash of each conversation its messages are in; the hashes are kept here so
-- that `verify` can name a conversation whose title, type or members changed since it was signed.
-- Append-only, like the other ledger tables (the ledger code adds the guards).
CREATE TABLE ledger_conversations (
    source       INTEGER NOT NULL,           -- sources.id
    conversation INTEGER NOT NULL,           -- conversations.id
    hash         BLOB NOT NULL,              -- SHA-256 of the conversation's canonical JSON line
    fields       BLOB,                       -- one CRC byte per field of the line (names the change)
    PRIMARY KEY (source, conversation)
) WITHOUT ROWID;
