"""Orders the entry points give the handlers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from webhook_service.domain.deliveries import DeliveryFilters


@dataclass(frozen=True, slots=True)
class ReceiveWebhook:
    """A delivery as it came off the wire.

    ``raw_body`` is exactly the bytes received (the signature covers them); when the body was
    over the size limit it was not read, ``body_too_large`` is set and ``raw_body`` is empty.
    """

    raw_body: bytes = field(repr=False)
    signature_header: str | None
    headers: Sequence[tuple[str, str]] = field(repr=False)
    request_id: str
    correlation_id: str
    body_too_large: bool = False
    declared_size: int | None = None
    source_address: str | None = None


@dataclass(frozen=True, slots=True)
class ListDeliveries:
    filters: DeliveryFilters
    limit: int
    after_seq: int | None = None


@dataclass(frozen=True, slots=True)
class ReemitEvent:
    delivery_id: str
    requested_by: str
