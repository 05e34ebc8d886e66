-- Emoji and other symbols become searchable (textindex.py): the tokenizer now counts symbols
-- (Unicode categories S*) as token characters, and index_body puts each one apart, so 😀 is a
-- token of its own. The index is contentless, so it is rebuilt from messages with the new
-- index_body (which the archive registers before migrating); rowid as in 0001.
-- PostgreSQL dialect of ../0011_fts_symbols.sql (same number, same tables and meaning).

-- The PostgreSQL index (0001) always treated symbols as tokens: nothing to rebuild.
