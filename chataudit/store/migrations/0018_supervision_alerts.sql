-- 0018 (supervision): compliance supervision — policy sets, incremental runs and the alerts they raise.
-- Policy sets are versioned and never edited: a new file (or a web edit) is a new version, and its
-- audit entry (a signed ledger leaf) records its SHA-256. An alert names the version that raised it.
CREATE TABLE supervision_policy_sets (
  version     INTEGER PRIMARY KEY,   -- 1, 2, … in load order
  sha256      TEXT NOT NULL,         -- of `definition`
  definition  TEXT NOT NULL,         -- canonical JSON of the parsed, validated policy file
  source_text TEXT NOT NULL,         -- the file as given (YAML or TOML): what the web editor shows
  loaded_at   TEXT NOT NULL,
  loaded_by   TEXT NOT NULL,
  audit_entry INTEGER NOT NULL       -- governance_audit.id of `supervise policy set`
);

-- One row per `supervise run`: messages with id in [first_message, last_message] were evaluated under
-- policy set `version` (messages.id only grows, so the next run starts after the last one's end).
CREATE TABLE supervision_runs (
  id            INTEGER PRIMARY KEY,
  version       INTEGER NOT NULL REFERENCES supervision_policy_sets(version),
  first_message INTEGER,
  last_message  INTEGER NOT NULL,
  messages      INTEGER NOT NULL,
  alerts        INTEGER NOT NULL,
  started_at    TEXT NOT NULL,
  finished_at   TEXT NOT NULL,
  operator      TEXT NOT NULL,
  audit_entry   INTEGER
);

-- An alert: one policy hit in one message, or one conversation drawn by `supervise sample`.
CREATE TABLE supervision_alerts (
  id           INTEGER PRIMARY KEY,
  conversation INTEGER NOT NULL REFERENCES conversations(id),
  message      INTEGER,              -- messages.id; NULL for a sampled conversation (no foreign key: see below)
  kind         TEXT NOT NULL CHECK (kind IN ('policy', 'sample')),
  policy       TEXT,                 -- the policy's name in the set (NULL for a sample)
  category     TEXT,                 -- e.g. legal, abuse, promise, bribery, off_platform, pii, after_hours
  rule         TEXT,                 -- what hit: the lexicon term, 're:<pattern>', 'pii:<type>', 'attachment:<type>', …
  matched      TEXT,                 -- the hit as written in the message (e.g. '违 约', '違約')
  start        INTEGER,              -- character offsets of the hit in messages.text (NULL when not textual)
  end          INTEGER,
  version      INTEGER REFERENCES supervision_policy_sets(version),
  run          INTEGER REFERENCES supervision_runs(id),
  raised_at    TEXT NOT NULL,
  UNIQUE (message, policy, rule, start)
);
CREATE INDEX supervision_alerts_conversation ON supervision_alerts(conversation, id);
CREATE INDEX supervision_alerts_raised ON supervision_alerts(raised_at);

-- An alert outlives a retention purge of its message: the decision about it is a record of its own.
-- The purge takes the content with it, so the alert's copy of the hit goes too; its message id stays a
-- number that `supervise show` reports as purged.
CREATE TRIGGER supervision_alerts_purged AFTER DELETE ON messages
BEGIN UPDATE supervision_alerts SET matched = NULL WHERE message = OLD.id; END;
