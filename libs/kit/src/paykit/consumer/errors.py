"""How a handler tells the runtime what went wrong, and the runtime's own failure types."""


class InvalidMessage(Exception):
    """No retry can fix this message (bad shape, impossible request): dead-letter it now."""


class RetryableError(Exception):
    """A transient failure (a provider timed out): retry through the tiers, then dead-letter."""


class NotYetApplicable(RetryableError):
    """The message may have overtaken what it depends on (a report about a payment whose
    creation is not committed yet): retry through the tiers, then dead-letter.

    Its dead letter never counts toward the DLQ limit: a burst of such messages says something
    about their sender, nothing about this consumer's health, and must not park it.
    """


class MalformedRecord(InvalidMessage):
    """The record itself cannot be read or routed: no value (a tombstone), a bad routing header."""


class TransactionAborted(Exception):
    """The handler returned but left its transaction aborted.

    That happens when a handler catches a database error without a savepoint of its own: the
    effect is gone, and COMMIT would silently roll back. The runtime treats it as that event's
    failure instead of counting the event as applied.
    """


class DatabaseUnavailable(Exception):
    """The connection to the database was lost or could not be had: hold, reconnect, redo."""


class ConsumerConfigError(ValueError):
    """A consumer's settings contradict the topic catalogue: refuse to start."""
