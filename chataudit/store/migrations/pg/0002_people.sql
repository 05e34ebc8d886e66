-- 0002: people — one person's identities on every platform, linked by the user (never silently).
-- PostgreSQL dialect of ../0002_people.sql (same number, same tables and meaning).

CREATE TABLE people (
    id   BIGINT PRIMARY KEY,
    name TEXT NOT NULL
);

CREATE TRIGGER people_next_id BEFORE INSERT ON people
    FOR EACH ROW WHEN (NEW.id IS NULL) EXECUTE FUNCTION chataudit_next_id();

CREATE TABLE person_identities (
    person     BIGINT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    platform   TEXT NOT NULL,
    sender_key TEXT NOT NULL,                -- coalesce(sender_id, sender_name) of messages
    PRIMARY KEY (platform, sender_key)       -- an identity belongs to at most one person
);

CREATE INDEX person_identities_person ON person_identities(person);

CREATE INDEX messages_sender ON messages(platform, coalesce(sender_id, sender_name));
