-- 0017: what several `serve --workers` processes over one archive must share. A job records the
-- process that runs it (pid + that process's start token), so a starting worker fails only jobs
-- whose process is gone, not a sibling's running job. Failed logins are counted here, not in one
-- process's memory, so N workers do not allow N times the attempts.
-- PostgreSQL dialect of ../0017_web_jobs_workers.sql (same number, same tables and meaning).

ALTER TABLE web_jobs ADD COLUMN owner_pid BIGINT;

ALTER TABLE web_jobs ADD COLUMN owner_token TEXT;

CREATE TABLE web_login_failures (
  key TEXT NOT NULL,       -- client:ADDRESS or name:USER
  at_ms BIGINT NOT NULL   -- wall clock (processes share no monotonic clock)
);

CREATE INDEX web_login_failures_key ON web_login_failures (key, at_ms);
