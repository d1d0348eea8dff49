-- What the role the ledger's processes run as may do in the ledger's database. Run by the
-- schema's owner after every migration run (localcluster and the tests do); {runtime} is that
-- role. The owner keeps DDL: the runtime role cannot drop or disable a trigger, nor truncate.
--
-- Reads everywhere, inserts where the service writes rows itself, and UPDATE or DELETE only on
-- the kit's tables that its runtime changes: the inbox (pruned by age), the outbox (marked sent,
-- quarantined, pruned) and consumer_parks (resumed). Entries, transactions, seals, accounts and
-- source events are therefore append-only by privilege as well as by their triggers.

REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO {runtime};

-- Tables a later migration creates are covered before this file runs again.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT ON TABLES TO {runtime};
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE ON SEQUENCES TO {runtime};

GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO {runtime};
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {runtime};
REVOKE INSERT ON schema_migrations FROM {runtime};

GRANT DELETE ON inbox TO {runtime};
GRANT UPDATE, DELETE ON outbox TO {runtime};
GRANT UPDATE ON consumer_parks TO {runtime};

-- Tables only the ledger's triggers write (balances, seals, their queues): every table guarded
-- by ledger_refuse_direct_write. Their writers run as the owner (migration 0005).
DO $$
DECLARE
    guarded regclass;
BEGIN
    FOR guarded IN
        SELECT DISTINCT tgrelid::regclass FROM pg_trigger
        WHERE tgfoid = 'ledger_refuse_direct_write'::regproc
    LOOP
        EXECUTE format('REVOKE INSERT, UPDATE, DELETE ON %s FROM %I', guarded, {runtime_name});
    END LOOP;
END
$$;
