-- Transactions are checked and sealed as a set at commit, not one by one.
--
-- Before: the deferred trigger of every journal transaction counted its entries, read the
-- chain's head, built its content with two queries and inserted its seal, all under the chain
-- lock: about half a millisecond per transaction, so a batch of 500 held the lock for a quarter
-- of a second and posters queued behind it. Now the transactions a database transaction adds
-- are queued (ledger_pending_seals, its own rows, gone with it on rollback or with a savepoint),
-- and the first deferred trigger to fire at commit checks them all in one query, takes the chain
-- lock, builds every content in one query and inserts every seal in one statement; the other
-- triggers find their transaction sealed and return. The content hashed is unchanged, so the
-- chain of a ledger sealed before this migration continues, and `ledger verify` reads both.

CREATE UNLOGGED TABLE ledger_pending_seals (
    xact           xid8 NOT NULL DEFAULT pg_current_xact_id(),
    n              bigserial,
    transaction_id text NOT NULL
);
CREATE INDEX ledger_pending_seals_by_xact ON ledger_pending_seals (xact, n);
CREATE TRIGGER ledger_pending_seals_from_transactions
    BEFORE INSERT OR UPDATE OR DELETE ON ledger_pending_seals
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_direct_write();
CREATE TRIGGER ledger_pending_seals_no_truncate BEFORE TRUNCATE
    ON ledger_pending_seals FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

CREATE FUNCTION ledger_queue_seals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ledger_pending_seals (transaction_id) SELECT id FROM new_transactions;
    RETURN NULL;
END
$$;
CREATE TRIGGER ledger_transactions_queue_seals AFTER INSERT ON ledger_transactions
    REFERENCING NEW TABLE AS new_transactions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_queue_seals();

-- What a seal hashes after its sequence number and the previous hash: the transaction's fields
-- and its entries in order (ledger_service.domain.chain computes the same text independently).
CREATE FUNCTION ledger_seal_body(t ledger_transactions, entries text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT ledger_field(t.id) || ledger_field(t.reference) || ledger_field(t.business_key)
        || ledger_field(t.kind) || ledger_field(t.currency) || ledger_field(t.merchant_id)
        || ledger_field(t.payment_id) || ledger_field(t.refund_id)
        || ledger_field(t.settlement_batch_id) || ledger_field(t.reason) || ledger_field(t.actor)
        || ledger_field(ledger_micros(t.effective_at)) || ledger_field(ledger_micros(t.recorded_at))
        || coalesce(entries, '')
$$;

-- Seals are no longer built one transaction at a time.
DROP FUNCTION ledger_transaction_content(text, bigint, bytea);

-- Check and seal every transaction this database transaction queued, in the order it added them.
CREATE FUNCTION ledger_seal_pending() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    pending text[];
    unbalanced record;
    head record;
    next_seq bigint;
    previous bytea;
    content record;
    sealed_hash bytea;
    seqs bigint[] := '{}';
    ids text[] := '{}';
    previous_hashes bytea[] := '{}';
    hashes bytea[] := '{}';
BEGIN
    WITH gone AS (
        DELETE FROM ledger_pending_seals WHERE xact = pg_current_xact_id()
        RETURNING n, transaction_id
    )
    SELECT array_agg(transaction_id ORDER BY n) INTO pending FROM gone;
    IF pending IS NULL THEN
        RETURN;
    END IF;
    SELECT p.id, count(e.id) AS entry_count,
           coalesce(sum(e.amount) FILTER (WHERE e.side = 'debit'), 0) AS debits,
           coalesce(sum(e.amount) FILTER (WHERE e.side = 'credit'), 0) AS credits
    INTO unbalanced
    FROM unnest(pending) AS p(id) LEFT JOIN ledger_entries e ON e.transaction_id = p.id
    GROUP BY p.id
    HAVING count(e.id) < 2
        OR coalesce(sum(e.amount) FILTER (WHERE e.side = 'debit'), 0)
           <> coalesce(sum(e.amount) FILTER (WHERE e.side = 'credit'), 0)
    LIMIT 1;
    IF FOUND AND unbalanced.entry_count < 2 THEN
        RAISE EXCEPTION 'ledger transaction % has % entries: at least two are needed',
            unbalanced.id, unbalanced.entry_count USING ERRCODE = 'check_violation';
    ELSIF FOUND THEN
        RAISE EXCEPTION 'ledger transaction % does not balance: debits % <> credits %',
            unbalanced.id, unbalanced.debits, unbalanced.credits
            USING ERRCODE = 'check_violation';
    END IF;
    PERFORM ledger_hold_chain();
    SELECT seq, hash INTO head FROM ledger_seals ORDER BY seq DESC LIMIT 1;
    next_seq := coalesce(head.seq, 0);
    previous := coalesce(head.hash, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
    FOR content IN
        SELECT t.id, ledger_seal_body(t, en.text) AS body
        FROM unnest(pending) WITH ORDINALITY AS p(id, n)
        JOIN ledger_transactions t ON t.id = p.id
        LEFT JOIN LATERAL (
            SELECT string_agg(
                ledger_field(a.code) || ledger_field(e.side) || ledger_field(e.amount::text), ''
                ORDER BY e.id) AS text
            FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id
            WHERE e.transaction_id = p.id
        ) en ON true
        ORDER BY p.n
    LOOP
        next_seq := next_seq + 1;
        sealed_hash := sha256(convert_to(
            'ledger-seal-v1;' || next_seq || ';' || encode(previous, 'hex') || ';' || content.body,
            'UTF8'));
        seqs := seqs || next_seq;
        ids := ids || content.id;
        previous_hashes := previous_hashes || previous;
        hashes := hashes || sealed_hash;
        previous := sealed_hash;
    END LOOP;
    INSERT INTO ledger_seals (seq, transaction_id, previous_hash, hash)
    SELECT * FROM unnest(seqs, ids, previous_hashes, hashes);
END
$$;

-- The deferred trigger of each transaction: the first to fire seals the whole set.
CREATE OR REPLACE FUNCTION ledger_seal_transaction() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ledger_seals WHERE transaction_id = NEW.id) THEN
        PERFORM ledger_seal_pending();
        IF NOT EXISTS (SELECT 1 FROM ledger_seals WHERE transaction_id = NEW.id) THEN
            RAISE EXCEPTION 'ledger transaction % was not queued for its seal', NEW.id
                USING ERRCODE = 'internal_error';
        END IF;
    END IF;
    RETURN NULL;
END
$$;
