-- Every inbound PSP webhook, whatever its fate: the raw body exactly as received, its headers
-- (secret-bearing ones redacted), the verdict and, for a refusal, the reason.
-- An accepted delivery also keeps the encoded event it produced, so an operator can publish it
-- again after the outbox row that first carried it has been pruned.
CREATE TABLE webhook_deliveries (
    id              text PRIMARY KEY,
    seq             bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    received_at     timestamptz NOT NULL,
    verdict         text NOT NULL CHECK (verdict IN ('accepted', 'duplicate', 'rejected')),
    reason          text,
    reason_detail   text,
    psp_event_id    text,
    psp_event_type  text,
    payment_id      text,
    refund_id       text,
    status          text,
    amount          bigint,
    currency        text,
    psp_reference   text,
    failure_code    text,
    signed_at       timestamptz,
    event_id_derived boolean,
    request_id      text NOT NULL,
    headers         jsonb NOT NULL,
    body            bytea,
    body_size       integer,
    event_id        text,
    event_type      text,
    event_value     bytea,
    CONSTRAINT rejected_has_reason CHECK ((verdict = 'rejected') = (reason IS NOT NULL)),
    CONSTRAINT verified_has_event_facts CHECK (
        verdict = 'rejected'
        OR (psp_event_id IS NOT NULL AND psp_event_type IS NOT NULL AND payment_id IS NOT NULL
            AND status IS NOT NULL AND event_id_derived IS NOT NULL AND signed_at IS NOT NULL
            AND body IS NOT NULL)
    ),
    CONSTRAINT only_accepted_emits CHECK (
        (verdict = 'accepted')
        = (event_id IS NOT NULL AND event_type IS NOT NULL AND event_value IS NOT NULL)
    )
);

-- The replay guard: at most one accepted delivery per PSP event id. Concurrent duplicates wait
-- on this index for the first writer's commit, then insert nothing.
CREATE UNIQUE INDEX webhook_deliveries_one_accepted_per_event
    ON webhook_deliveries (psp_event_id) WHERE verdict = 'accepted';

CREATE INDEX webhook_deliveries_by_event ON webhook_deliveries (psp_event_id, seq);
CREATE INDEX webhook_deliveries_by_payment ON webhook_deliveries (payment_id, seq);
CREATE INDEX webhook_deliveries_by_verdict ON webhook_deliveries (verdict, seq);
CREATE INDEX webhook_deliveries_by_received_at ON webhook_deliveries (received_at);
