-- 0007: governance — the employee roster, written authorizations (enterprise mode), the audit
-- trail (each entry is also a leaf of the ledger), retention rules and legal holds.
-- The archive's mode is the setting 'governance.mode' (personal | enterprise).
-- PostgreSQL dialect of ../0007_governance.sql (same number, same tables and meaning).

CREATE TABLE governance_roster (
    id       TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    role     TEXT NOT NULL,
    hired_on TEXT,
    team     TEXT
);

CREATE TABLE governance_authorizations (
    id              BIGINT PRIMARY KEY,
    purpose         TEXT NOT NULL,
    granted_by      TEXT NOT NULL,
    recorded_by     TEXT NOT NULL,            -- the operator who ran `auth add`
    recorded_at     TEXT NOT NULL,            -- ISO 8601 UTC
    expires         TEXT NOT NULL,            -- as given
    expires_at_ms   BIGINT NOT NULL,         -- UTC ms (a bare date: the end of that day)
    period          TEXT,                     -- SINCE..UNTIL as given; NULL: any time
    period_start_ms BIGINT,                  -- NULL: open
    period_end_ms   BIGINT,                  -- exclusive; NULL: open
    document_name   TEXT NOT NULL,
    document_sha256 TEXT NOT NULL,
    document        BYTEA NOT NULL,            -- the scan, byte for byte
    record_sha256   TEXT NOT NULL,            -- of the canonical record (also in its audit entry)
    revoked_at      TEXT,
    revoked_by      TEXT,
    revoke_reason   TEXT
);

CREATE TRIGGER governance_authorizations_next_id BEFORE INSERT ON governance_authorizations
    FOR EACH ROW WHEN (NEW.id IS NULL) EXECUTE FUNCTION chataudit_next_id();

CREATE TABLE governance_authorization_scope (
    auth_id         BIGINT NOT NULL REFERENCES governance_authorizations(id),
    kind            TEXT NOT NULL CHECK (kind IN ('subject', 'platform', 'conversation')),
    value           TEXT NOT NULL,            -- roster id, platform name or conversations.id
    PRIMARY KEY (auth_id, kind, value)
);

CREATE INDEX governance_authorization_scope_value ON governance_authorization_scope(kind, value);

CREATE TABLE governance_audit (
    id             BIGINT PRIMARY KEY,
    at             TEXT NOT NULL,             -- ISO 8601 UTC with milliseconds, e.g. 2026-03-12T07:01:02.345Z
    operator       TEXT NOT NULL,             -- --operator (default: the OS user)
    os_user        TEXT NOT NULL,             -- the OS account that ran the command
    command        TEXT NOT NULL,             -- 'search', 'pii scan', 'auth add', 'retention apply' …
    params         TEXT NOT NULL,             -- canonical JSON object of the command's parameters
    authorizations TEXT NOT NULL,             -- JSON list of the authorization ids the request used
    records        BIGINT NOT NULL,          -- records written (rows, JSON array items, reports)
    outputs        TEXT NOT NULL,             -- JSON [{"to": "stdout" | path, "bytes", "sha256"}]
    output_sha256  TEXT,                      -- of the one output, or of the outputs' manifest
    outcome        TEXT NOT NULL,             -- ok | refused | error
    exit_code      BIGINT NOT NULL,
    facts          TEXT NOT NULL,             -- JSON object: what the command did or found
    detail         TEXT                       -- why it was refused, the error
);

CREATE TRIGGER governance_audit_next_id BEFORE INSERT ON governance_audit
    FOR EACH ROW WHEN (NEW.id IS NULL) EXECUTE FUNCTION chataudit_next_id();

CREATE INDEX governance_audit_at ON governance_audit(at);

CREATE INDEX governance_audit_operator ON governance_audit(operator, at);

CREATE INDEX governance_audit_command ON governance_audit(command, id);

