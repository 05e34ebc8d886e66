-- 0018 (supervision): compliance supervision — policy sets, incremental runs and the alerts they raise.
-- Policy sets are versioned and never edited: a new file (or a web edit) is a new version, and its
-- audit entry (a signed ledger leaf) records its SHA-256. An alert names the version that raised it.
-- PostgreSQL dialect of ../0018_supervision_alerts.sql (same number, same tables and meaning).

CREATE TABLE supervision_policy_sets (
  version     BIGINT PRIMARY KEY,   -- 1, 2, … in load order
  sha256      TEXT NOT NULL,         -- of `definition`
  definition  TEXT NOT NULL,         -- canonical JSON of the parsed, validated policy file
  source_text TEXT NOT NULL,         -- the file as given (YAML or TOML): what the web editor shows
  loaded_at   TEXT NOT NULL,
  loaded_by   TEXT NOT NULL,
  audit_entry BIGINT NOT NULL       -- governance_audit.id of `supervise policy set`
);

CREATE TABLE supervision_runs (
  id            BIGINT PRIMARY KEY,
  version       BIGINT NOT NULL REFERENCES supervision_policy_sets(version),
  first_message BIGINT,
  last_message  BIGINT NOT NULL,
  messages      BIGINT NOT NULL,
  alerts        BIGINT NOT NULL,
  started_at    TEXT NOT NULL,
  finished_at   TEXT NOT NULL,
  operator      TEXT NOT NULL,
  audit_entry   BIGINT
);

CREATE TRIGGER supervision_runs_next_id BEFORE INSERT ON supervision_runs
    FOR EACH ROW WHEN (NEW.id IS NULL) EXECUTE FUNCTION chataudit_next_id();

CREATE TABLE supervision_alerts (
  id           BIGINT PRIMARY KEY,
  conversation BIGINT NOT NULL REFERENCES conversations(id),
  message      BIGINT,              -- messages.id; NULL for a sampled conversation (no foreign key: see below)
  kind         TEXT NOT NULL CHECK (kind IN ('policy', 'sample')),
  policy       TEXT,                 -- the policy's name in the set (NULL for a sample)
  category     TEXT,                 -- e.g. legal, abuse, promise, bribery, off_platform, pii, after_hours
  rule         TEXT,                 -- what hit: the lexicon term, 're:<pattern>', 'pii:<type>', 'attachment:<type>', …
  matched      TEXT,                 -- the hit as written in the message (e.g. '违 约', '違約')
  start        BIGINT,              -- character offsets of the hit in messages.text (NULL when not textual)
  "end"        BIGINT,
  version      BIGINT REFERENCES supervision_policy_sets(version),
  run          BIGINT REFERENCES supervision_runs(id),
  raised_at    TEXT NOT NULL,
  UNIQUE (message, policy, rule, start)
);

CREATE TRIGGER supervision_alerts_next_id BEFORE INSERT ON supervision_alerts
    FOR EACH ROW WHEN (NEW.id IS NULL) EXECUTE FUNCTION chataudit_next_id();

CREATE INDEX supervision_alerts_conversation ON supervision_alerts(conversation, id);

CREATE INDEX supervision_alerts_raised ON supervision_alerts(raised_at);

-- An alert outlives a retention purge of its message (see ../0018).
CREATE FUNCTION chataudit_supervision_alerts_purged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE supervision_alerts SET matched = NULL WHERE message = OLD.id;
    RETURN OLD;
END $$;
CREATE TRIGGER supervision_alerts_purged AFTER DELETE ON messages
    FOR EACH ROW EXECUTE FUNCTION chataudit_supervision_alerts_purged();
