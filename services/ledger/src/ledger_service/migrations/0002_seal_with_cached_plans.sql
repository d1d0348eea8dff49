-- The seal's content as PL/pgSQL, whose plans are cached per session: as a SQL function that
-- cannot be inlined it was planned again on every call, the larger part of a seal's cost.
-- The text it returns is unchanged (ledger_service.domain.chain computes the same).
CREATE OR REPLACE FUNCTION ledger_transaction_content(tx_id text, seq bigint, previous_hash bytea)
RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
    head text;
    entries text;
BEGIN
    SELECT 'ledger-seal-v1;' || seq || ';' || encode(previous_hash, 'hex') || ';'
        || ledger_field(t.id) || ledger_field(t.reference) || ledger_field(t.business_key)
        || ledger_field(t.kind) || ledger_field(t.currency) || ledger_field(t.merchant_id)
        || ledger_field(t.payment_id) || ledger_field(t.refund_id)
        || ledger_field(t.settlement_batch_id) || ledger_field(t.reason) || ledger_field(t.actor)
        || ledger_field(ledger_micros(t.effective_at)) || ledger_field(ledger_micros(t.recorded_at))
    INTO head
    FROM ledger_transactions t WHERE t.id = tx_id;
    SELECT string_agg(
               ledger_field(a.code) || ledger_field(e.side) || ledger_field(e.amount::text), ''
               ORDER BY e.id)
    INTO entries
    FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id
    WHERE e.transaction_id = tx_id;
    RETURN head || coalesce(entries, '');
END
$$;
