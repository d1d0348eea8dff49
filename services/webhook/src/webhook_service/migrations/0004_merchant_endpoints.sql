-- Outbound webhooks: merchants' endpoints, their signing secrets, one message per event and
-- endpoint (the per-endpoint queue the dispatcher works from), every attempt (the delivery
-- log) and the notices a merchant should see (an endpoint disabled after failing too long).
CREATE TABLE webhook_endpoints (
    id text PRIMARY KEY,
    merchant_id text NOT NULL,
    url text NOT NULL CHECK (length(url) <= 2048),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 255),
    event_types text[] NOT NULL CHECK (cardinality(event_types) > 0),
    enabled boolean NOT NULL DEFAULT true,
    disabled_reason text CHECK (disabled_reason IN ('disabled_by_merchant', 'failing')),
    disabled_at timestamptz,
    last_success_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT disabled_has_reason CHECK (enabled = (disabled_reason IS NULL))
);
CREATE INDEX webhook_endpoints_by_merchant ON webhook_endpoints (merchant_id, created_at, id);

-- A secret is sealed with AES-256-GCM under WEBHOOK_ENDPOINT_SECRETS_KEY (sealing
-- 'aes-256-gcm', the secret id as associated data); 'none' only where no key is configured.
CREATE TABLE webhook_endpoint_secrets (
    id text PRIMARY KEY,
    endpoint_id text NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    sealing text NOT NULL CHECK (sealing IN ('aes-256-gcm', 'none')),
    nonce bytea,
    sealed bytea NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz
);
CREATE INDEX webhook_endpoint_secrets_by_endpoint ON webhook_endpoint_secrets (endpoint_id);
CREATE UNIQUE INDEX one_current_secret_per_endpoint ON webhook_endpoint_secrets (endpoint_id)
    WHERE expires_at IS NULL;

CREATE TABLE webhook_messages (
    id text PRIMARY KEY,
    endpoint_id text NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id text NOT NULL,
    event_type text NOT NULL,
    payload bytea NOT NULL,
    state text NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'held')),
    attempts integer NOT NULL DEFAULT 0,
    -- the current series of tries (a redelivery starts a new one): its start bounds the horizon
    series_started_at timestamptz NOT NULL,
    series_attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    -- set while an attempt is in flight; an attempt whose process died is retried after it
    lease_until timestamptz,
    last_attempt_at timestamptz,
    delivered_at timestamptz,
    created_at timestamptz NOT NULL,
    UNIQUE (endpoint_id, event_id),
    CONSTRAINT pending_is_scheduled CHECK ((state = 'pending') = (next_attempt_at IS NOT NULL))
);
CREATE INDEX webhook_messages_due ON webhook_messages (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_messages_in_flight ON webhook_messages (endpoint_id)
    WHERE lease_until IS NOT NULL;
CREATE INDEX webhook_messages_by_endpoint ON webhook_messages (endpoint_id, created_at, id);

CREATE TABLE webhook_attempts (
    seq bigserial PRIMARY KEY,
    id text NOT NULL UNIQUE,
    message_id text NOT NULL REFERENCES webhook_messages (id) ON DELETE CASCADE,
    endpoint_id text NOT NULL,
    event_type text NOT NULL,
    number integer NOT NULL,
    started_at timestamptz NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('in_flight', 'succeeded', 'failed', 'abandoned')),
    http_status integer,
    latency_ms integer,
    error text,
    response_excerpt text CHECK (length(response_excerpt) <= 1024)
);
CREATE INDEX webhook_attempts_by_endpoint ON webhook_attempts (endpoint_id, seq);
CREATE INDEX webhook_attempts_by_message ON webhook_attempts (message_id, seq);

CREATE TABLE webhook_endpoint_notices (
    id text PRIMARY KEY,
    endpoint_id text NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    merchant_id text NOT NULL,
    type text NOT NULL,
    occurred_at timestamptz NOT NULL,
    detail text NOT NULL
);
CREATE INDEX webhook_endpoint_notices_by_endpoint
    ON webhook_endpoint_notices (endpoint_id, occurred_at);
