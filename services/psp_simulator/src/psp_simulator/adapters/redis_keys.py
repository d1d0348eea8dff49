"""Every Redis key the simulator uses, in one place, all under one prefix.

The prefix lets several simulators (or test runs) share one Redis without seeing each other.
"""

import re
from dataclasses import dataclass
from typing import Final

_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
DELIVERIES_DUE: Final = "deliveries:due"


@dataclass(frozen=True, slots=True)
class KeySpace:
    prefix: str

    def __post_init__(self) -> None:
        if not _PREFIX.fullmatch(self.prefix):
            raise ValueError(f"key prefix {self.prefix!r} must be a short plain token")

    def charge(self, charge_id: str) -> str:
        return f"{self.prefix}:charge:{charge_id}"

    def refund(self, refund_id: str) -> str:
        return f"{self.prefix}:refund:{refund_id}"

    def idempotency(self, scope: str, key: str) -> str:
        return f"{self.prefix}:idempotency:{scope}:{key}"

    def charges_by_reference(self, reference: str) -> str:
        return f"{self.prefix}:charges-by-reference:{reference}"

    def payout(self, payout_id: str) -> str:
        return f"{self.prefix}:payout:{payout_id}"

    def payouts_by_batch(self, batch_id: str) -> str:
        return f"{self.prefix}:payouts-by-batch:{batch_id}"

    def payouts_on(self, day: str) -> str:
        """Sorted set: the ids of the payouts the bank received that UTC day, scored by when."""
        return f"{self.prefix}:payouts-on:{day}"

    def settled_on(self, day: str) -> str:
        """Sorted set: `capture:<charge id>` and `refund:<refund id>` scored by settlement time."""
        return f"{self.prefix}:settled:{day}"

    def faults(self) -> str:
        return f"{self.prefix}:faults"

    def delivery(self, delivery_id: str) -> str:
        return f"{self.prefix}:delivery:{delivery_id}"

    def delivery_attempts(self, delivery_id: str) -> str:
        return f"{self.prefix}:delivery-attempts:{delivery_id}"

    def deliveries_due(self) -> str:
        """Sorted set: delivery id scored by when it may next be claimed."""
        return f"{self.prefix}:{DELIVERIES_DUE}"

    def deliveries_queued(self) -> str:
        """Pub/sub channel (not a key): a delivery's id, published as it is queued."""
        return f"{self.prefix}:deliveries:queued"

    def deliveries_dead(self) -> str:
        """Sorted set: deliveries given up on, scored by when."""
        return f"{self.prefix}:deliveries:dead"

    def deliveries_by_reference(self, payment_reference: str) -> str:
        return f"{self.prefix}:deliveries-by-reference:{payment_reference}"
