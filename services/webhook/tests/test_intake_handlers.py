"""The intake rules through the real handlers, with in-memory adapters: no database needed."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

import pytest

from payevents import Envelope
from paykit.auth.webhook_signature import sign
from paykit.settings import Secret
from webhook_service.domain.deliveries import Delivery, DeliveryFilters, Verdict
from webhook_service.domain.errors import PayloadTooLarge, SignatureRejected, UnknownStatus
from webhook_service.domain.signatures import SignaturePolicy
from webhook_service.service_layer.commands import ReceiveWebhook
from webhook_service.service_layer.handlers import IntakeRules, receive_webhook

NOW = datetime(2030, 5, 1, 12, 0, 0, tzinfo=UTC)
SECRET = "whsec_unit_0123456789abcdef0123456789"
RULES = IntakeRules(SignaturePolicy((Secret(SECRET),), 300), max_body_bytes=4096, max_json_depth=8)


class InMemoryDeliveries:
    def __init__(self) -> None:
        self.rows: list[Delivery] = []

    def add_accepted(self, delivery: Delivery) -> bool:
        if any(
            row.verdict is Verdict.ACCEPTED and row.psp_event_id == delivery.psp_event_id
            for row in self.rows
        ):
            return False
        self.rows.append(delivery)
        return True

    def add(self, delivery: Delivery) -> None:
        self.rows.append(delivery)

    def get(self, delivery_id: str, *, for_update: bool = False) -> Delivery | None:
        return next((row for row in self.rows if row.id == delivery_id), None)

    def list(
        self, filters: DeliveryFilters, *, limit: int, after_seq: int | None
    ) -> list[Delivery]:
        return self.rows[::-1][:limit]


class InMemoryOutbox:
    def __init__(self) -> None:
        self.events: list[Envelope] = []

    def add(self, envelope: Envelope) -> None:
        self.events.append(envelope)

    def requeue(self, envelope: Envelope) -> bool:
        self.events.append(envelope)
        return True


@dataclass
class InMemoryUnitOfWork:
    """Keeps what a block stored only when the block commits."""

    committed_deliveries: InMemoryDeliveries = field(default_factory=InMemoryDeliveries)
    committed_events: InMemoryOutbox = field(default_factory=InMemoryOutbox)

    def __enter__(self) -> Self:
        self.deliveries = InMemoryDeliveries()
        self.deliveries.rows = list(self.committed_deliveries.rows)
        self.events = InMemoryOutbox()
        self.events.events = list(self.committed_events.events)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None

    def commit(self) -> None:
        self.committed_deliveries = self.deliveries
        self.committed_events = self.events


@dataclass
class RememberingCache:
    known: set[str] = field(default_factory=set)

    def seen(self, psp_event_id: str) -> bool:
        return psp_event_id in self.known

    def remember(self, psp_event_id: str) -> None:
        self.known.add(psp_event_id)


def receive(
    raw: bytes,
    uow: InMemoryUnitOfWork,
    cache: RememberingCache | None = None,
    *,
    signed_at: datetime = NOW,
    too_large: bool = False,
) -> Verdict:
    command = ReceiveWebhook(
        raw_body=raw,
        signature_header=sign(raw, SECRET, int(signed_at.timestamp())),
        headers=[],
        request_id="req_1",
        correlation_id="cor_1",
        body_too_large=too_large,
        declared_size=len(raw),
    )
    receipt = receive_webhook(
        command, uow=uow, rules=RULES, replay_cache=cache or RememberingCache(), clock=lambda: NOW
    )
    return receipt.verdict


def body(event_id: str = "evt_1", status: str = "SUCCESS") -> bytes:
    return json.dumps({"id": event_id, "paymentRef": "PAY_1", "status": status}).encode()


def test_the_first_delivery_of_an_event_is_accepted_with_one_event() -> None:
    uow = InMemoryUnitOfWork()

    assert receive(body(), uow) is Verdict.ACCEPTED
    assert receive(body(), uow) is Verdict.DUPLICATE

    assert [d.verdict for d in uow.committed_deliveries.rows] == [
        Verdict.ACCEPTED,
        Verdict.DUPLICATE,
    ]
    (event,) = uow.committed_events.events
    assert event.correlation_id == "cor_1"
    assert event.data["received_at"] == "2030-05-01T12:00:00.000000Z"
    assert uow.committed_deliveries.rows[0].event is not None
    assert uow.committed_deliveries.rows[0].event.id == event.id


def test_a_replay_cache_hit_skips_the_accept_attempt() -> None:
    uow = InMemoryUnitOfWork()
    cache = RememberingCache({"evt_1"})

    assert receive(body(), uow, cache) is Verdict.DUPLICATE
    assert uow.committed_events.events == []


def test_an_accepted_event_id_is_remembered_after_commit() -> None:
    cache = RememberingCache()

    receive(body("evt_7"), InMemoryUnitOfWork(), cache)

    assert cache.known == {"evt_7"}


def test_a_refusal_is_stored_then_raised_with_the_delivery_id() -> None:
    uow = InMemoryUnitOfWork()

    with pytest.raises(UnknownStatus) as refused:
        receive(body(status="CHARGEBACK"), uow)

    (stored,) = uow.committed_deliveries.rows
    assert refused.value.delivery_id == stored.id
    assert (stored.verdict, stored.reason) == (Verdict.REJECTED, "unknown_status")
    assert stored.signed_at == NOW
    assert uow.committed_events.events == []


def test_a_stale_signature_is_refused_before_the_body_is_read() -> None:
    uow = InMemoryUnitOfWork()

    with pytest.raises(SignatureRejected) as refused:
        receive(b"not json at all", uow, signed_at=datetime(2030, 5, 1, 11, 0, tzinfo=UTC))

    assert refused.value.reason == "timestamp_out_of_tolerance"
    assert uow.committed_deliveries.rows[0].signed_at is None


def test_an_oversized_body_is_refused_and_not_kept() -> None:
    uow = InMemoryUnitOfWork()

    with pytest.raises(PayloadTooLarge):
        receive(b"", uow, too_large=True)

    assert uow.committed_deliveries.rows[0].body is None
