-- Settlement: items owed to (or by) merchants, the batches they are paid out in, each payout
-- attempt at the bank, and every batch state change. Money is bigint minor units. The database
-- enforces what must never go wrong: one item per ledger transaction, an item in at most one
-- batch (and only one of its own merchant and currency), legal batch transitions only, and a
-- batch paid at most once.

CREATE TABLE settlement_items (
    id                    text PRIMARY KEY,
    ledger_transaction_id text NOT NULL UNIQUE,
    source_event_id       text NOT NULL,
    merchant_id           text NOT NULL,
    currency              text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    kind                  text NOT NULL CHECK (kind IN ('payment', 'refund')),
    payment_id            text,
    refund_id             text,
    gross_amount          bigint NOT NULL CHECK (gross_amount > 0),
    fee_amount            bigint NOT NULL CHECK (fee_amount >= 0 AND fee_amount <= gross_amount),
    net_amount            bigint NOT NULL,
    effective_at          timestamptz NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT settlement_items_net_follows_kind CHECK (
        (kind = 'payment' AND net_amount = gross_amount - fee_amount)
        OR (kind = 'refund' AND fee_amount = 0 AND net_amount = -gross_amount)
    ),
    CONSTRAINT settlement_items_refund_named CHECK (kind <> 'refund' OR refund_id IS NOT NULL),
    UNIQUE (id, merchant_id, currency)
);
CREATE INDEX settlement_items_by_merchant ON settlement_items (merchant_id, currency, effective_at);

-- One row per cutoff that was run: a second run of the same cutoff finds it and changes nothing.
CREATE TABLE settlement_runs (
    cutoff          timestamptz PRIMARY KEY,
    eligible_before timestamptz NOT NULL,
    triggered_by    text NOT NULL CHECK (triggered_by IN ('schedule', 'admin')),
    ran_at          timestamptz NOT NULL DEFAULT now(),
    CHECK (eligible_before <= cutoff)
);

CREATE TABLE settlement_batch_states (status text PRIMARY KEY);
INSERT INTO settlement_batch_states VALUES ('open'), ('closed'), ('submitted'), ('paid'), ('failed');

CREATE TABLE settlement_batch_transitions (
    from_status text NOT NULL REFERENCES settlement_batch_states,
    to_status   text NOT NULL REFERENCES settlement_batch_states,
    PRIMARY KEY (from_status, to_status)
);
INSERT INTO settlement_batch_transitions VALUES
    ('open', 'closed'),
    ('closed', 'submitted'),
    ('submitted', 'paid'),
    ('submitted', 'failed'),
    ('failed', 'submitted');

CREATE TABLE settlement_batches (
    id                     text PRIMARY KEY,
    merchant_id            text NOT NULL,
    currency               text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status                 text NOT NULL DEFAULT 'open' REFERENCES settlement_batch_states,
    item_count             integer NOT NULL DEFAULT 0 CHECK (item_count >= 0),
    gross_amount           bigint NOT NULL DEFAULT 0 CHECK (gross_amount >= 0),
    refunded_amount        bigint NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0),
    fee_amount             bigint NOT NULL DEFAULT 0 CHECK (fee_amount >= 0),
    net_amount             bigint NOT NULL DEFAULT 0,
    period_start           timestamptz,
    period_end             timestamptz,
    opened_cutoff          timestamptz NOT NULL REFERENCES settlement_runs (cutoff),
    closed_cutoff          timestamptz REFERENCES settlement_runs (cutoff),
    carried_forward_reason text CHECK (carried_forward_reason IN ('below_minimum', 'not_positive')),
    attempt                integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT settlement_batches_net_adds_up
        CHECK (net_amount = gross_amount - refunded_amount - fee_amount),
    CONSTRAINT settlement_batches_closed_pays_something CHECK (
        status = 'open'
        OR (closed_cutoff IS NOT NULL AND net_amount > 0 AND period_end > period_start)
    ),
    UNIQUE (id, merchant_id, currency)
);
-- Items carried forward wait in the merchant's one open batch per currency.
CREATE UNIQUE INDEX settlement_batches_one_open
    ON settlement_batches (merchant_id, currency) WHERE status = 'open';
CREATE INDEX settlement_batches_by_merchant
    ON settlement_batches (merchant_id, created_at DESC, id DESC);
CREATE INDEX settlement_batches_by_closing ON settlement_batches (closed_cutoff);

