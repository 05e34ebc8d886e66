-- 0004: personal-data findings per message, kept up to date incrementally by `pii scan`.
-- A finding is a span of messages.text; value = substr(text, start + 1, end - start).
-- PostgreSQL dialect of ../0004_privacy.sql (same number, same tables and meaning).

CREATE TABLE pii_findings (
    message BIGINT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    start   BIGINT NOT NULL,                -- character offsets into messages.text
    "end"   BIGINT NOT NULL,
    type    TEXT NOT NULL,                   -- chataudit.privacy.recognizers.TYPES
    value   TEXT NOT NULL,
    PRIMARY KEY (message, start)
);

CREATE INDEX pii_findings_type ON pii_findings(type, message);

CREATE TABLE pii_scan_state (
    id              BIGINT PRIMARY KEY CHECK (id = 1),
    scanned_through BIGINT NOT NULL DEFAULT 0,
    recognizers     TEXT NOT NULL,
    scanned_at      TEXT
);

CREATE TRIGGER pii_scan_state_next_id BEFORE INSERT ON pii_scan_state
    FOR EACH ROW WHEN (NEW.id IS NULL) EXECUTE FUNCTION chataudit_next_id();

CREATE TABLE pii_rescan (
    message BIGINT PRIMARY KEY
);
