-- 0014 (web): the web app's users, their API tokens, login sessions and background jobs.
-- Secrets are never stored: passwords as argon2id hashes, tokens and session ids as SHA-256 digests.
-- Whoever can write this file can add a user (as they can edit any row): the web app's accounts
-- guard the server, not the file; the audit trail names the user of every audited call.
CREATE TABLE web_users (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('admin', 'lead', 'reviewer', 'agent', 'auditor')),
  password_hash TEXT NOT NULL,
  created_at TEXT NOT NULL,
  disabled_at TEXT
);

CREATE TABLE web_tokens (
  id INTEGER PRIMARY KEY,
  user INTEGER NOT NULL REFERENCES web_users(id) ON DELETE CASCADE,
  token_sha256 TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL
);

CREATE TABLE web_sessions (
  id_sha256 TEXT PRIMARY KEY,
  user INTEGER REFERENCES web_users(id) ON DELETE CASCADE,  -- NULL: the owner who started `serve`
  operator TEXT NOT NULL,
  role TEXT NOT NULL,
  csrf TEXT NOT NULL,
  expires_at_ms INTEGER NOT NULL
);

CREATE TABLE web_jobs (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  operator TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
  progress INTEGER NOT NULL DEFAULT 0,
  note TEXT,
  result TEXT,            -- JSON, when done
  error TEXT,             -- the one-line error, when failed
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
