-- 0025 (PostgreSQL only): TRUNCATE fires no row trigger, so an append-only table's guard against
-- DELETE (a BEFORE DELETE row trigger calling chataudit_refuse, without a WHEN condition) gets a twin
-- against TRUNCATE: a statement trigger refusing with the same message. SQLite has no TRUNCATE (its
-- DELETE without WHERE fires the row triggers). Guards a capability creates later get their twin
-- as they are created (store/pgsql.py, translate).
DO $$
DECLARE
    guard RECORD;
BEGIN
    FOR guard IN SELECT t.tgrelid::regclass::text AS tab, t.tgname::text AS name,
                        convert_from(substring(t.tgargs FROM 1 FOR position('\x00'::bytea IN t.tgargs) - 1), 'UTF8') AS message
                 FROM pg_trigger t
                 WHERE NOT t.tgisinternal AND t.tgfoid = 'chataudit_refuse'::regproc AND (t.tgtype & 8) <> 0
                   AND t.tgqual IS NULL AND t.tgparentid = 0 AND t.tgnargs = 1 LOOP
        EXECUTE format('CREATE OR REPLACE TRIGGER %I BEFORE TRUNCATE ON %s FOR EACH STATEMENT'
                       ' EXECUTE FUNCTION chataudit_refuse(%L)', guard.name || '_truncate', guard.tab, guard.message);
    END LOOP;
END $$;
