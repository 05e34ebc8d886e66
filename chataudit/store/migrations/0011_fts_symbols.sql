-- Emoji and other symbols become searchable (textindex.py): the tokenizer now counts symbols
-- (Unicode categories S*) as token characters, and index_body puts each one apart, so 😀 is a
-- token of its own. The index is contentless, so it is rebuilt from messages with the new
-- index_body (which the archive registers before migrating); rowid as in 0001.
DROP TABLE message_fts;
CREATE VIRTUAL TABLE message_fts USING fts5(
    body, content='', prefix='1', tokenize='unicode61 remove_diacritics 2 categories ''L* N* Co S*'''
);
INSERT INTO message_fts (rowid, body)
SELECT (sent_at_ms / 1000) * 2147483648 + id, index_body(text) FROM messages;
