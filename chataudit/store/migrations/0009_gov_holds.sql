-- 0009 (gov): a legal hold is released only by `hold release`, which writes its audit entry (a
-- signed ledger leaf) first, in the same transaction; a release is never undone or rewritten.
-- This stops the one-statement `UPDATE governance_holds SET released_at = …`; someone who drops the
-- trigger too is caught by `verify` (the row disagrees with the trail) and by retention runs, which
-- take the holds from the signed entries, not from this table.
CREATE TRIGGER governance_holds_release_recorded
BEFORE UPDATE OF released_at, released_by, release_reason ON governance_holds
WHEN OLD.released_at IS NOT NULL
  OR NOT EXISTS (SELECT 1 FROM governance_audit a WHERE a.command = 'hold release' AND json_valid(a.facts)
                 AND json_extract(a.facts, '$.hold') = NEW.id AND json_extract(a.facts, '$.released_at') IS NEW.released_at)
BEGIN SELECT RAISE(ABORT, 'a legal hold is released only by `chataudit hold release` (its audit entry first)'); END;
