"""The delivery log: every inbound webhook as received, with the verdict we reached.

A delivery is ``accepted`` (first time we see its event id; it produced an event), ``duplicate``
(authentic, but its event id was already accepted; it changed nothing) or ``rejected`` (refused,
with a reason). Rejections are kept too: a burst of them is how a broken secret rotation or an
attack shows up. What anyone on the internet can make us store is bounded, though: a request
that fails authentication leaves only a short record (see ``Arrival.rejected``).
"""

from __future__ import annotations

import enum
import hashlib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Final

from paykit.auth.webhook_signature import SIGNATURE_HEADER
from paykit.logging import REDACTED, is_secret_key
from webhook_service.domain.errors import WebhookRejected
from webhook_service.domain.payout_notifications import Notification


class Verdict(enum.StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


# Request plumbing that says nothing about the delivery; everything else is kept.
_UNINTERESTING_HEADERS: Final = frozenset({"connection", "keep-alive", "transfer-encoding"})

UNAUTHENTICATED_BODY_BYTES: Final = 1024
"""How much of an unauthenticated body is kept: enough to tell a PSP body from noise."""
UNAUTHENTICATED_HEADERS: Final = frozenset(
    {
        "content-type",
        "content-length",
        "user-agent",
        SIGNATURE_HEADER.lower(),
        "x-request-id",
        "x-correlation-id",
        "x-forwarded-for",
    }
)
"""The only headers kept from an unauthenticated request: none can carry a credential."""
UNAUTHENTICATED_HEADER_CHARS: Final = 256


def new_delivery_id() -> str:
    return f"dlv_{uuid.uuid4().hex}"


def recordable_headers(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Headers worth keeping, lower-cased, credentials redacted.

    The signature header is kept as sent: it is a MAC of this body, not a secret, and it is what
    an investigation of a refused delivery needs. ``Authorization``, cookies, API keys and the
    like are redacted by the kit's rule for secret-looking names.
    """
    kept: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        if key in _UNINTERESTING_HEADERS:
            continue
        shown = REDACTED if is_secret_key(key) else value
        kept[key] = f"{kept[key]}, {shown}" if key in kept else shown
    return kept


def body_digest(body: bytes) -> str:
    """SHA-256 of the exact bytes: matches a kept excerpt to what the sender says it sent."""
    return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True, slots=True)
class EmittedEvent:
    """The normalised event an accepted delivery produced, encoded as it went to the outbox."""

    id: str
    type: str
    value: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Delivery:
    id: str
    received_at: datetime
    verdict: Verdict
    request_id: str
    headers: Mapping[str, str]
    body: bytes | None = field(repr=False)
    body_size: int | None
    body_sha256: str | None = None
    source_address: str | None = None
    reason: str | None = None
    reason_detail: str | None = None
    signed_at: datetime | None = None
    notification: Notification | None = None
    event: EmittedEvent | None = None
    seq: int | None = None

    def __post_init__(self) -> None:
        if (self.verdict is Verdict.REJECTED) != (self.reason is not None):
            raise ValueError("a delivery has a reason exactly when it is rejected")
        if (self.verdict is Verdict.ACCEPTED) != (self.event is not None):
            raise ValueError("a delivery carries an event exactly when it is accepted")
        if self.verdict is not Verdict.REJECTED and (
            self.notification is None or self.signed_at is None or self.body is None
        ):
            raise ValueError("an authentic delivery needs its body, notification and signing time")

    @property
    def psp_event_id(self) -> str | None:
        return None if self.notification is None else self.notification.psp_event_id

    @property
    def body_truncated(self) -> bool:
        """True when ``body`` is only the start of what was received (or nothing of it)."""
        return self.body_size is not None and len(self.body or b"") < self.body_size


@dataclass(frozen=True, slots=True)
class Arrival:
    """What is known of a delivery before any verdict: when, from where and how it came in."""

    delivery_id: str
    received_at: datetime
    request_id: str
    headers: Mapping[str, str]
    body: bytes | None
    body_size: int | None
    source_address: str | None = None

    def accepted(
        self, signed_at: datetime, notification: Notification, event: EmittedEvent
    ) -> Delivery:
        return self._delivery(
            Verdict.ACCEPTED, signed_at=signed_at, notification=notification, event=event
        )

    def duplicate(self, signed_at: datetime, notification: Notification) -> Delivery:
        return self._delivery(Verdict.DUPLICATE, signed_at=signed_at, notification=notification)

    def rejected(self, rejection: WebhookRejected, signed_at: datetime | None) -> Delivery:
        """The refusal as it is kept: in full when signed, bounded when not.

        Without a verified signature (none, a wrong one, a stale one, a body too large to
        check) anyone could have sent it, so only its first kilobyte, its size and digest, a
        few harmless headers and where it came from are kept: never cookies or credentials,
        and never more than a couple of kilobytes per request.
        """
        rejected = self._delivery(
            Verdict.REJECTED,
            reason=rejection.code,
            reason_detail=rejection.log_detail,
            signed_at=signed_at,
        )
        if signed_at is not None:
            return rejected
        return replace(
            rejected,
            headers={
                name: value[:UNAUTHENTICATED_HEADER_CHARS]
                for name, value in self.headers.items()
                if name in UNAUTHENTICATED_HEADERS
            },
            body=None if self.body is None else self.body[:UNAUTHENTICATED_BODY_BYTES],
        )

    def _delivery(
        self,
        verdict: Verdict,
        *,
        reason: str | None = None,
        reason_detail: str | None = None,
        signed_at: datetime | None = None,
        notification: Notification | None = None,
        event: EmittedEvent | None = None,
    ) -> Delivery:
        return Delivery(
            id=self.delivery_id,
            received_at=self.received_at,
            verdict=verdict,
            request_id=self.request_id,
            headers=self.headers,
            body=self.body,
            body_size=self.body_size,
            body_sha256=None if self.body is None else body_digest(self.body),
            source_address=self.source_address,
            reason=reason,
            reason_detail=reason_detail,
            signed_at=signed_at,
            notification=notification,
            event=event,
        )


@dataclass(frozen=True, slots=True)
class DeliveryFilters:
    """What an operator can narrow the delivery log by; ``None`` means any."""

    verdict: Verdict | None = None
    reason: str | None = None
    psp_event_id: str | None = None
    payment_id: str | None = None
    received_from: datetime | None = None
    received_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeliveryPage:
    deliveries: list[Delivery]
    next_cursor: str | None
