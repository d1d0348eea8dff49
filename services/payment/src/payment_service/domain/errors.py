"""Domain errors: each a type, so the HTTP layer and the workers can map them one by one."""


class DomainError(Exception):
    code = "domain_error"


class IllegalTransition(DomainError):
    code = "illegal_transition"

    def __init__(self, entity: str, current: str, target: str) -> None:
        super().__init__(f"{entity} cannot go from {current} to {target}")
        self.current = current
        self.target = target


class PaymentNotRefundable(DomainError):
    code = "payment_not_refundable"


class RefundExceedsCaptured(DomainError):
    code = "refund_exceeds_captured_amount"


class PaymentNotFound(DomainError):
    code = "payment_not_found"


class PspContradiction(DomainError):
    """The PSP's own record says something the platform cannot follow by itself (it charged a
    payment that was refunded meanwhile, say, or recorded another amount): kept for people."""

    code = "psp_contradiction"
