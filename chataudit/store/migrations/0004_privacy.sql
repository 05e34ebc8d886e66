-- 0004: personal-data findings per message, kept up to date incrementally by `pii scan`.
-- A finding is a span of messages.text; value = substr(text, start + 1, end - start).
CREATE TABLE pii_findings (
    message INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    start   INTEGER NOT NULL,                -- character offsets into messages.text
    "end"   INTEGER NOT NULL,
    type    TEXT NOT NULL,                   -- chataudit.privacy.recognizers.TYPES
    value   TEXT NOT NULL,
    PRIMARY KEY (message, start)
) WITHOUT ROWID;
CREATE INDEX pii_findings_type ON pii_findings(type, message);

-- How far the scan got: every message with id <= scanned_through has its findings stored,
-- computed by recognizers of version `recognizers` (a newer version rescans everything).
CREATE TABLE pii_scan_state (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    scanned_through INTEGER NOT NULL DEFAULT 0,
    recognizers     TEXT NOT NULL,
    scanned_at      TEXT
);

-- Messages at or below the mark whose text changed (e.g. a retention purge): scanned again next time.
CREATE TABLE pii_rescan (
    message INTEGER PRIMARY KEY
);
-- The triggers that keep this table honest when messages change are created by
-- chataudit/privacy/scan.py on first use (this runner splits scripts at every semicolon).
