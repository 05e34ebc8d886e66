-- 0021 (supervision): an alert is raised once. UNIQUE(message, policy, rule, start) of 0018 lets
-- SQLite store two rows whose start is NULL (an attachment, an after-hours message): this index
-- treats NULL as one value, so a re-run under a new policy version never duplicates those either.
-- PostgreSQL dialect of ../0021_supervision_alerts_once.sql (same number, same tables and meaning).

CREATE UNIQUE INDEX supervision_alerts_once ON supervision_alerts(message, policy, rule, coalesce(start, -1))
  WHERE message IS NOT NULL;

CREATE TRIGGER supervision_policy_sets_no_update BEFORE UPDATE ON supervision_policy_sets
    FOR EACH ROW EXECUTE FUNCTION chataudit_refuse('supervision policy versions are never edited: set a new version');

CREATE TRIGGER supervision_policy_sets_no_delete BEFORE DELETE ON supervision_policy_sets
    FOR EACH ROW EXECUTE FUNCTION chataudit_refuse('supervision policy versions are never deleted');
