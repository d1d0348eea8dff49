"""When a webhook that was not accepted is tried again, and when the provider gives up on it.

Like real providers, every answer other than 2xx (and every network error) counts as "not
delivered": a receiver that answers 4xx to something it could not yet process gets it again.
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from psp_simulator.domain.webhooks import WebhookTarget

FACTOR: Final = 2
# Past this many doublings the cap has long since won; stops the power overflowing a float.
_MAX_EXPONENT: Final = 64


class DeliveryState(StrEnum):
    SCHEDULED = "scheduled"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What one POST of a webhook got back: an HTTP status, or the error that stopped it."""

    status_code: int | None = None
    error: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff (base, factor 2, capped) with jitter, within a horizon.

    `jitter` is the fraction of each delay that is random: 0.2 means a delay lands anywhere in
    [80 %, 100 %] of the nominal one, so receivers recovering from an outage are not hit by every
    retry at once, and the cap stays an upper bound. The horizon counts from when the webhook
    was first due; a retry that would fall after it is not made and the delivery is dead.
    """

    base_seconds: float
    cap_seconds: float
    horizon_seconds: float
    jitter: float = 0.0

    def __post_init__(self) -> None:
        if self.base_seconds <= 0:
            raise ValueError("the backoff base must be positive")
        if self.cap_seconds < self.base_seconds:
            raise ValueError("the backoff cap must be at least the base")
        if self.horizon_seconds < 0:
            raise ValueError("the retry horizon must not be negative")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter is a fraction between 0 and 1")

    def nominal_delay(self, failed_attempts: int) -> float:
        """The wait after the n-th failed attempt, before jitter: base, 2*base, 4*base, ..., cap."""
        if failed_attempts < 1:
            raise ValueError("a delay follows at least one failed attempt")
        exponent = min(failed_attempts - 1, _MAX_EXPONENT)
        return float(min(self.cap_seconds, self.base_seconds * FACTOR**exponent))

    def delay(self, failed_attempts: int, roll: float) -> float:
        """`roll` is a random number in [0, 1); 0 gives the nominal delay."""
        if not 0 <= roll <= 1:
            raise ValueError("roll must lie in [0, 1]")
        return self.nominal_delay(failed_attempts) * (1 - self.jitter * roll)

    def next_attempt_at(
        self, *, failed_attempts: int, first_due_at: float, now: float, roll: float
    ) -> float | None:
        """When to try again, or None when that would be past the horizon."""
        at = now + self.delay(failed_attempts, roll)
        return None if at > first_due_at + self.horizon_seconds else at


@dataclass(frozen=True, slots=True)
class AttemptLogEntry:
    at: float
    status_code: int | None
    error: str | None


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """A delivery as the provider's own log shows it, for operators and tests."""

    id: str
    event_id: str
    event_type: str
    payment_reference: str
    refund_reference: str | None
    state: DeliveryState
    attempts: int
    first_due_at: float
    next_attempt_at: float | None
    delivered_at: float | None
    last_status_code: int | None
    last_error: str | None
    body: bytes
    attempt_log: tuple[AttemptLogEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery one sender holds: no other sender takes it while the claim's lease runs."""

    id: str
    event_id: str
    body: bytes
    attempts: int
    first_due_at: float
    claim_token: str
    target: WebhookTarget = WebhookTarget.PAYMENTS
