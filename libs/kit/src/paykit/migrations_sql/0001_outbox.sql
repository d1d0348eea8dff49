-- Transactional outbox: rows written in the same transaction as the state change they announce,
-- published to Kafka by the relay in id order, and marked sent afterwards.
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    event_id    text NOT NULL UNIQUE,
    topic       text NOT NULL,
    key         bytea NOT NULL,
    value       bytea NOT NULL,
    headers     jsonb NOT NULL DEFAULT '[]',
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz
);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;
CREATE INDEX outbox_sent_at ON outbox (sent_at) WHERE sent_at IS NOT NULL;
