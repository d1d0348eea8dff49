-- The ledger's processes run as a role that does not own the schema (see runtime_privileges.sql):
-- it may insert entries and transactions but not write balances, seals or their queues. Those
-- are written by the ledger's trigger functions, which now run as the schema's owner
-- (SECURITY DEFINER, with a search path of their own so no caller's objects can stand in for the
-- ledger's tables).
--
-- Every plpgsql or SQL function named ledger_* that writes a table is altered, whichever
-- migration created it. CREATE OR REPLACE FUNCTION resets SECURITY DEFINER and SET: a later
-- migration that replaces one of these functions restates both (the guards' tests check).

DO $$
DECLARE
    writer regprocedure;
BEGIN
    FOR writer IN
        SELECT p.oid::regprocedure
        FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        JOIN pg_language l ON l.oid = p.prolang
        WHERE n.nspname = 'public'
          AND p.proname LIKE 'ledger\_%'
          AND l.lanname IN ('plpgsql', 'sql')
          AND p.prosrc ~* '\m(insert\s+into|delete\s+from|update\s+\w+(\s+\w+)?\s+set)\M'
    LOOP
        EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = public, pg_temp',
                       writer);
    END LOOP;
END
$$;
