"""Why a request to the simulated provider is refused; the HTTP layer maps each type to a code."""


class SimulatorError(Exception):
    """Base of every refusal the provider explains to its caller."""


class UnknownPaymentMethod(SimulatorError):
    def __init__(self, payment_method: str) -> None:
        super().__init__(f"payment method {payment_method!r} is not a known test token")
        self.payment_method = payment_method


class IdempotencyKeyReused(SimulatorError):
    """The key already names a different request: replaying it would hide a caller's bug."""


class ChargeNotFound(SimulatorError):
    def __init__(self, charge_id: str) -> None:
        super().__init__(f"no charge {charge_id!r}")
        self.charge_id = charge_id


class RefundNotFound(SimulatorError):
    def __init__(self, refund_id: str) -> None:
        super().__init__(f"no refund {refund_id!r}")
        self.refund_id = refund_id


class RefundRefused(SimulatorError):
    """A refund the charge cannot take."""


class RefundOfUnknownCharge(RefundRefused):
    def __init__(self, charge_id: str) -> None:
        super().__init__(f"no charge {charge_id!r} to refund")
        self.charge_id = charge_id


class ChargeNotRefundable(RefundRefused):
    def __init__(self, charge_id: str, status: str) -> None:
        super().__init__(f"charge {charge_id!r} is {status}; only succeeded charges are refunded")
        self.charge_id = charge_id
        self.status = status


class RefundExceedsCharge(RefundRefused):
    def __init__(self, charge_id: str, requested: int, refundable: int) -> None:
        super().__init__(
            f"refund of {requested} exceeds the {refundable} still refundable on {charge_id!r}"
        )
        self.charge_id = charge_id
        self.requested = requested
        self.refundable = refundable


class ConcurrentUpdate(SimulatorError):
    """Too many simultaneous writers to one charge; the caller may simply try again."""


class PayoutIdempotencyKeyReused(IdempotencyKeyReused):
    """Answered 409, as the payouts API documents (charges and refunds keep their 422)."""


class PayoutNotFound(SimulatorError):
    def __init__(self, payout_id: str) -> None:
        super().__init__(f"no payout {payout_id!r}")
        self.payout_id = payout_id


class BankUnavailable(SimulatorError):
    """The bank did not take the payout: nothing was recorded, the caller retries."""
