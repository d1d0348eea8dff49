-- Payments, refunds and idempotency records. Money is bigint minor units with a currency; the
-- database itself refuses a refund total above the captured amount.
CREATE TABLE payments (
    id                    text PRIMARY KEY,
    merchant_id           text NOT NULL,
    amount                bigint NOT NULL CHECK (amount > 0),
    currency              text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    payment_method        text NOT NULL,
    status                text NOT NULL CHECK (status IN ('created', 'processing', 'succeeded',
                              'failed', 'canceled', 'partially_refunded', 'refunded')),
    description           text,
    metadata              jsonb NOT NULL DEFAULT '{}',
    refunded_amount       bigint NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0),
    pending_refund_amount bigint NOT NULL DEFAULT 0 CHECK (pending_refund_amount >= 0),
    psp_reference         text,
    failure_code          text,
    failure_message       text,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT refunds_within_amount CHECK (refunded_amount + pending_refund_amount <= amount)
);
CREATE INDEX payments_by_merchant ON payments (merchant_id, created_at DESC, id DESC);
CREATE INDEX payments_unsettled ON payments (status, updated_at)
    WHERE status IN ('created', 'processing');

CREATE TABLE refunds (
    id              text PRIMARY KEY,
    payment_id      text NOT NULL REFERENCES payments (id),
    merchant_id     text NOT NULL,
    amount          bigint NOT NULL CHECK (amount > 0),
    currency        text NOT NULL,
    status          text NOT NULL CHECK (status IN ('requested', 'succeeded', 'failed')),
    reason          text,
    psp_reference   text,
    failure_code    text,
    failure_message text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refunds_by_payment ON refunds (payment_id, created_at);
CREATE INDEX refunds_by_psp_reference ON refunds (psp_reference) WHERE psp_reference IS NOT NULL;

CREATE TABLE idempotency_keys (
    merchant_id     text NOT NULL,
    key             text NOT NULL,
    fingerprint     text NOT NULL,
    response_status integer,
    response_body   jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
