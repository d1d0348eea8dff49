-- Quarantine: a row Kafka can never accept (an unknown topic, a record over the size limit, a
-- refused authorisation) is set aside with its error instead of stalling the relay. Later unsent
-- rows of the same topic and key wait behind it, so per-key order survives; every other key flows.
ALTER TABLE outbox
    ADD COLUMN quarantined_at   timestamptz,
    ADD COLUMN quarantine_error text;
-- The relay asks, for each candidate row, whether an earlier row of its key is quarantined.
CREATE INDEX outbox_quarantined ON outbox (topic, key, id) WHERE quarantined_at IS NOT NULL;
