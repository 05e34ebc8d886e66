-- 0020 (supervision): the supervision review queue. Alerts (0018) are grouped by conversation into review
-- items; an item is assigned to a reviewer, closed with a disposition and a reason, or escalated to a
-- second reviewer who closes it for good. Every change is an audit entry (a signed ledger leaf) written
-- in the transaction that changes the row (chataudit.supervision.queue); these tables are the copy for
-- listing, which `verify` compares with the trail.
-- PostgreSQL dialect of ../0020_sup_queue_items.sql (same number, same tables and meaning).

CREATE TABLE supervision_items (
  id                BIGINT PRIMARY KEY,
  conversation      BIGINT NOT NULL REFERENCES conversations(id),
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

CREATE TRIGGER supervision_items_next_id BEFORE INSERT ON supervision_items
    FOR EACH ROW WHEN (NEW.id IS NULL) EXECUTE FUNCTION chataudit_next_id();

CREATE UNIQUE INDEX supervision_items_one_open ON supervision_items(conversation) WHERE status != 'closed';

CREATE INDEX supervision_items_reviewer ON supervision_items(reviewer, status);

CREATE TABLE supervision_item_alerts (
  alert BIGINT PRIMARY KEY REFERENCES supervision_alerts(id),
  item  BIGINT NOT NULL REFERENCES supervision_items(id)
);

CREATE INDEX supervision_item_alerts_item ON supervision_item_alerts(item);

CREATE TRIGGER supervision_items_closed_final BEFORE UPDATE ON supervision_items
    FOR EACH ROW WHEN (OLD.status = 'closed') EXECUTE FUNCTION chataudit_refuse('a closed supervision item is final: it cannot be changed');

CREATE TRIGGER supervision_items_closed_kept BEFORE DELETE ON supervision_items
    FOR EACH ROW WHEN (OLD.status = 'closed') EXECUTE FUNCTION chataudit_refuse('a closed supervision item is final: it cannot be deleted');

CREATE FUNCTION chataudit_supervision_items_close_recorded() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'closed' AND OLD.status != 'closed' AND NOT EXISTS (
         SELECT 1 FROM governance_audit a, jsonb_array_elements(CASE WHEN chataudit_json_valid(a.facts)
                  AND jsonb_typeof(a.facts::jsonb -> 'items') = 'array' THEN a.facts::jsonb -> 'items' END) j
         WHERE a.command = 'supervise close'
           AND (j ->> 'item') = NEW.id::text AND (j ->> 'closed_at') IS NOT DISTINCT FROM NEW.closed_at
           AND (j ->> 'disposition') IS NOT DISTINCT FROM NEW.disposition) THEN
        RAISE EXCEPTION 'a supervision item is closed only by `chataudit supervise close` (its audit entry first)' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER supervision_items_close_recorded BEFORE UPDATE OF status, disposition, reason, closed_by, closed_at ON supervision_items
    FOR EACH ROW EXECUTE FUNCTION chataudit_supervision_items_close_recorded();

CREATE FUNCTION chataudit_item_alerts_closed_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT status FROM supervision_items WHERE id = NEW.item) = 'closed' THEN
        RAISE EXCEPTION 'a closed supervision item takes no new alerts' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER supervision_item_alerts_closed_insert BEFORE INSERT ON supervision_item_alerts
    FOR EACH ROW EXECUTE FUNCTION chataudit_item_alerts_closed_insert();

CREATE FUNCTION chataudit_item_alerts_closed_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM supervision_items WHERE id IN (OLD.item, NEW.item) AND status = 'closed') THEN
        RAISE EXCEPTION 'the alerts of a closed supervision item cannot be moved' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER supervision_item_alerts_closed_update BEFORE UPDATE ON supervision_item_alerts
    FOR EACH ROW EXECUTE FUNCTION chataudit_item_alerts_closed_update();

CREATE FUNCTION chataudit_item_alerts_closed_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT status FROM supervision_items WHERE id = OLD.item) = 'closed' THEN
        RAISE EXCEPTION 'the alerts of a closed supervision item cannot be removed' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER supervision_item_alerts_closed_delete BEFORE DELETE ON supervision_item_alerts
    FOR EACH ROW EXECUTE FUNCTION chataudit_item_alerts_closed_delete();