CREATE TRIGGER governance_audit_no_update BEFORE UPDATE ON governance_audit
    FOR EACH ROW EXECUTE FUNCTION chataudit_refuse('the audit trail is append-only');

CREATE TRIGGER governance_audit_no_delete BEFORE DELETE ON governance_audit
    FOR EACH ROW EXECUTE FUNCTION chataudit_refuse('the audit trail is append-only');

CREATE TRIGGER governance_authorizations_no_delete BEFORE DELETE ON governance_authorizations
    FOR EACH ROW EXECUTE FUNCTION chataudit_refuse('authorizations are revoked, never deleted');

CREATE TRIGGER governance_authorizations_no_update BEFORE UPDATE OF id, purpose, granted_by, recorded_by, recorded_at, expires, expires_at_ms, period,
    period_start_ms, period_end_ms, document_name, document_sha256, document, record_sha256 ON governance_authorizations
    FOR EACH ROW EXECUTE FUNCTION chataudit_refuse('an authorization is recorded once; revoke it and add another');

CREATE TRIGGER governance_authorization_scope_no_delete BEFORE DELETE ON governance_authorization_scope
    FOR EACH ROW EXECUTE FUNCTION chataudit_refuse('an authorization is recorded once; revoke it and add another');

CREATE TRIGGER governance_authorization_scope_no_update BEFORE UPDATE ON governance_authorization_scope
    FOR EACH ROW EXECUTE FUNCTION chataudit_refuse('an authorization is recorded once; revoke it and add another');

CREATE TABLE governance_retention (
    selector TEXT PRIMARY KEY,
    keep     TEXT NOT NULL
);

CREATE TABLE governance_holds (
    id             BIGINT PRIMARY KEY,
    kind           TEXT NOT NULL CHECK (kind IN ('conversation', 'person')),
    target         TEXT NOT NULL,             -- the reference as given
    conversation   BIGINT,                   -- conversations.id of a conversation hold
    reason         TEXT NOT NULL,
    placed_by      TEXT NOT NULL,
    placed_at      TEXT NOT NULL,
    released_at    TEXT,
    released_by    TEXT,
    release_reason TEXT
);

CREATE TRIGGER governance_holds_next_id BEFORE INSERT ON governance_holds
    FOR EACH ROW WHEN (NEW.id IS NULL) EXECUTE FUNCTION chataudit_next_id();

CREATE TABLE governance_hold_identities (
    hold       BIGINT NOT NULL REFERENCES governance_holds(id),
    platform   TEXT NOT NULL,
    sender_key TEXT NOT NULL,
    PRIMARY KEY (hold, platform, sender_key)
);

CREATE INDEX governance_hold_identities_key ON governance_hold_identities(platform, sender_key);

CREATE TRIGGER governance_holds_no_delete BEFORE DELETE ON governance_holds
    FOR EACH ROW EXECUTE FUNCTION chataudit_refuse('a legal hold is released, never deleted');

CREATE TRIGGER governance_holds_no_update BEFORE UPDATE OF id, kind, target, conversation, reason, placed_by, placed_at ON governance_holds
    FOR EACH ROW EXECUTE FUNCTION chataudit_refuse('a legal hold is placed once; release it and place another');

CREATE FUNCTION chataudit_hold_keeps_messages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM governance_holds h WHERE h.released_at IS NULL AND h.conversation = OLD.conversation)
       OR EXISTS (SELECT 1 FROM governance_hold_identities i JOIN governance_holds h ON h.id = i.hold
                  WHERE h.released_at IS NULL AND i.platform = OLD.platform
                    AND i.sender_key = coalesce(OLD.sender_id, OLD.sender_name)) THEN
        RAISE EXCEPTION 'legal hold: the message is held (see `chataudit hold list`)' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER governance_hold_keeps_messages BEFORE DELETE ON messages
    FOR EACH ROW EXECUTE FUNCTION chataudit_hold_keeps_messages();
