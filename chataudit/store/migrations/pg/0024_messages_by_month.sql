-- 0024 (PostgreSQL only): messages and their index rows partitioned by month of the sent instant.
-- messages: RANGE (sent_at_ms), one partition per UTC month (messages_pYYYY_MM, made as needed);
-- message_fts: RANGE (rowid = sent second * 2^31 + id) with the same month bounds, so a period search
-- (rowid bounds, sent_at_ms bounds) reads only that period's partitions of both.
--
-- PostgreSQL 15's rules and what they cost:
-- * A partitioned table's primary key must hold the partition key: messages' key is (id, sent_at_ms).
--   messages.id stays unique by how it is given out (the largest id + 1, under the archive's write
--   lock, see postgres.py), not by an index; the ledger's message leaves (which name the id) make a
--   duplicated id visible to `verify`.
-- * A foreign key must point at a unique key, so sightings.message and pii_findings.message lose
--   theirs: what their ON DELETE CASCADE did, a row trigger on messages does (below). A sighting of a
--   message that does not exist is refused by nothing but the import's join that writes it.
-- * messages' own foreign keys (conversation, source) are triggers too: attaching a partition clones
--   a foreign key onto it, which takes SHARE ROW EXCLUSIVE on conversations and sources, and so waits
--   for the importer's open transaction, which has just written its source and conversations. A
--   trigger refuses to delete a conversation or source that messages still name, as the keys did.
-- * New months are made by whoever stores messages, before it stores them (chataudit_month_partitions,
--   in a short transaction of its own): an import for its batch's months, `migrate` for the source's.
--   There is no DEFAULT partition, deliberately: attaching a month to a table that has one takes an
--   ACCESS EXCLUSIVE lock on the default partition (PostgreSQL must prove it holds no row of that
--   month), which waits for the importer's own open transaction and blocks every reader not pruned to
--   other months. Instead two open-ended partitions take what is outside the months made here:
--   before 1970 and from 2106 (where rowid = second * 2^31 + id would leave 64 bits). A row of a month
--   with no partition is refused by PostgreSQL (no partition of relation "messages" found for row),
--   never stored somewhere unpruned.
-- An archive made before this migration is rewritten here once, in one transaction.

ALTER TABLE messages RENAME TO messages_unpartitioned;
ALTER TABLE message_fts RENAME TO message_fts_unpartitioned;
DROP VIEW message_fts_docsize;
ALTER TABLE sightings DROP CONSTRAINT IF EXISTS sightings_message_fkey;
ALTER TABLE pii_findings DROP CONSTRAINT IF EXISTS pii_findings_message_fkey;
ALTER INDEX messages_pkey RENAME TO messages_unpartitioned_pkey;
ALTER INDEX messages_identity RENAME TO messages_unpartitioned_identity;
ALTER INDEX messages_source RENAME TO messages_unpartitioned_source;
ALTER INDEX messages_sender RENAME TO messages_unpartitioned_sender;
ALTER INDEX messages_timing RENAME TO messages_unpartitioned_timing;
ALTER INDEX message_fts_pkey RENAME TO message_fts_unpartitioned_pkey;
ALTER INDEX message_fts_words RENAME TO message_fts_unpartitioned_words;

CREATE TABLE messages (
    id             BIGINT NOT NULL,
    conversation   BIGINT NOT NULL,          -- conversations.id (no foreign key: see above)
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
    attachments    TEXT,
    is_me          BIGINT,
    extras         TEXT,
    source         BIGINT NOT NULL,          -- sources.id (idem)
    position       BIGINT,
    content_hash   BYTEA NOT NULL,
    content_key    BIGINT NOT NULL,
    occurrence     BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (id, sent_at_ms)
) PARTITION BY RANGE (sent_at_ms);
CREATE TABLE messages_before_1970 PARTITION OF messages FOR VALUES FROM (MINVALUE) TO (0);
CREATE TABLE messages_from_2106 PARTITION OF messages FOR VALUES FROM (4291747200000) TO (MAXVALUE);
CREATE UNIQUE INDEX messages_identity ON messages(conversation, sent_at_ms, content_key, occurrence);
CREATE INDEX messages_source ON messages(source);
CREATE INDEX messages_sender ON messages(platform, coalesce(sender_id, sender_name));
CREATE INDEX messages_timing ON messages(conversation, sent_at_ms, id, kind, sender_id, sender_name);

CREATE TABLE message_fts (
    rowid BIGINT PRIMARY KEY,
    words tsvector NOT NULL
) PARTITION BY RANGE (rowid);
CREATE TABLE message_fts_before_1970 PARTITION OF message_fts FOR VALUES FROM (MINVALUE) TO (0);
CREATE TABLE message_fts_from_2106 PARTITION OF message_fts FOR VALUES FROM (9216456933349785600) TO (MAXVALUE);
CREATE INDEX message_fts_words ON message_fts USING gin (words);
CREATE VIEW message_fts_docsize AS SELECT rowid AS id FROM message_fts;

