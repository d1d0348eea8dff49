"""What a use case can refuse an event for; the consumers decide how each is routed."""


class UnknownPayment(Exception):
    """An event names a payment this service does not have (yet)."""


class UnknownRefund(Exception):
    """An event names a refund this service does not have (yet)."""


class RefundNotAcknowledged(Exception):
    """A report about a refund whose PSP id the charger has not committed yet: a race, retried."""