CREATE TABLE settlement_batch_items (
    batch_id    text NOT NULL,
    item_id     text NOT NULL UNIQUE,
    merchant_id text NOT NULL,
    currency    text NOT NULL,
    added_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (batch_id, item_id),
    FOREIGN KEY (batch_id, merchant_id, currency)
        REFERENCES settlement_batches (id, merchant_id, currency),
    FOREIGN KEY (item_id, merchant_id, currency)
        REFERENCES settlement_items (id, merchant_id, currency)
);

CREATE TABLE settlement_batch_history (
    id          bigserial PRIMARY KEY,
    batch_id    text NOT NULL REFERENCES settlement_batches (id),
    from_status text,
    to_status   text NOT NULL REFERENCES settlement_batch_states,
    attempt     integer NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (from_status, to_status) REFERENCES settlement_batch_transitions
);
CREATE INDEX settlement_batch_history_by_batch ON settlement_batch_history (batch_id, id);

-- Checked before the row's own constraints, so an illegal change is named as such.
CREATE FUNCTION settlement_batch_transition_checked() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'open' THEN
            RAISE EXCEPTION 'a settlement batch starts open, not %', NEW.status
                USING ERRCODE = 'check_violation', CONSTRAINT = 'settlement_batch_transitions';
        END IF;
    ELSIF NEW.status IS DISTINCT FROM OLD.status AND NOT EXISTS (
        SELECT 1 FROM settlement_batch_transitions
        WHERE from_status = OLD.status AND to_status = NEW.status
    ) THEN
        RAISE EXCEPTION 'illegal settlement batch transition % -> % (batch %)',
            OLD.status, NEW.status, OLD.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'settlement_batch_transitions';
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
CREATE TRIGGER settlement_batches_transition_checked
    BEFORE INSERT OR UPDATE ON settlement_batches
    FOR EACH ROW EXECUTE FUNCTION settlement_batch_transition_checked();

CREATE FUNCTION settlement_batch_transition_recorded() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
        INSERT INTO settlement_batch_history (batch_id, from_status, to_status, attempt)
        VALUES (NEW.id, CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END, NEW.status, NEW.attempt);
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER settlement_batches_transition_recorded
    AFTER INSERT OR UPDATE OF status ON settlement_batches
    FOR EACH ROW EXECUTE FUNCTION settlement_batch_transition_recorded();

-- Items join only an open batch: a closed batch's totals are final.
CREATE FUNCTION settlement_batch_items_only_open() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM settlement_batches WHERE id = NEW.batch_id AND status = 'open')
    THEN
        RAISE EXCEPTION 'batch % is not open: it takes no more items', NEW.batch_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER settlement_batch_items_into_open_batch
    BEFORE INSERT ON settlement_batch_items
    FOR EACH ROW EXECUTE FUNCTION settlement_batch_items_only_open();

CREATE TABLE settlement_payouts (
    batch_id        text NOT NULL REFERENCES settlement_batches (id),
    attempt         integer NOT NULL CHECK (attempt >= 1),
    merchant_id     text NOT NULL,
    currency        text NOT NULL,
    amount          bigint NOT NULL CHECK (amount > 0),
    bank_account    text NOT NULL,
    status          text NOT NULL DEFAULT 'requested'
                        CHECK (status IN ('requested', 'pending', 'paid', 'failed')),
    bank_payout_id  text UNIQUE,
    failure_code    text,
    failure_message text,
    requested_at    timestamptz NOT NULL DEFAULT now(),
    submitted_at    timestamptz,
    completed_at    timestamptz,
    next_check_at   timestamptz NOT NULL DEFAULT now(),
    check_count     integer NOT NULL DEFAULT 0,
    PRIMARY KEY (batch_id, attempt),
    CHECK (status = 'requested' OR bank_payout_id IS NOT NULL OR status = 'failed'),
    CHECK (status NOT IN ('paid', 'failed') OR completed_at IS NOT NULL)
);
-- A batch is paid at most once, and has at most one attempt in flight.
CREATE UNIQUE INDEX settlement_payouts_paid_once ON settlement_payouts (batch_id)
    WHERE status = 'paid';
CREATE UNIQUE INDEX settlement_payouts_one_in_flight ON settlement_payouts (batch_id)
    WHERE status IN ('requested', 'pending');
CREATE INDEX settlement_payouts_due ON settlement_payouts (next_check_at)
    WHERE status IN ('requested', 'pending');
