-- 0014 (web): the web app's users, their API tokens, login sessions and background jobs.
-- Secrets are never stored: passwords as argon2id hashes, tokens and session ids as SHA-256 digests.
-- Whoever can write this file can add a user (as they can edit any row): the web app's accounts
-- guard the server, not the file; the audit trail names the user of every audited call.
-- PostgreSQL dialect of ../0014_web_users.sql (same number, same tables and meaning).

CREATE TABLE web_users (
  id BIGINT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('admin', 'lead', 'reviewer', 'agent', 'auditor')),
  password_hash TEXT NOT NULL,
  created_at TEXT NOT NULL,
  disabled_at TEXT
);

CREATE TRIGGER web_users_next_id BEFORE INSERT ON web_users
    FOR EACH ROW WHEN (NEW.id IS NULL) EXECUTE FUNCTION chataudit_next_id();

CREATE TABLE web_tokens (
  id BIGINT PRIMARY KEY,
  "user" BIGINT NOT NULL REFERENCES web_users(id) ON DELETE CASCADE,
  token_sha256 TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL
);

CREATE TRIGGER web_tokens_next_id BEFORE INSERT ON web_tokens
    FOR EACH ROW WHEN (NEW.id IS NULL) EXECUTE FUNCTION chataudit_next_id();

CREATE TABLE web_sessions (
  id_sha256 TEXT PRIMARY KEY,
  "user" BIGINT REFERENCES web_users(id) ON DELETE CASCADE,  -- NULL: the owner who started `serve`
  operator TEXT NOT NULL,
  role TEXT NOT NULL,
  csrf TEXT NOT NULL,
  expires_at_ms BIGINT NOT NULL
);

CREATE TABLE web_jobs (
  id BIGINT PRIMARY KEY,
  kind TEXT NOT NULL,
  operator TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
  progress BIGINT NOT NULL DEFAULT 0,
  note TEXT,
  result TEXT,            -- JSON, when done
  error TEXT,             -- the one-line error, when failed
  cancel_requested BIGINT NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TRIGGER web_jobs_next_id BEFORE INSERT ON web_jobs
    FOR EACH ROW WHEN (NEW.id IS NULL) EXECUTE FUNCTION chataudit_next_id();
