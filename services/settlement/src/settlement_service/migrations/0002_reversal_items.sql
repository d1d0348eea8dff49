-- Reversals: a payment whose success the PSP's record overturned. The ledger posts a
-- payment_reversal (escrow or receivable A - F and the fee F debited, psp_clearing A credited);
-- settlement holds it as an item of kind 'reversal' that takes A - F back from the payout, so
-- nothing is paid out that the ledger no longer holds. A batch totals its reversals apart:
-- reversed = sum of their A, fee_returned = sum of their F.

ALTER TABLE settlement_items DROP CONSTRAINT settlement_items_kind_check;
ALTER TABLE settlement_items ADD CONSTRAINT settlement_items_kind_check
    CHECK (kind IN ('payment', 'refund', 'reversal'));

ALTER TABLE settlement_items DROP CONSTRAINT settlement_items_net_follows_kind;
ALTER TABLE settlement_items ADD CONSTRAINT settlement_items_net_follows_kind CHECK (
    (kind = 'payment' AND net_amount = gross_amount - fee_amount)
    OR (kind = 'refund' AND fee_amount = 0 AND net_amount = -gross_amount)
    OR (kind = 'reversal' AND net_amount = fee_amount - gross_amount)
);
ALTER TABLE settlement_items ADD CONSTRAINT settlement_items_reversal_named
    CHECK (kind <> 'reversal' OR payment_id IS NOT NULL);

ALTER TABLE settlement_batches
    ADD COLUMN reversed_amount bigint NOT NULL DEFAULT 0 CHECK (reversed_amount >= 0),
    ADD COLUMN fee_returned_amount bigint NOT NULL DEFAULT 0 CHECK (fee_returned_amount >= 0);

ALTER TABLE settlement_batches DROP CONSTRAINT settlement_batches_net_adds_up;
ALTER TABLE settlement_batches ADD CONSTRAINT settlement_batches_net_adds_up CHECK (
    net_amount = gross_amount - refunded_amount - fee_amount - reversed_amount
        + fee_returned_amount
);
