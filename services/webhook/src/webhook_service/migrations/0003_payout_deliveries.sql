-- The bank's payout webhooks share the delivery log: they name a settlement batch (and their
-- payout, in psp_reference) instead of a payment, so a verified row needs one or the other.
ALTER TABLE webhook_deliveries ADD COLUMN batch_id text;

ALTER TABLE webhook_deliveries DROP CONSTRAINT verified_has_event_facts;
ALTER TABLE webhook_deliveries ADD CONSTRAINT verified_has_event_facts CHECK (
    verdict = 'rejected'
    OR (psp_event_id IS NOT NULL AND psp_event_type IS NOT NULL
        AND (payment_id IS NOT NULL OR batch_id IS NOT NULL)
        AND status IS NOT NULL AND event_id_derived IS NOT NULL AND signed_at IS NOT NULL
        AND body IS NOT NULL)
);

CREATE INDEX webhook_deliveries_by_batch ON webhook_deliveries (batch_id, seq)
    WHERE batch_id IS NOT NULL;
