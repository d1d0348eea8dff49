-- Balances are applied by whoever holds the chain lock, and only by it.
--
-- Before: each entry updated its balance row at once, so a batch held the row lock of every
-- merchant account it touched until commit, and two batches touching two merchants in opposite
-- orders deadlocked; PostgreSQL broke each cycle, the kit redid the event in its savepoint
-- still holding the batch's other locks, and the cycle formed again (measured: two posters,
-- 50 merchants, stalled). Now a transaction that does not hold the chain lock queues its balance
-- changes (ledger_pending_balance_changes, its own rows, gone with it on rollback); they are
-- applied, one update per account, when it takes the chain lock: at commit (the seal), or
-- earlier when a posting must read a balance to decide (a refund, a settlement) or opens an
-- account. From then on its entries apply at once. Only the chain lock's holder ever writes a
-- balance row or opens an account, so writers never wait for each other's rows: no deadlock,
-- and a decision reads every balance as of everything sealed before it, which is the order a
-- rebuild replays.

CREATE UNLOGGED TABLE ledger_pending_balance_changes (
    xact       xid8 NOT NULL DEFAULT pg_current_xact_id(),
    account_id bigint NOT NULL,
    shard      integer NOT NULL,
    debits     bigint NOT NULL,
    credits    bigint NOT NULL,
    delta      bigint NOT NULL,
    entries    bigint NOT NULL
);
CREATE INDEX ledger_pending_balance_changes_by_xact ON ledger_pending_balance_changes (xact);
CREATE TRIGGER ledger_pending_balance_changes_from_entries
    BEFORE INSERT OR UPDATE OR DELETE ON ledger_pending_balance_changes
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_direct_write();
CREATE TRIGGER ledger_pending_balance_changes_no_truncate BEFORE TRUNCATE
    ON ledger_pending_balance_changes FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

CREATE FUNCTION ledger_flush_balance_changes() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    expected integer;
    applied integer;
BEGIN
    WITH gone AS (
        DELETE FROM ledger_pending_balance_changes WHERE xact = pg_current_xact_id()
        RETURNING account_id, shard, debits, credits, delta, entries
    ), deltas AS (
        SELECT account_id, shard, sum(debits) AS debits, sum(credits) AS credits,
               sum(delta) AS delta, sum(entries) AS entries
        FROM gone GROUP BY account_id, shard
    ), updated AS (
        UPDATE ledger_balances b
        SET debits = b.debits + d.debits, credits = b.credits + d.credits,
            balance = b.balance + d.delta, entry_count = b.entry_count + d.entries
        FROM deltas d WHERE b.account_id = d.account_id AND b.shard = d.shard
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM deltas), (SELECT count(*) FROM updated) INTO expected, applied;
    IF applied <> expected THEN
        RAISE EXCEPTION 'ledger balances missing for % of % accounts', expected - applied, expected
            USING ERRCODE = 'foreign_key_violation';
    END IF;
END
$$;

-- Take the chain lock for the rest of the transaction and apply what was queued.
CREATE FUNCTION ledger_hold_chain() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('ledger.chain_held', true), '') = 'on' THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(2021094);
    PERFORM set_config('ledger.chain_held', 'on', true);
    PERFORM ledger_flush_balance_changes();
END
$$;

-- The service asks for the chain lock by inserting here (a trigger, so the balances it applies
-- are written from inside a trigger like every other balance change); nothing is stored.
CREATE UNLOGGED TABLE ledger_chain_requests (requested_at timestamptz NOT NULL DEFAULT now());
CREATE FUNCTION ledger_take_chain() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ledger_hold_chain();
    RETURN NULL;
END
$$;
CREATE TRIGGER ledger_chain_requests_take BEFORE INSERT ON ledger_chain_requests
    FOR EACH ROW EXECUTE FUNCTION ledger_take_chain();

CREATE OR REPLACE FUNCTION ledger_apply_entries() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    expected integer;
    applied integer;
    sealed text;
