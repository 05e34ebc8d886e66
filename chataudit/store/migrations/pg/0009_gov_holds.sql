-- 0009 (gov): a legal hold is released only by `hold release`, which writes its audit entry (a
-- signed ledger leaf) first, in the same transaction; a release is never undone or rewritten.
-- This stops the one-statement `UPDATE governance_holds SET released_at = …`; someone who drops the
-- trigger too is caught by `verify` (the row disagrees with the trail) and by retention runs, which
-- take the holds from the signed entries, not from this table.
-- PostgreSQL dialect of ../0009_gov_holds.sql (same number, same tables and meaning).

CREATE FUNCTION chataudit_holds_release_recorded() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.released_at IS NOT NULL
       OR NOT EXISTS (SELECT 1 FROM governance_audit a WHERE a.command = 'hold release' AND chataudit_json_valid(a.facts)
                     AND (a.facts::jsonb ->> 'hold') = NEW.id::text
                     AND (a.facts::jsonb ->> 'released_at') IS NOT DISTINCT FROM NEW.released_at) THEN
        RAISE EXCEPTION 'a legal hold is released only by `chataudit hold release` (its audit entry first)' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER governance_holds_release_recorded BEFORE UPDATE OF released_at, released_by, release_reason ON governance_holds
    FOR EACH ROW EXECUTE FUNCTION chataudit_holds_release_recorded();
