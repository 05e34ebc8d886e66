-- 0022 (watch): what `chataudit watch` has seen of each file in the folders it watches, so that a watcher
-- started again (after a restart, a crash, a reboot) neither reads unchanged files again nor forgets
-- one that was still being written. Bookkeeping only: what was imported is in sources and the
-- ledger; a row changed by hand can at worst make the watcher look at a file again (a re-import
-- adds nothing) or pass over it until it changes.
-- PostgreSQL dialect of ../0022_watch_files.sql (same number, same tables and meaning).

CREATE TABLE watch_files (
    path      TEXT PRIMARY KEY,              -- absolute path of the file
    size      BIGINT NOT NULL,              -- at the last look
    mtime_ns  BIGINT NOT NULL,
    state     TEXT NOT NULL,                 -- waiting | imported | already_imported | refused
    reason    TEXT,                          -- refused: why (one line)
    format    TEXT,
    messages  BIGINT,
    new       BIGINT,
    looked_at TEXT NOT NULL,                 -- ISO 8601 UTC of the last look
    done_at   TEXT                           -- when it was imported or refused
);
