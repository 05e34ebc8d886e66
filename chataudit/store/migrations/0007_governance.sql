-- 0007: governance — the employee roster, written authorizations (enterprise mode), the audit
-- trail (each entry is also a leaf of the ledger), retention rules and legal holds.
-- The archive's mode is the setting 'governance.mode' (personal | enterprise).

-- Employees: the roster CSV `id,name,role,hired_on[,team]` that `quality --roster` reads.
-- A message is an employee's when its sender id is a roster id or its sender name a roster name
-- (as quality matches agents), or its identity is linked (`people link`) to such an identity.
CREATE TABLE governance_roster (
    id       TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    role     TEXT NOT NULL,
    hired_on TEXT,
    team     TEXT
);

-- A written authorization to read employees' messages: the signed document itself and its scope.
CREATE TABLE governance_authorizations (
    id              INTEGER PRIMARY KEY,
    purpose         TEXT NOT NULL,
    granted_by      TEXT NOT NULL,
    recorded_by     TEXT NOT NULL,            -- the operator who ran `auth add`
    recorded_at     TEXT NOT NULL,            -- ISO 8601 UTC
    expires         TEXT NOT NULL,            -- as given
    expires_at_ms   INTEGER NOT NULL,         -- UTC ms (a bare date: the end of that day)
    period          TEXT,                     -- SINCE..UNTIL as given; NULL: any time
    period_start_ms INTEGER,                  -- NULL: open
    period_end_ms   INTEGER,                  -- exclusive; NULL: open
    document_name   TEXT NOT NULL,
    document_sha256 TEXT NOT NULL,
    document        BLOB NOT NULL,            -- the scan, byte for byte
    record_sha256   TEXT NOT NULL,            -- of the canonical record (also in its audit entry)
    revoked_at      TEXT,
    revoked_by      TEXT,
    revoke_reason   TEXT
);
-- What an authorization covers: subjects (roster ids) always; no platform / conversation rows
-- means every platform / conversation.
CREATE TABLE governance_authorization_scope (
    auth_id         INTEGER NOT NULL REFERENCES governance_authorizations(id),
    kind            TEXT NOT NULL CHECK (kind IN ('subject', 'platform', 'conversation')),
    value           TEXT NOT NULL,            -- roster id, platform name or conversations.id
    PRIMARY KEY (auth_id, kind, value)
) WITHOUT ROWID;
CREATE INDEX governance_authorization_scope_value ON governance_authorization_scope(kind, value);

-- The audit trail. Each entry is a ledger leaf of kind 3 (chataudit/ledger/leaves.py), signed by a
-- checkpoint, so `verify` names an entry that was edited or deleted.
CREATE TABLE governance_audit (
    id             INTEGER PRIMARY KEY,
    at             TEXT NOT NULL,             -- ISO 8601 UTC with milliseconds, e.g. 2026-03-12T07:01:02.345Z
    operator       TEXT NOT NULL,             -- --operator (default: the OS user)
    os_user        TEXT NOT NULL,             -- the OS account that ran the command
    command        TEXT NOT NULL,             -- 'search', 'pii scan', 'auth add', 'retention apply' …
    params         TEXT NOT NULL,             -- canonical JSON object of the command's parameters
    authorizations TEXT NOT NULL,             -- JSON list of the authorization ids the request used
    records        INTEGER NOT NULL,          -- records written (rows, JSON array items, reports)
    outputs        TEXT NOT NULL,             -- JSON [{"to": "stdout" | path, "bytes", "sha256"}]
    output_sha256  TEXT,                      -- of the one output, or of the outputs' manifest
    outcome        TEXT NOT NULL,             -- ok | refused | error
    exit_code      INTEGER NOT NULL,
    facts          TEXT NOT NULL,             -- JSON object: what the command did or found
    detail         TEXT                       -- why it was refused, the error
);
CREATE INDEX governance_audit_at ON governance_audit(at);
CREATE INDEX governance_audit_operator ON governance_audit(operator, at);
CREATE INDEX governance_audit_command ON governance_audit(command, id);
CREATE TRIGGER governance_audit_no_update BEFORE UPDATE ON governance_audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER governance_audit_no_delete BEFORE DELETE ON governance_audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER governance_authorizations_no_delete BEFORE DELETE ON governance_authorizations
BEGIN SELECT RAISE(ABORT, 'authorizations are revoked, never deleted'); END;
CREATE TRIGGER governance_authorizations_no_update
BEFORE UPDATE OF id, purpose, granted_by, recorded_by, recorded_at, expires, expires_at_ms, period,
    period_start_ms, period_end_ms, document_name, document_sha256, document, record_sha256
