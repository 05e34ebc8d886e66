-- 0021 (supervision): an alert is raised once. UNIQUE(message, policy, rule, start) of 0018 lets
-- SQLite store two rows whose start is NULL (an attachment, an after-hours message): this index
-- treats NULL as one value, so a re-run under a new policy version never duplicates those either.
CREATE UNIQUE INDEX supervision_alerts_once ON supervision_alerts(message, policy, rule, ifnull(start, -1))
  WHERE message IS NOT NULL;
-- A policy version is never edited or deleted: a new file is a new version (its audit entry records
-- its SHA-256; `verify` compares them). The backstop against a one-line UPDATE behind the tool's back.
CREATE TRIGGER supervision_policy_sets_no_update BEFORE UPDATE ON supervision_policy_sets
BEGIN SELECT RAISE(ABORT, 'supervision policy versions are never edited: set a new version'); END;
CREATE TRIGGER supervision_policy_sets_no_delete BEFORE DELETE ON supervision_policy_sets
BEGIN SELECT RAISE(ABORT, 'supervision policy versions are never deleted'); END;
