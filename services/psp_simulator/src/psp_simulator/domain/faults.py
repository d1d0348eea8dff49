"""Faults injected on purpose, so the platform can be tested against a provider having a bad day.

Faults act before a request does anything: a call refused with 500/503 created nothing.
"""

from dataclasses import dataclass
from enum import Enum
from typing import Final

MAX_LATENCY_MS: Final = 60_000
MAX_HANG_MS: Final = 120_000
MAX_HANG_CALLS: Final = 1000


@dataclass(frozen=True, slots=True)
class Faults:
    """``latency_ms`` delays every API call. With ``hang_ms``, charge and refund requests are
    held that long before they do anything, then carry on as if just arrived (a provider stuck
    on some requests while it answers others): only charges with ``hang_payment_method`` when
    it is set, and only the next ``hang_calls`` of them when that is set. ``silent`` sends no
    webhooks for the charges and refunds made while it is on: only a lookup reveals their
    outcome."""

    latency_ms: int = 0
    error_rate: float = 0.0
    down: bool = False
    silent: bool = False
    hang_ms: int = 0
    hang_calls: int = 0  # 0: every request that matches
    hang_payment_method: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.latency_ms <= MAX_LATENCY_MS:
            raise ValueError(f"latency_ms must lie between 0 and {MAX_LATENCY_MS}")
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError("error_rate is a fraction between 0 and 1")
        if not 0 <= self.hang_ms <= MAX_HANG_MS:
            raise ValueError(f"hang_ms must lie between 0 and {MAX_HANG_MS}")
        if not 0 <= self.hang_calls <= MAX_HANG_CALLS:
            raise ValueError(f"hang_calls must lie between 0 and {MAX_HANG_CALLS}")
        if (self.hang_calls or self.hang_payment_method) and not self.hang_ms:
            raise ValueError("hang_calls and hang_payment_method need hang_ms: how long to hang")

    def hangs(self, payment_method: str | None) -> bool:
        """Whether a charge (with its token) or a refund (None) is one to hang."""
        if not self.hang_ms:
            return False
        return self.hang_payment_method is None or payment_method == self.hang_payment_method

    @property
    def latency_seconds(self) -> float:
        return self.latency_ms / 1000

    @property
    def hang_seconds(self) -> float:
        return self.hang_ms / 1000


NO_FAULTS: Final = Faults()


class Verdict(Enum):
    SERVE = "serve"
    UNAVAILABLE = "unavailable"  # 503
    INTERNAL_ERROR = "internal_error"  # 500


def verdict(faults: Faults, *, error_roll: float, kind_roll: float) -> Verdict:
    """What happens to one call. Rolls are random numbers in [0, 1): the first decides whether
    an injected error hits, the second which of 500 or 503 it is."""
    if faults.down:
        return Verdict.UNAVAILABLE
    if error_roll < faults.error_rate:
        return Verdict.INTERNAL_ERROR if kind_roll < 0.5 else Verdict.UNAVAILABLE
    return Verdict.SERVE
