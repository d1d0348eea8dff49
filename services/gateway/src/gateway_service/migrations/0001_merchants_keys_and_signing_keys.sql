-- Merchants, their API keys (hashes only) and the gateway's token signing keys.

CREATE TABLE merchants (
    id          text PRIMARY KEY CHECK (id ~ '^MER_[A-Za-z0-9]{8,64}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    client_id   text NOT NULL UNIQUE CHECK (client_id ~ '^ci_[A-Za-z0-9]{16,64}$'),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A merchant holds several keys at once, so a secret can be rotated without downtime.
-- Only the SHA-256 of a secret is kept; `prefix` lets a person tell keys apart.
CREATE TABLE api_keys (
    id            text PRIMARY KEY CHECK (id ~ '^key_[A-Za-z0-9]{8,64}$'),
    merchant_id   text NOT NULL REFERENCES merchants (id),
    prefix        text NOT NULL,
    secret_sha256 bytea NOT NULL UNIQUE CHECK (length(secret_sha256) = 32),
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_keys_by_merchant ON api_keys (merchant_id, created_at);

-- Private keys are stored encrypted (AES-256-GCM, the kid as associated data) with the key
-- encryption key from configuration; the database alone never holds a usable signing key.
-- Exactly one key signs (retired_at IS NULL); a retired key stays published until every token
-- it signed has expired (published_until).
CREATE TABLE signing_keys (
    kid                   text PRIMARY KEY CHECK (length(kid) BETWEEN 1 AND 100),
    public_key_pem        text NOT NULL,
    encrypted_private_key bytea NOT NULL,
    nonce                 bytea NOT NULL CHECK (length(nonce) = 12),
    created_at            timestamptz NOT NULL DEFAULT now(),
    retired_at            timestamptz,
    published_until       timestamptz,
    CHECK ((retired_at IS NULL) = (published_until IS NULL))
);
CREATE UNIQUE INDEX one_signing_key_signs ON signing_keys ((true)) WHERE retired_at IS NULL;
