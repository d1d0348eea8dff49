-- Inbox: which events each consumer has already applied, written in the same transaction as the
-- effect, so a redelivered event changes nothing.
CREATE TABLE inbox (
    consumer     text NOT NULL,
    event_id     text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
