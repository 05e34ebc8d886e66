-- 0002: people — one person's identities on every platform, linked by the user (never silently).
CREATE TABLE people (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE person_identities (
    person     INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    platform   TEXT NOT NULL,
    sender_key TEXT NOT NULL,                -- coalesce(sender_id, sender_name) of messages
    PRIMARY KEY (platform, sender_key)       -- an identity belongs to at most one person
);
CREATE INDEX person_identities_person ON person_identities(person);
CREATE INDEX messages_sender ON messages(platform, coalesce(sender_id, sender_name));
