-- The ledger: accounts, journal transactions, entries, balances, the hash chain over the
-- transactions and the events they were posted from. Every invariant that money depends on is
-- enforced here, by PostgreSQL, so that no bug in the service can break it:
--   * a journal transaction has at least two entries and balances (checked at commit);
--   * entries, transactions, seals, source events and accounts are append-only (UPDATE, DELETE
--     and TRUNCATE refused by triggers, for every role, the owner included);
--   * balances change only through entries, in the same transaction (a trigger applies them);
--   * escrow and payable balances never go negative (a CHECK on the balance row);
--   * each transaction is sealed at commit with a hash chained over the previous seal.

CREATE TABLE ledger_accounts (
    id             bigserial PRIMARY KEY,
    code           text NOT NULL CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$'),
    currency       text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    type           text NOT NULL CHECK (type IN ('asset', 'liability', 'revenue', 'expense')),
    normal_side    text NOT NULL,
    merchant_id    text,
    never_negative boolean NOT NULL DEFAULT false,
    -- Hot accounts (psp_clearing, platform:fees) keep several sub-balances, summed on read.
    shards         integer NOT NULL DEFAULT 1 CHECK (shards BETWEEN 1 AND 16),
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (code, currency),
    UNIQUE (id, currency),
    CHECK (normal_side = CASE WHEN type IN ('asset', 'expense') THEN 'debit' ELSE 'credit' END),
    CHECK (NOT (never_negative AND shards > 1))
);
CREATE INDEX ledger_accounts_by_merchant ON ledger_accounts (merchant_id, currency)
    WHERE merchant_id IS NOT NULL;

CREATE TABLE ledger_balances (
    account_id     bigint NOT NULL REFERENCES ledger_accounts (id),
    shard          integer NOT NULL,
    debits         bigint NOT NULL DEFAULT 0 CHECK (debits >= 0),
    credits        bigint NOT NULL DEFAULT 0 CHECK (credits >= 0),
    -- On the account's normal side: debits - credits for assets and expenses, else the reverse.
    balance        bigint NOT NULL DEFAULT 0,
    entry_count    bigint NOT NULL DEFAULT 0,
    never_negative boolean NOT NULL,
    PRIMARY KEY (account_id, shard),
    CONSTRAINT ledger_balance_never_negative CHECK (NOT never_negative OR balance >= 0)
);

CREATE TABLE ledger_transactions (
    id                  text PRIMARY KEY,
    reference           text NOT NULL UNIQUE,  -- the causing event's id: posted once
    business_key        text NOT NULL UNIQUE,  -- payment:<id>, refund:<id>, ...: once per fact
    kind                text NOT NULL CHECK (kind IN (
        'payment', 'payment_reversal', 'refund', 'settlement', 'payout', 'payout_reversal',
        'adjustment')),
    currency            text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    merchant_id         text,
    payment_id          text,
    refund_id           text,
    settlement_batch_id text,
    reason              text,
    actor               text,
    effective_at        timestamptz NOT NULL,
    recorded_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (id, currency),
    CONSTRAINT ledger_adjustment_explained CHECK (
        kind <> 'adjustment'
        OR (length(btrim(coalesce(reason, ''))) > 0 AND length(btrim(coalesce(actor, ''))) > 0))
);
CREATE INDEX ledger_transactions_by_effective_time ON ledger_transactions (effective_at);

CREATE TABLE ledger_entries (
    id             bigserial PRIMARY KEY,
    transaction_id text NOT NULL,
    account_id     bigint NOT NULL,
    currency       text NOT NULL,
    side           text NOT NULL CHECK (side IN ('debit', 'credit')),
    amount         bigint NOT NULL CHECK (amount > 0),
    -- One currency per transaction: every entry's currency is its transaction's and its account's.
    FOREIGN KEY (transaction_id, currency) REFERENCES ledger_transactions (id, currency),
    FOREIGN KEY (account_id, currency) REFERENCES ledger_accounts (id, currency)
);
CREATE INDEX ledger_entries_by_account ON ledger_entries (account_id, id);
CREATE INDEX ledger_entries_by_transaction ON ledger_entries (transaction_id);

CREATE TABLE ledger_seals (
    seq            bigint PRIMARY KEY CHECK (seq > 0),
    transaction_id text NOT NULL UNIQUE REFERENCES ledger_transactions (id),
    previous_hash  bytea NOT NULL,
    hash           bytea NOT NULL,
    sealed_at      timestamptz NOT NULL DEFAULT now()
);

-- Every event the ledger posted from, as it was read, and the policy it was posted under: the
-- input of `ledger rebuild`.
CREATE TABLE ledger_source_events (
    event_id       text PRIMARY KEY,
    transaction_id text NOT NULL UNIQUE REFERENCES ledger_transactions (id),
    event_type     text NOT NULL,
    body           text NOT NULL,
    context        jsonb NOT NULL DEFAULT '{}'
);

-- Append-only: refused for every role, the owner included. Only a superuser can get around it
-- (session_replication_role, or DDL that `ledger verify` reports), and the hash chain shows it.
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger table % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

