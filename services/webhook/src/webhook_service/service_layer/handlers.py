"""The use cases, as plain functions over a unit of work.

Receiving a webhook is decided in this order, each step only reached by passing the one before:
size limit, signature and timestamp (over the raw bytes), parsing and normalising, then the
replay guard. Every authentic delivery is stored; only the first accepted delivery of an event
id writes an event, in the same transaction as its row. A request that fails authentication is
stored as a bounded record, and only while its source is within its rate limit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from payevents import Envelope, InvalidEvent, decode, encode, new_event
from paykit.logging import get_logger
from webhook_service.domain.deliveries import (
    Arrival,
    Delivery,
    DeliveryPage,
    EmittedEvent,
    Verdict,
    new_delivery_id,
    recordable_headers,
)
from webhook_service.domain.errors import (
    DeliveryNotFound,
    DeliveryNotReemittable,
    InvalidWebhookBody,
    PayloadTooLarge,
    RateLimited,
    SignatureRejected,
    WebhookRejected,
)
from webhook_service.domain.notifications import parse_notification
from webhook_service.domain.payout_notifications import Notification
from webhook_service.domain.rate_limits import AdmissionState, source_of
from webhook_service.domain.signatures import SignaturePolicy
from webhook_service.service_layer.commands import ListDeliveries, ReceiveWebhook, ReemitEvent
from webhook_service.service_layer.ports import ReplayCache, SourceRateLimiter, UnitOfWork

EVENT_SOURCE: Final = "webhook"

Clock = Callable[[], datetime]
# Reads a verified body of one kind (payment and refund reports, or payout reports).
NotificationParser = Callable[..., Notification]

_log = get_logger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class IntakeRules:
    """The limits and the trust a delivery must satisfy before it can change anything."""

    signatures: SignaturePolicy
    max_body_bytes: int
    max_json_depth: int

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1 or self.max_json_depth < 1:
            raise ValueError("body size and JSON depth limits must be positive")


@dataclass(frozen=True, slots=True)
class Receipt:
    verdict: Verdict
    delivery_id: str
    psp_event_id: str


@dataclass(frozen=True, slots=True)
class Reemission:
    delivery_id: str
    event_id: str
    queued: bool


def receive_webhook(
    command: ReceiveWebhook,
    *,
    uow: UnitOfWork,
    rules: IntakeRules,
    replay_cache: ReplayCache,
    rate_limiter: SourceRateLimiter,
    clock: Clock = utc_now,
    parse: NotificationParser = parse_notification,
) -> Receipt:
    """Accept, deduplicate or refuse one delivery; a refusal is raised once it is recorded.

    `parse` reads the body of the endpoint's kind; everything else is the same for every kind.
    """
    received_at = clock()
    arrival = Arrival(
        delivery_id=new_delivery_id(),
        received_at=received_at,
        request_id=command.request_id,
        headers=recordable_headers(command.headers),
        body=None if command.body_too_large else command.raw_body,
        body_size=command.declared_size if command.body_too_large else len(command.raw_body),
        source_address=command.source_address,
    )
    signed_at: datetime | None = None
    try:
        if command.body_too_large:
            raise PayloadTooLarge(f"The body is larger than {rules.max_body_bytes} bytes.")
        signed_at = rules.signatures.verify(
            command.raw_body, command.signature_header, now=received_at
        )
        notification = parse(command.raw_body, max_depth=rules.max_json_depth)
        envelope = _normalised_event(notification, received_at, command.correlation_id)
    except WebhookRejected as rejection:
        _record_refusal(uow, rate_limiter, arrival, rejection, signed_at)
        raise

    if replay_cache.seen(notification.psp_event_id):
        _store(uow, arrival.duplicate(signed_at, notification))
        return _receipt(Verdict.DUPLICATE, arrival, notification)

    emitted = EmittedEvent(envelope.id, envelope.type, encode(envelope)[0])
    with uow:
        first = uow.deliveries.add_accepted(arrival.accepted(signed_at, notification, emitted))
        if first:
            uow.events.add(envelope)
        else:
            uow.deliveries.add(arrival.duplicate(signed_at, notification))
        uow.commit()
    replay_cache.remember(notification.psp_event_id)
    return _receipt(Verdict.ACCEPTED if first else Verdict.DUPLICATE, arrival, notification)


def list_deliveries(query: ListDeliveries, *, uow: UnitOfWork) -> DeliveryPage:
    with uow:
        deliveries = uow.deliveries.list(
            query.filters, limit=query.limit + 1, after_seq=query.after_seq
        )
    page = deliveries[: query.limit]
    more = len(deliveries) > query.limit
    return DeliveryPage(page, str(page[-1].seq) if more and page else None)


def get_delivery(delivery_id: str, *, uow: UnitOfWork) -> Delivery:
    with uow:
        delivery = uow.deliveries.get(delivery_id)
    if delivery is None:
        raise DeliveryNotFound(delivery_id)
    return delivery


def reemit_event(command: ReemitEvent, *, uow: UnitOfWork) -> Reemission:
    """Queue an accepted delivery's event again, with its original id.

    Same id, so consumers that already applied it drop it through their inbox: repeating a
    re-emit is harmless, and one that finds the event still waiting to be sent does nothing.
    """
    with uow:
        delivery = uow.deliveries.get(command.delivery_id, for_update=True)
        if delivery is None:
            raise DeliveryNotFound(command.delivery_id)
        if delivery.event is None:
            raise DeliveryNotReemittable(command.delivery_id, delivery.verdict.value)
        queued = uow.events.requeue(decode(delivery.event.value))
        uow.commit()
    _log.info(
        "webhook_event_reemitted",
        delivery_id=delivery.id,
        event_id=delivery.event.id,
        queued=queued,
        requested_by=command.requested_by,
    )
    return Reemission(delivery.id, delivery.event.id, queued)


def _normalised_event(
    notification: Notification, received_at: datetime, correlation_id: str
) -> Envelope:
    try:
        return new_event(
            notification.event_type,
            notification.event_data(received_at),
            source=EVENT_SOURCE,
            subject=notification.subject,
            correlation_id=correlation_id,
        )
    except InvalidEvent as error:
        # The body rules mirror the event schema, so this is a safety net, not a path.
        raise InvalidWebhookBody(
            "The webhook body does not make a valid event.",
            errors=error.errors,
            log_detail=error.message,
        ) from None


def _record_refusal(
    uow: UnitOfWork,
    rate_limiter: SourceRateLimiter,
    arrival: Arrival,
    rejection: WebhookRejected,
    signed_at: datetime | None,
) -> None:
    """Store a refusal, if its sender may make us store it; raise ``RateLimited`` if not.

    A signed refusal (the PSP sent something we cannot use) is always stored. An unsigned one
    counts against its source's limit first: over it, the answer is 429 and nothing is kept;
    with the limiter unavailable, nothing is kept either (a log line only), so an outage of
    Redis never opens the database to a flood.
    """
    source = source_of(arrival.source_address)
    recorded = signed_at is not None
    if not recorded:
        admission = rate_limiter.admit(source)
        if admission.state is AdmissionState.LIMITED:
            _log.info("webhook_rate_limited", source=source, code=rejection.code)
            raise RateLimited(
                "Too many unauthenticated requests from this source; retry later.",
                retry_after=admission.retry_after_header,
            ) from None
        recorded = admission.state is AdmissionState.ADMITTED
    if recorded:
        _store(uow, arrival.rejected(rejection, signed_at))
        rejection.delivery_id = arrival.delivery_id
    # A bad signature is either a misconfigured rotation or someone probing: worth a look.
    log = _log.warning if isinstance(rejection, SignatureRejected) else _log.info
    log(
        "webhook_rejected",
        delivery_id=rejection.delivery_id,
        code=rejection.code,
        reason=rejection.reason,
        source=source,
        recorded=recorded,
    )


def _store(uow: UnitOfWork, delivery: Delivery) -> None:
    with uow:
        uow.deliveries.add(delivery)
        uow.commit()


def _receipt(verdict: Verdict, arrival: Arrival, notification: Notification) -> Receipt:
    _log.info(
        "webhook_received",
        verdict=verdict.value,
        delivery_id=arrival.delivery_id,
        psp_event_id=notification.psp_event_id,
        subject=notification.subject,
    )
    return Receipt(verdict, arrival.delivery_id, notification.psp_event_id)
