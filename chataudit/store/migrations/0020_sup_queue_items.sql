-- 0020 (supervision): the supervision review queue. Alerts (0018) are grouped by conversation into review
-- items; an item is assigned to a reviewer, closed with a disposition and a reason, or escalated to a
-- second reviewer who closes it for good. Every change is an audit entry (a signed ledger leaf) written
-- in the transaction that changes the row (chataudit.supervision.queue); these tables are the copy for
-- listing, which `verify` compares with the trail.
CREATE TABLE supervision_items (
  id                INTEGER PRIMARY KEY,
  conversation      INTEGER NOT NULL REFERENCES conversations(id),
  status            TEXT NOT NULL CHECK (status IN ('open', 'escalated', 'closed')),
  opened_at         TEXT NOT NULL,
  reviewer          TEXT,            -- who works it now (after an escalation: the second reviewer)
  assigned_at       TEXT,
  first_reviewer    TEXT,            -- who escalated it (NULL unless escalated)
  escalated_at      TEXT,
  escalation_reason TEXT,
  disposition       TEXT CHECK (disposition IS NULL OR disposition IN ('no issue', 'coaching', 'reported')),
  reason            TEXT,
  closed_by         TEXT,
  closed_at         TEXT
);
-- at most one item per conversation is not closed: new alerts join it
CREATE UNIQUE INDEX supervision_items_one_open ON supervision_items(conversation) WHERE status != 'closed';
CREATE INDEX supervision_items_reviewer ON supervision_items(reviewer, status);

CREATE TABLE supervision_item_alerts (
  alert INTEGER PRIMARY KEY REFERENCES supervision_alerts(id),
  item  INTEGER NOT NULL REFERENCES supervision_items(id)
);
CREATE INDEX supervision_item_alerts_item ON supervision_item_alerts(item);

-- Backstops for the one-statement rewrite: a closed item is final (no UPDATE, no DELETE), an item is
-- closed only after its `supervise close` entry (with the same closing time) is on the trail, and the
-- alerts of a closed item stay its alerts. Someone who drops these triggers too is caught by `verify`.
CREATE TRIGGER supervision_items_closed_final
BEFORE UPDATE ON supervision_items WHEN OLD.status = 'closed'
BEGIN SELECT RAISE(ABORT, 'a closed supervision item is final: it cannot be changed'); END;

CREATE TRIGGER supervision_items_closed_kept
BEFORE DELETE ON supervision_items WHEN OLD.status = 'closed'
BEGIN SELECT RAISE(ABORT, 'a closed supervision item is final: it cannot be deleted'); END;

CREATE TRIGGER supervision_items_close_recorded
BEFORE UPDATE OF status, disposition, reason, closed_by, closed_at ON supervision_items
WHEN NEW.status = 'closed' AND OLD.status != 'closed' AND NOT EXISTS (
  SELECT 1 FROM governance_audit a, json_each(a.facts, '$.items') j
  WHERE a.command = 'supervise close' AND json_valid(a.facts)
    AND json_extract(j.value, '$.item') = NEW.id AND json_extract(j.value, '$.closed_at') IS NEW.closed_at
    AND json_extract(j.value, '$.disposition') IS NEW.disposition)
BEGIN SELECT RAISE(ABORT, 'a supervision item is closed only by `chataudit supervise close` (its audit entry first)'); END;

CREATE TRIGGER supervision_item_alerts_closed_insert
BEFORE INSERT ON supervision_item_alerts
WHEN (SELECT status FROM supervision_items WHERE id = NEW.item) = 'closed'
BEGIN SELECT RAISE(ABORT, 'a closed supervision item takes no new alerts'); END;

CREATE TRIGGER supervision_item_alerts_closed_update
BEFORE UPDATE ON supervision_item_alerts
WHEN (SELECT status FROM supervision_items WHERE id IN (OLD.item, NEW.item) AND status = 'closed') IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'the alerts of a closed supervision item cannot be moved'); END;

CREATE TRIGGER supervision_item_alerts_closed_delete
BEFORE DELETE ON supervision_item_alerts
WHEN (SELECT status FROM supervision_items WHERE id = OLD.item) = 'closed'
BEGIN SELECT RAISE(ABORT, 'the alerts of a closed supervision item cannot be removed'); END;