-- Rows only the ledger's own triggers may write (balances, seals).
CREATE FUNCTION ledger_refuse_direct_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'ledger table % changes only through entries: direct % refused',
            TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER ledger_accounts_append_only BEFORE UPDATE OR DELETE ON ledger_accounts
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_accounts_no_truncate BEFORE TRUNCATE ON ledger_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_transactions_append_only BEFORE UPDATE OR DELETE ON ledger_transactions
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_transactions_no_truncate BEFORE TRUNCATE ON ledger_transactions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_seals_append_only BEFORE UPDATE OR DELETE ON ledger_seals
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_seals_no_truncate BEFORE TRUNCATE ON ledger_seals
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_seals_written_at_commit BEFORE INSERT ON ledger_seals
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_direct_write();
CREATE TRIGGER ledger_source_events_append_only BEFORE UPDATE OR DELETE ON ledger_source_events
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_source_events_no_truncate BEFORE TRUNCATE ON ledger_source_events
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_balances_through_entries BEFORE INSERT OR UPDATE OR DELETE
    ON ledger_balances FOR EACH ROW EXECUTE FUNCTION ledger_refuse_direct_write();
CREATE TRIGGER ledger_balances_no_truncate BEFORE TRUNCATE ON ledger_balances
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

-- A new account gets its (sub-)balance rows at once, so posting only ever updates them.
CREATE FUNCTION ledger_open_balances() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ledger_balances (account_id, shard, never_negative)
    SELECT NEW.id, shard, NEW.never_negative FROM generate_series(0, NEW.shards - 1) AS shard;
    RETURN NULL;
END
$$;
CREATE TRIGGER ledger_accounts_open_balances AFTER INSERT ON ledger_accounts
    FOR EACH ROW EXECUTE FUNCTION ledger_open_balances();

-- The sub-balance a transaction writes on a hot account: a slot no concurrent transaction holds
-- (a try-lock, never a wait), kept for the rest of the transaction. So writers never queue on a
-- hot account's row; the slot modulo the account's shard count picks the row.
CREATE FUNCTION ledger_balance_slot() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    claimed text := current_setting('ledger.balance_slot', true);
    start integer;
    candidate integer;
BEGIN
    IF claimed IS NOT NULL AND claimed <> '' THEN
        RETURN claimed::integer;
    END IF;
    start := (txid_current() % 16)::integer;
    candidate := start;  -- every slot taken: share this one and wait on its row
    FOR step IN 0..15 LOOP
        IF pg_try_advisory_xact_lock(2021093, (start + step) % 16) THEN
            candidate := (start + step) % 16;
            EXIT;
        END IF;
    END LOOP;
    PERFORM set_config('ledger.balance_slot', candidate::text, true);
    RETURN candidate;
END
$$;

CREATE FUNCTION ledger_apply_entries() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER ledger_entries_apply AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_apply_entries();

-- One field of the canonical text a seal hashes: its length, so no value can pose as two.
CREATE FUNCTION ledger_field(value text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN value IS NULL THEN '-;' ELSE char_length(value) || ':' || value || ';' END
$$;

CREATE FUNCTION ledger_micros(moment timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT (extract(epoch FROM moment) * 1000000)::bigint::text
$$;

-- What a seal hashes; ledger_service.domain.chain computes the same text independently.
CREATE FUNCTION ledger_transaction_content(tx_id text, seq bigint, previous_hash bytea)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT 'ledger-seal-v1;' || seq || ';' || encode(previous_hash, 'hex') || ';'
        || ledger_field(t.id) || ledger_field(t.reference) || ledger_field(t.business_key)
        || ledger_field(t.kind) || ledger_field(t.currency) || ledger_field(t.merchant_id)
        || ledger_field(t.payment_id) || ledger_field(t.refund_id)
        || ledger_field(t.settlement_batch_id) || ledger_field(t.reason) || ledger_field(t.actor)
        || ledger_field(ledger_micros(t.effective_at)) || ledger_field(ledger_micros(t.recorded_at))
        || coalesce((
            SELECT string_agg(
                ledger_field(a.code) || ledger_field(e.side) || ledger_field(e.amount::text), ''
                ORDER BY e.id)
            FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id
            WHERE e.transaction_id = t.id), '')
    FROM ledger_transactions t WHERE t.id = tx_id
$$;

-- At commit: the transaction must balance; then it is sealed, next in the chain. The chain's
-- lock is held only from here to the end of the commit.
CREATE FUNCTION ledger_seal_transaction() RETURNS trigger LANGUAGE plpgsql AS $$
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
    PERFORM pg_advisory_xact_lock(2021094);
    SELECT seq, hash INTO head FROM ledger_seals ORDER BY seq DESC LIMIT 1;
    next_seq := coalesce(head.seq, 0) + 1;
    previous := coalesce(head.hash, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
    INSERT INTO ledger_seals (seq, transaction_id, previous_hash, hash)
    VALUES (next_seq, NEW.id, previous,
            sha256(convert_to(ledger_transaction_content(NEW.id, next_seq, previous), 'UTF8')));
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER ledger_transactions_balance_and_seal
    AFTER INSERT ON ledger_transactions DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_seal_transaction();