ON governance_authorizations
BEGIN SELECT RAISE(ABORT, 'an authorization is recorded once; revoke it and add another'); END;
CREATE TRIGGER governance_authorization_scope_no_delete BEFORE DELETE ON governance_authorization_scope
BEGIN SELECT RAISE(ABORT, 'an authorization is recorded once; revoke it and add another'); END;
CREATE TRIGGER governance_authorization_scope_no_update BEFORE UPDATE ON governance_authorization_scope
BEGIN SELECT RAISE(ABORT, 'an authorization is recorded once; revoke it and add another'); END;

-- Retention rules: selector 'default', 'platform:NAME', 'label:LABEL' or 'conversation:ID';
-- keep 'keep' or a duration (2y, 18m, 6w, 90d) counted back from the run.
CREATE TABLE governance_retention (
    selector TEXT PRIMARY KEY,
    keep     TEXT NOT NULL
);

-- Legal holds: what they cover may not be purged until released.
CREATE TABLE governance_holds (
    id             INTEGER PRIMARY KEY,
    kind           TEXT NOT NULL CHECK (kind IN ('conversation', 'person')),
    target         TEXT NOT NULL,             -- the reference as given
    conversation   INTEGER,                   -- conversations.id of a conversation hold
    reason         TEXT NOT NULL,
    placed_by      TEXT NOT NULL,
    placed_at      TEXT NOT NULL,
    released_at    TEXT,
    released_by    TEXT,
    release_reason TEXT
);
-- A person hold's identities at the time it was placed (the store's backstop below reads them;
-- retention runs also follow later `people link`s and the person's one-to-one conversations).
CREATE TABLE governance_hold_identities (
    hold       INTEGER NOT NULL REFERENCES governance_holds(id),
    platform   TEXT NOT NULL,
    sender_key TEXT NOT NULL,
    PRIMARY KEY (hold, platform, sender_key)
) WITHOUT ROWID;
CREATE INDEX governance_hold_identities_key ON governance_hold_identities(platform, sender_key);
CREATE TRIGGER governance_holds_no_delete BEFORE DELETE ON governance_holds
BEGIN SELECT RAISE(ABORT, 'a legal hold is released, never deleted'); END;
CREATE TRIGGER governance_holds_no_update BEFORE UPDATE OF id, kind, target, conversation, reason, placed_by, placed_at
ON governance_holds
BEGIN SELECT RAISE(ABORT, 'a legal hold is placed once; release it and place another'); END;

-- Backstop: whatever deletes messages (a retention run, a direct ledger purge), a held
-- conversation's messages and a held person's own messages stay.
CREATE TRIGGER governance_hold_keeps_messages BEFORE DELETE ON messages
WHEN EXISTS (SELECT 1 FROM governance_holds h WHERE h.released_at IS NULL AND h.conversation = OLD.conversation)
  OR EXISTS (SELECT 1 FROM governance_hold_identities i JOIN governance_holds h ON h.id = i.hold
             WHERE h.released_at IS NULL AND i.platform = OLD.platform
               AND i.sender_key = coalesce(OLD.sender_id, OLD.sender_name))
BEGIN SELECT RAISE(ABORT, 'legal hold: the message is held (see `chataudit hold list`)'); END;
