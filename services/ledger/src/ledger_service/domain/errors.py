"""Domain errors: each has a stable code the HTTP API and the consumers map to their answers."""

from __future__ import annotations


class LedgerError(Exception):
    code = "ledger_error"


class CannotPost(LedgerError):
    """The event cannot become a balanced posting (no retry can fix it): it goes to the DLQ."""

    code = "cannot_post"


class UnknownAccount(LedgerError):
    code = "unknown_account"


class InvalidPosting(LedgerError):
    """Entries that do not make a transaction: unbalanced, fewer than two, a non-positive amount."""

    code = "invalid_posting"


class TransactionNotFound(LedgerError):
    code = "transaction_not_found"


class AdjustmentConflict(LedgerError):
    """The adjustment's reference was used before for a different adjustment."""

    code = "adjustment_conflict"