-- The month partitions holding these instants (ms since 1970, UTC): made where missing, as plain
-- tables then attached (ATTACH takes SHARE UPDATE EXCLUSIVE on the parent: readers and the importer's
-- own open transaction go on). An instant in the last second before 1970 has its index row (second
-- truncated toward zero) in January 1970. Returns how many months were made.
CREATE FUNCTION chataudit_month_partitions(instants BIGINT[]) RETURNS INTEGER LANGUAGE plpgsql AS $$
DECLARE
    month TIMESTAMP;
    lo BIGINT;
    hi BIGINT;
    suffix TEXT;
    made INTEGER := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('chataudit month partitions'));
    FOR month IN SELECT DISTINCT date_trunc('month', to_timestamp(t / 1000) AT TIME ZONE 'UTC')
                 FROM (SELECT greatest(i, 0) AS t FROM unnest(instants) i WHERE i > -1000 AND i < 4291747200000) x LOOP
        suffix := to_char(month, '"p"YYYY"_"MM');
        lo := extract(epoch FROM month)::BIGINT * 1000;
        hi := extract(epoch FROM month + INTERVAL '1 month')::BIGINT * 1000;
        CONTINUE WHEN to_regclass('messages_' || suffix) IS NOT NULL;
        EXECUTE format('CREATE TABLE %I (LIKE messages INCLUDING DEFAULTS, CHECK (sent_at_ms >= %s AND sent_at_ms < %s))',
                       'messages_' || suffix, lo, hi);
        EXECUTE format('ALTER TABLE messages ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)', 'messages_' || suffix, lo, hi);
        EXECUTE format('CREATE TABLE %I (LIKE message_fts, CHECK (rowid >= %s AND rowid < %s))',
                       'message_fts_' || suffix, (lo / 1000) * 2147483648, (hi / 1000) * 2147483648);
        EXECUTE format('ALTER TABLE message_fts ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)',
                       'message_fts_' || suffix, (lo / 1000) * 2147483648, (hi / 1000) * 2147483648);
        made := made + 1;
    END LOOP;
    RETURN made;
END $$;

SELECT chataudit_month_partitions(array_agg(DISTINCT (sent_at_ms / 86400000) * 86400000))
FROM messages_unpartitioned;
INSERT INTO messages SELECT * FROM messages_unpartitioned;
INSERT INTO message_fts SELECT * FROM message_fts_unpartitioned;
DROP TABLE messages_unpartitioned;
DROP TABLE message_fts_unpartitioned;

-- chataudit_next_id reads TG_TABLE_NAME, which on a partitioned table is the partition's name.
CREATE FUNCTION chataudit_next_message_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT coalesce(max(id), 0) + 1 FROM messages INTO NEW.id;
    RETURN NEW;
END $$;
CREATE TRIGGER messages_next_id BEFORE INSERT ON messages
    FOR EACH ROW WHEN (NEW.id IS NULL) EXECUTE FUNCTION chataudit_next_message_id();
CREATE TRIGGER governance_hold_keeps_messages BEFORE DELETE ON messages
    FOR EACH ROW EXECUTE FUNCTION chataudit_hold_keeps_messages();
CREATE TRIGGER supervision_alerts_purged AFTER DELETE ON messages
    FOR EACH ROW EXECUTE FUNCTION chataudit_supervision_alerts_purged();

-- What the foreign keys' ON DELETE CASCADE did.
CREATE FUNCTION chataudit_message_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM sightings WHERE message = OLD.id;
    DELETE FROM pii_findings WHERE message = OLD.id;
    RETURN OLD;
END $$;
CREATE TRIGGER messages_cascade AFTER DELETE ON messages
    FOR EACH ROW EXECUTE FUNCTION chataudit_message_deleted();
CREATE INDEX pii_findings_message ON pii_findings(message);

-- What messages' foreign keys to conversations and sources refused.
CREATE FUNCTION chataudit_messages_name_it() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM messages WHERE (TG_TABLE_NAME = 'sources' AND source = OLD.id)
                                         OR (TG_TABLE_NAME = 'conversations' AND conversation = OLD.id)) THEN
        RAISE EXCEPTION 'FOREIGN KEY constraint failed (messages name this %)', TG_TABLE_NAME
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN OLD;
END $$;
CREATE TRIGGER sources_named_by_messages BEFORE DELETE ON sources
    FOR EACH ROW EXECUTE FUNCTION chataudit_messages_name_it();
CREATE TRIGGER conversations_named_by_messages BEFORE DELETE ON conversations
    FOR EACH ROW EXECUTE FUNCTION chataudit_messages_name_it();
