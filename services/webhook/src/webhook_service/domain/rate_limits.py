"""How much unauthenticated traffic one source may make us record, and who counts as a source.

Only requests that fail authentication are limited. An authentic PSP delivery is never refused
for its rate: the signature is checked first (an HMAC is cheaper than a Redis round trip), and
a valid one skips the limiter altogether, so neither a flood from the PSP's own addresses nor
an outage of the limiter can delay a real status report.
"""

from __future__ import annotations

import enum
import ipaddress
import math
from dataclasses import dataclass
from typing import Final

UNKNOWN_SOURCE: Final = "unknown"
# An IPv6 user is routinely given a whole /64: counting single addresses would let one host
# rotate through 2**64 of them.
_IPV6_SOURCE_PREFIX: Final = 64


@dataclass(frozen=True, slots=True)
class RateLimit:
    """``per_minute`` on average, with up to ``burst`` at once (a generic cell rate)."""

    per_minute: int
    burst: int

    def __post_init__(self) -> None:
        if self.per_minute < 1 or self.burst < 1:
            raise ValueError("a rate limit needs a positive rate and burst")

    @property
    def interval_microseconds(self) -> int:
        """The time one request uses up; ``burst`` of them may be spent ahead."""
        return max(1, 60_000_000 // self.per_minute)


class AdmissionState(enum.Enum):
    ADMITTED = "admitted"
    LIMITED = "limited"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class Admission:
    state: AdmissionState
    retry_after_seconds: float = 0.0

    @property
    def retry_after_header(self) -> str:
        """Whole seconds, rounded up and at least 1, as ``Retry-After`` wants them."""
        return str(max(1, math.ceil(self.retry_after_seconds)))


ADMITTED: Final = Admission(AdmissionState.ADMITTED)
UNAVAILABLE: Final = Admission(AdmissionState.UNAVAILABLE)


def source_of(address: str | None) -> str:
    """The bucket a peer address counts against: the address for IPv4, its /64 for IPv6."""
    if not address:
        return UNKNOWN_SOURCE
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return UNKNOWN_SOURCE
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, _IPV6_SOURCE_PREFIX), strict=False))
    return str(ip)
