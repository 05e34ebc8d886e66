-- 0019 (reviews): peer review, self-scoring, calibration and disputes of service sessions.
-- Every row here is a copy of facts an audit entry (a signed ledger leaf) records in the same
-- transaction; `verify` compares the two (chataudit.reviews.trail.discrepancies). The triggers are a
-- backstop against the one-line UPDATE that would rewrite a submitted score, a contest or a settlement.
-- PostgreSQL dialect of ../0019_reviews_sessions_scores.sql (same number, same tables and meaning).

CREATE TABLE review_sessions (
  id              BIGINT PRIMARY KEY,
  conversation    BIGINT NOT NULL REFERENCES conversations(id),
  first_message   BIGINT NOT NULL,     -- messages.id: no foreign key, the anchor outlives a retention purge
  last_message    BIGINT NOT NULL,
  start_ms        BIGINT NOT NULL,
  end_ms          BIGINT NOT NULL,
  agents          TEXT NOT NULL,        -- JSON [roster id or agent key, …]
  agent_names     TEXT NOT NULL,        -- JSON [name, …], same order
  auto_score      DOUBLE PRECISION,                 -- the pipeline's total, 0-100 (NULL: not scorable)
  auto_dimensions TEXT NOT NULL,        -- JSON {speed: 0-100, …}
  auto_critical   TEXT NOT NULL,        -- JSON [item, …]
  resolution      TEXT,
  sensitive       BIGINT NOT NULL DEFAULT 0,
  anchored_at     TEXT NOT NULL,
  UNIQUE (conversation, first_message, last_message)
);

CREATE TRIGGER review_sessions_next_id BEFORE INSERT ON review_sessions
    FOR EACH ROW WHEN (NEW.id IS NULL) EXECUTE FUNCTION chataudit_next_id();

CREATE TABLE review_assignments (
  id          BIGINT PRIMARY KEY,
  week        TEXT NOT NULL,            -- ISO week, e.g. 2026-W10
  rule        TEXT NOT NULL CHECK (rule IN ('random', 'lowest', 'sensitive', 'unresolved')),
  per_agent   BIGINT NOT NULL,
  seed        BIGINT,
  reviewers   TEXT NOT NULL,            -- JSON [operator, …] in round-robin order
  created_at  TEXT NOT NULL,
  created_by  TEXT NOT NULL
);

CREATE TRIGGER review_assignments_next_id BEFORE INSERT ON review_assignments
    FOR EACH ROW WHEN (NEW.id IS NULL) EXECUTE FUNCTION chataudit_next_id();

CREATE TABLE review_calibrations (
  id          BIGINT PRIMARY KEY,
  session     BIGINT NOT NULL REFERENCES review_sessions(id),
  created_at  TEXT NOT NULL,
  created_by  TEXT NOT NULL
);

CREATE TRIGGER review_calibrations_next_id BEFORE INSERT ON review_calibrations
    FOR EACH ROW WHEN (NEW.id IS NULL) EXECUTE FUNCTION chataudit_next_id();

CREATE TABLE reviews (
  id             BIGINT PRIMARY KEY,
  session        BIGINT NOT NULL REFERENCES review_sessions(id),
  kind           TEXT NOT NULL CHECK (kind IN ('peer', 'self', 'calibration')),
  reviewer       TEXT NOT NULL,
  blind          BIGINT NOT NULL DEFAULT 0,
  assignment     BIGINT REFERENCES review_assignments(id),
  calibration    BIGINT REFERENCES review_calibrations(id),
  created_at     TEXT NOT NULL,
  created_by     TEXT NOT NULL,
  scores         TEXT,                  -- JSON {speed: 0-10, …} once submitted
  total          DOUBLE PRECISION,                  -- 0-10, weighted as the scorecard weighs; 0 with a critical item
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
  amended_total  DOUBLE PRECISION
);

CREATE TRIGGER reviews_next_id BEFORE INSERT ON reviews
    FOR EACH ROW WHEN (NEW.id IS NULL) EXECUTE FUNCTION chataudit_next_id();

CREATE UNIQUE INDEX reviews_one ON reviews(session, reviewer, kind, coalesce(calibration, 0));

CREATE INDEX reviews_reviewer ON reviews(reviewer, id);

CREATE INDEX reviews_session ON reviews(session);

CREATE FUNCTION chataudit_reviews_submit_recorded() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.submitted_at IS NOT NULL
       OR NOT EXISTS (SELECT 1 FROM governance_audit a WHERE a.command = 'review score' AND chataudit_json_valid(a.facts)
                     AND (a.facts::jsonb ->> 'review') = NEW.id::text
                     AND (a.facts::jsonb ->> 'submitted_at') IS NOT DISTINCT FROM NEW.submitted_at) THEN
        RAISE EXCEPTION 'a review is submitted once, only by `chataudit review score` (its audit entry first)' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER reviews_submit_recorded BEFORE UPDATE OF scores, total, critical, comments, note, submitted_at ON reviews
    FOR EACH ROW EXECUTE FUNCTION chataudit_reviews_submit_recorded();

CREATE FUNCTION chataudit_reviews_contest_recorded() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.contested_at IS NOT NULL
       OR NOT EXISTS (SELECT 1 FROM governance_audit a WHERE a.command = 'review contest' AND chataudit_json_valid(a.facts)
                     AND (a.facts::jsonb ->> 'review') = NEW.id::text
                     AND (a.facts::jsonb ->> 'contested_at') IS NOT DISTINCT FROM NEW.contested_at) THEN
        RAISE EXCEPTION 'a review is contested once, only by `chataudit review contest` (its audit entry first)' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER reviews_contest_recorded BEFORE UPDATE OF contested_at, contested_by, contest_reason ON reviews
    FOR EACH ROW EXECUTE FUNCTION chataudit_reviews_contest_recorded();

CREATE FUNCTION chataudit_reviews_settle_recorded() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.settled_at IS NOT NULL
       OR NOT EXISTS (SELECT 1 FROM governance_audit a WHERE a.command = 'review settle' AND chataudit_json_valid(a.facts)
                     AND (a.facts::jsonb ->> 'review') = NEW.id::text
                     AND (a.facts::jsonb ->> 'settled_at') IS NOT DISTINCT FROM NEW.settled_at) THEN
        RAISE EXCEPTION 'a dispute is settled once, only by `chataudit review settle` (its audit entry first)' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER reviews_settle_recorded BEFORE UPDATE OF settled_at, settled_by, outcome, settle_reason, amended_scores, amended_total ON reviews
    FOR EACH ROW EXECUTE FUNCTION chataudit_reviews_settle_recorded();

CREATE TRIGGER reviews_submitted_kept BEFORE DELETE ON reviews
    FOR EACH ROW WHEN (OLD.submitted_at IS NOT NULL) EXECUTE FUNCTION chataudit_refuse('a submitted review is never deleted');

CREATE TRIGGER review_sessions_kept BEFORE UPDATE ON review_sessions
    FOR EACH ROW EXECUTE FUNCTION chataudit_refuse('an anchored review session is never rewritten');
