-- 0019 (reviews): peer review, self-scoring, calibration and disputes of service sessions.
-- Every row here is a copy of facts an audit entry (a signed ledger leaf) records in the same
-- transaction; `verify` compares the two (chataudit.reviews.trail.discrepancies). The triggers are a
-- backstop against the one-line UPDATE that would rewrite a submitted score, a contest or a settlement.

-- A service session, anchored by its conversation and first/last message ids (stable when the quality
-- options that number sessions change), with the quality pipeline's automatic score when anchored.
CREATE TABLE review_sessions (
  id              INTEGER PRIMARY KEY,
  conversation    INTEGER NOT NULL REFERENCES conversations(id),
  first_message   INTEGER NOT NULL,     -- messages.id: no foreign key, the anchor outlives a retention purge
  last_message    INTEGER NOT NULL,
  start_ms        INTEGER NOT NULL,
  end_ms          INTEGER NOT NULL,
  agents          TEXT NOT NULL,        -- JSON [roster id or agent key, …]
  agent_names     TEXT NOT NULL,        -- JSON [name, …], same order
  auto_score      REAL,                 -- the pipeline's total, 0-100 (NULL: not scorable)
  auto_dimensions TEXT NOT NULL,        -- JSON {speed: 0-100, …}
  auto_critical   TEXT NOT NULL,        -- JSON [item, …]
  resolution      TEXT,
  sensitive       INTEGER NOT NULL DEFAULT 0,
  anchored_at     TEXT NOT NULL,
  UNIQUE (conversation, first_message, last_message)
);

-- One run of `review assign` (the seed makes a random pick repeatable).
CREATE TABLE review_assignments (
  id          INTEGER PRIMARY KEY,
  week        TEXT NOT NULL,            -- ISO week, e.g. 2026-W10
  rule        TEXT NOT NULL CHECK (rule IN ('random', 'lowest', 'sensitive', 'unresolved')),
  per_agent   INTEGER NOT NULL,
  seed        INTEGER,
  reviewers   TEXT NOT NULL,            -- JSON [operator, …] in round-robin order
  created_at  TEXT NOT NULL,
  created_by  TEXT NOT NULL
);

-- A calibration: one session that several reviewers score blind.
CREATE TABLE review_calibrations (
  id          INTEGER PRIMARY KEY,
  session     INTEGER NOT NULL REFERENCES review_sessions(id),
  created_at  TEXT NOT NULL,
  created_by  TEXT NOT NULL
);

-- One review: a task (assigned) until its reviewer submits it; then at most one contest and one settlement.
CREATE TABLE reviews (
  id             INTEGER PRIMARY KEY,
  session        INTEGER NOT NULL REFERENCES review_sessions(id),
  kind           TEXT NOT NULL CHECK (kind IN ('peer', 'self', 'calibration')),
  reviewer       TEXT NOT NULL,
  blind          INTEGER NOT NULL DEFAULT 0,
  assignment     INTEGER REFERENCES review_assignments(id),
  calibration    INTEGER REFERENCES review_calibrations(id),
  created_at     TEXT NOT NULL,
  created_by     TEXT NOT NULL,
  scores         TEXT,                  -- JSON {speed: 0-10, …} once submitted
  total          REAL,                  -- 0-10, weighted as the scorecard weighs; 0 with a critical item
  critical       TEXT,                  -- JSON [item, …]
  comments       TEXT,                  -- JSON [{message, text}, …]
  note           TEXT,
  submitted_at   TEXT,
  contested_at   TEXT,
  contested_by   TEXT,
  contest_reason TEXT,
  settled_at     TEXT,
  settled_by     TEXT,
  outcome        TEXT CHECK (outcome IN ('upheld', 'amended')),
  settle_reason  TEXT,
  amended_scores TEXT,                  -- JSON {…} when amended
  amended_total  REAL
);
-- one review per reviewer, kind and calibration of a session (NULLs would be distinct in a UNIQUE)
CREATE UNIQUE INDEX reviews_one ON reviews(session, reviewer, kind, coalesce(calibration, 0));
CREATE INDEX reviews_reviewer ON reviews(reviewer, id);
CREATE INDEX reviews_session ON reviews(session);

-- Submitting, contesting and settling each write their audit entry first: a row change without it is refused.
CREATE TRIGGER reviews_submit_recorded
BEFORE UPDATE OF scores, total, critical, comments, note, submitted_at ON reviews
WHEN OLD.submitted_at IS NOT NULL
  OR NOT EXISTS (SELECT 1 FROM governance_audit a WHERE a.command = 'review score' AND json_valid(a.facts)
                 AND json_extract(a.facts, '$.review') = NEW.id
                 AND json_extract(a.facts, '$.submitted_at') IS NEW.submitted_at)
BEGIN SELECT RAISE(ABORT, 'a review is submitted once, only by `chataudit review score` (its audit entry first)'); END;

CREATE TRIGGER reviews_contest_recorded
BEFORE UPDATE OF contested_at, contested_by, contest_reason ON reviews
WHEN OLD.contested_at IS NOT NULL
  OR NOT EXISTS (SELECT 1 FROM governance_audit a WHERE a.command = 'review contest' AND json_valid(a.facts)
                 AND json_extract(a.facts, '$.review') = NEW.id
                 AND json_extract(a.facts, '$.contested_at') IS NEW.contested_at)
BEGIN SELECT RAISE(ABORT, 'a review is contested once, only by `chataudit review contest` (its audit entry first)'); END;

CREATE TRIGGER reviews_settle_recorded
BEFORE UPDATE OF settled_at, settled_by, outcome, settle_reason, amended_scores, amended_total ON reviews
WHEN OLD.settled_at IS NOT NULL
  OR NOT EXISTS (SELECT 1 FROM governance_audit a WHERE a.command = 'review settle' AND json_valid(a.facts)
                 AND json_extract(a.facts, '$.review') = NEW.id
                 AND json_extract(a.facts, '$.settled_at') IS NEW.settled_at)
BEGIN SELECT RAISE(ABORT, 'a dispute is settled once, only by `chataudit review settle` (its audit entry first)'); END;

CREATE TRIGGER reviews_submitted_kept
BEFORE DELETE ON reviews WHEN OLD.submitted_at IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'a submitted review is never deleted'); END;

CREATE TRIGGER review_sessions_kept
BEFORE UPDATE ON review_sessions
BEGIN SELECT RAISE(ABORT, 'an anchored review session is never rewritten'); END;
