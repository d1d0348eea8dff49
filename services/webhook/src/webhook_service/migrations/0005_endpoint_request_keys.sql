-- Idempotency-Key of the endpoints API's creating requests (register, rotate a secret): a
-- repeated request with the same key and body gets the first answer again, secret included
-- (read back from its sealed row while it is in force), instead of a second endpoint.
CREATE TABLE webhook_endpoint_requests (
    merchant_id text NOT NULL,
    idempotency_key text NOT NULL,
    fingerprint text NOT NULL,
    endpoint_id text NOT NULL,
    secret_id text NOT NULL,
    -- a rotation's answer: until when the secret it replaced keeps signing
    previous_secret_expires_at timestamptz,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (merchant_id, idempotency_key)
);