BEGIN
    SELECT n.transaction_id INTO sealed
    FROM new_entries n JOIN ledger_seals s ON s.transaction_id = n.transaction_id LIMIT 1;
    IF sealed IS NOT NULL THEN
        RAISE EXCEPTION 'ledger transaction % is sealed: no entry can be added', sealed
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF coalesce(current_setting('ledger.chain_held', true), '') <> 'on' THEN
        INSERT INTO ledger_pending_balance_changes
            (account_id, shard, debits, credits, delta, entries)
        SELECT n.account_id,
               CASE WHEN a.shards = 1 THEN 0 ELSE ledger_balance_slot() % a.shards END,
               coalesce(sum(n.amount) FILTER (WHERE n.side = 'debit'), 0),
               coalesce(sum(n.amount) FILTER (WHERE n.side = 'credit'), 0),
               sum(CASE WHEN n.side = a.normal_side THEN n.amount ELSE -n.amount END),
               count(*)
        FROM new_entries n JOIN ledger_accounts a ON a.id = n.account_id
        GROUP BY n.account_id, a.shards;
        RETURN NULL;
    END IF;
    WITH deltas AS (
        SELECT n.account_id,
               CASE WHEN a.shards = 1 THEN 0 ELSE ledger_balance_slot() % a.shards END AS shard,
               sum(n.amount) FILTER (WHERE n.side = 'debit') AS debits,
               sum(n.amount) FILTER (WHERE n.side = 'credit') AS credits,
               sum(CASE WHEN n.side = a.normal_side THEN n.amount ELSE -n.amount END) AS delta,
               count(*) AS entries
        FROM new_entries n JOIN ledger_accounts a ON a.id = n.account_id
        GROUP BY n.account_id, a.shards
    ), updated AS (
        UPDATE ledger_balances b
        SET debits = b.debits + coalesce(d.debits, 0),
            credits = b.credits + coalesce(d.credits, 0),
            balance = b.balance + d.delta,
            entry_count = b.entry_count + d.entries
        FROM deltas d
        WHERE b.account_id = d.account_id AND b.shard = d.shard
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM deltas), (SELECT count(*) FROM updated) INTO expected, applied;
    IF applied <> expected THEN
        RAISE EXCEPTION 'ledger balances missing for % of % accounts', expected - applied, expected
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$;

-- Opening an account needs the chain lock too: only its holder inserts accounts, so no writer
-- waits on another's uncommitted account row.
CREATE FUNCTION ledger_account_needs_chain() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ledger_hold_chain();
    RETURN NEW;
END
$$;
CREATE TRIGGER ledger_accounts_under_chain BEFORE INSERT ON ledger_accounts
    FOR EACH ROW EXECUTE FUNCTION ledger_account_needs_chain();

CREATE OR REPLACE FUNCTION ledger_seal_transaction() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    entry_count integer;
    debit_total numeric;
    credit_total numeric;
    head record;
    next_seq bigint;
    previous bytea;
BEGIN
    SELECT count(*),
           coalesce(sum(amount) FILTER (WHERE side = 'debit'), 0),
           coalesce(sum(amount) FILTER (WHERE side = 'credit'), 0)
    INTO entry_count, debit_total, credit_total
    FROM ledger_entries WHERE transaction_id = NEW.id;
    IF entry_count < 2 THEN
        RAISE EXCEPTION 'ledger transaction % has % entries: at least two are needed',
            NEW.id, entry_count USING ERRCODE = 'check_violation';
    END IF;
    IF debit_total <> credit_total THEN
        RAISE EXCEPTION 'ledger transaction % does not balance: debits % <> credits %',
            NEW.id, debit_total, credit_total USING ERRCODE = 'check_violation';
    END IF;
    PERFORM ledger_hold_chain();
    SELECT seq, hash INTO head FROM ledger_seals ORDER BY seq DESC LIMIT 1;
    next_seq := coalesce(head.seq, 0) + 1;
    previous := coalesce(head.hash, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
    INSERT INTO ledger_seals (seq, transaction_id, previous_hash, hash)
    VALUES (next_seq, NEW.id, previous,
            sha256(convert_to(ledger_transaction_content(NEW.id, next_seq, previous), 'UTF8')));
    RETURN NULL;
END
$$;
