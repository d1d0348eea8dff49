-- Nothing is paid that the ledger does not hold: a batch's first payout waits until the ledger
-- has posted its closing (escrow to payable). The ledger refuses a closing escrow does not hold
-- (it goes to the ledger's DLQ and posts nothing); paying such a batch would send money out
-- with no record, and the ledger would refuse its batch_paid too.
--
-- ledger_moved_at: when the ledger posted the batch's escrow -> payable move, recorded by the
-- itemizer from the ledger's announcement (ledger.transaction_posted of kind settlement).
ALTER TABLE settlement_batches ADD COLUMN ledger_moved_at timestamptz;

-- A batch gets a payout attempt only once the ledger moved it. Retries (attempt >= 2) follow a
-- first attempt, so they are covered too; their own ledger posting cannot be refused.
-- NOT VALID: batches paid out before this rule have attempts and no ledger_moved_at; the
-- database migrates with them in it, and every new or updated row is checked. Such a batch
-- still submitted or failed is refused its next change, so finish in-flight payouts first.
ALTER TABLE settlement_batches ADD CONSTRAINT settlement_batches_paid_out_after_the_ledger
    CHECK (attempt = 0 OR ledger_moved_at IS NOT NULL) NOT VALID;

-- The janitor's pick (closed, moved by the ledger, no attempt yet) and its warnings about
-- batches still waiting for the ledger both read closed batches without an attempt.
CREATE INDEX settlement_batches_closed_without_payout ON settlement_batches (updated_at)
    WHERE status = 'closed' AND attempt = 0;
