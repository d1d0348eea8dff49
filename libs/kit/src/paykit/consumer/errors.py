"""How a handler tells the runtime what went wrong, and what stops a consumer."""


class InvalidMessage(Exception):
    """No retry can fix this message (bad shape, impossible request): dead-letter it now."""


class RetryableError(Exception):
    """A transient failure (a provider timed out): retry through the tiers, then dead-letter."""


class DlqLimitExceeded(Exception):
    """Most recent messages were dead-lettered: stop rather than dead-letter everything.

    The offsets of the batch that tripped the limit are not committed, so the messages are
    consumed again once whatever broke them (usually a bad deploy) is fixed.
    """
