-- The PSP's record decides: every payment and refund whose outcome is not settled carries the
-- time of its next check at the PSP (with back-off), and every status report is kept with its
-- verdict and, when it changed nothing, the reason.
ALTER TABLE payments
    ADD COLUMN next_check_at  timestamptz,
    ADD COLUMN check_attempts integer NOT NULL DEFAULT 0 CHECK (check_attempts >= 0);
ALTER TABLE refunds
    ADD COLUMN next_check_at  timestamptz,
    ADD COLUMN check_attempts integer NOT NULL DEFAULT 0 CHECK (check_attempts >= 0);

-- What the janitor used to find by status and age is due at once.
UPDATE payments SET next_check_at = updated_at WHERE status IN ('created', 'processing');
UPDATE refunds SET next_check_at = updated_at WHERE status = 'requested';

CREATE INDEX payments_due_for_check ON payments (next_check_at) WHERE next_check_at IS NOT NULL;
CREATE INDEX refunds_due_for_check ON refunds (next_check_at) WHERE next_check_at IS NOT NULL;
DROP INDEX payments_unsettled;

-- Refunds of a payment are listed a page at a time, by (created_at, id).
CREATE INDEX refunds_by_payment_page ON refunds (payment_id, created_at, id);
DROP INDEX refunds_by_payment;

CREATE TABLE psp_reports (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source        text NOT NULL CHECK (source IN ('webhook', 'psp_record')),
    psp_event_id  text,
    payment_id    text NOT NULL REFERENCES payments (id),
    refund_id     text REFERENCES refunds (id),
    status        text NOT NULL CHECK (status IN ('processing', 'succeeded', 'failed', 'canceled')),
    amount        bigint,
    currency      text,
    psp_reference text,
    failure_code  text,
    verdict       text NOT NULL CHECK (verdict IN ('applied', 'no_change', 'unconfirmed',
                      'contradicted')),
    reason        text,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((verdict IN ('applied', 'no_change')) = (reason IS NULL))
);
CREATE INDEX psp_reports_by_payment ON psp_reports (payment_id, id DESC);
