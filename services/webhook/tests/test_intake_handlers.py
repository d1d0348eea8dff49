"""The intake rules through the real handlers, with in-memory adapters: no database needed."""

from __future__ import annotations

import hashlib
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
from webhook_service.domain.errors import (
    PayloadTooLarge,
    RateLimited,
    SignatureRejected,
    UnknownStatus,
)
from webhook_service.domain.rate_limits import (
    ADMITTED,
    UNAVAILABLE,
    Admission,
    AdmissionState,
    source_of,
)
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

    def remove_rejected(self, received_before: datetime, *, limit: int) -> int:
        old = [
            row
            for row in self.rows
            if row.verdict is Verdict.REJECTED and row.received_at < received_before
        ][:limit]
        self.rows = [row for row in self.rows if row not in old]
        return len(old)


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


@dataclass
class ScriptedLimiter:
    """Answers every request with one admission and remembers who asked."""

    answer: Admission = ADMITTED
    asked: list[str] = field(default_factory=list)

    def admit(self, source: str) -> Admission:
        self.asked.append(source)
        return self.answer


def receive(
    raw: bytes,
    uow: InMemoryUnitOfWork,
    cache: RememberingCache | None = None,
    *,
    signed_at: datetime = NOW,
    too_large: bool = False,
    signature: str | None = None,
    headers: list[tuple[str, str]] | None = None,
    limiter: ScriptedLimiter | None = None,
) -> Verdict:
    command = ReceiveWebhook(
        raw_body=raw,
        signature_header=signature or sign(raw, SECRET, int(signed_at.timestamp())),
        headers=headers or [],
        request_id="req_1",
        correlation_id="cor_1",
        body_too_large=too_large,
        declared_size=len(raw),
        source_address="203.0.113.7",
    )
    receipt = receive_webhook(
        command,
        uow=uow,
        rules=RULES,
        replay_cache=cache or RememberingCache(),
        rate_limiter=limiter or ScriptedLimiter(),
        clock=lambda: NOW,
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


FORGED = "t=1903003200,v1=" + "0" * 64


def test_an_unauthenticated_request_leaves_only_a_bounded_record() -> None:
    uow = InMemoryUnitOfWork()
    raw = b'{"paymentRef": "PAY_1", "junk": "' + b"x" * 5000 + b'"}'
    sent_headers = [
        ("Content-Type", "application/json"),
        ("Psp-Signature", FORGED),
        ("User-Agent", "curl/8" + "." * 1000),
        ("Cookie", "session=abc"),
        ("Authorization", "Bearer abc"),
        ("X-Anything", "whatever the sender likes"),
    ]

    with pytest.raises(SignatureRejected) as refused:
        receive(raw, uow, signature=FORGED, headers=sent_headers)

    (stored,) = uow.committed_deliveries.rows
    assert refused.value.delivery_id == stored.id
    assert stored.body == raw[:1024]
    assert (stored.body_size, stored.body_truncated) == (len(raw), True)
    assert stored.body_sha256 == hashlib.sha256(raw).hexdigest()
    assert set(stored.headers) == {"content-type", "user-agent", "psp-signature"}
    assert len(stored.headers["user-agent"]) == 256
    assert stored.source_address == "203.0.113.7"


def test_a_stale_but_genuine_signature_counts_as_unauthenticated() -> None:
    uow = InMemoryUnitOfWork()
    raw = body() + b" " * 2000
    limiter = ScriptedLimiter()

    with pytest.raises(SignatureRejected):
        receive(raw, uow, signed_at=datetime(2030, 5, 1, 11, 0, tzinfo=UTC), limiter=limiter)

    assert limiter.asked == ["203.0.113.7"]
    assert uow.committed_deliveries.rows[0].body == raw[:1024]


def test_a_signed_refusal_is_kept_whole_and_never_counted() -> None:
    uow = InMemoryUnitOfWork()
    limiter = ScriptedLimiter(Admission(AdmissionState.LIMITED, 30))
    raw = json.dumps({"paymentRef": "PAY_1", "status": "PAID", "pad": "x" * 3000}).encode()

    with pytest.raises(UnknownStatus):
        receive(raw, uow, headers=[("X-Anything", "kept")], limiter=limiter)

    (stored,) = uow.committed_deliveries.rows
    assert (stored.body, stored.headers["x-anything"]) == (raw, "kept")
    assert limiter.asked == []


def test_an_authentic_delivery_is_accepted_whatever_the_limiter_says() -> None:
    for answer in (Admission(AdmissionState.LIMITED, 30), UNAVAILABLE):
        limiter = ScriptedLimiter(answer)

        assert receive(body(), InMemoryUnitOfWork(), limiter=limiter) is Verdict.ACCEPTED
        assert limiter.asked == []


def test_a_source_over_its_limit_is_told_when_to_retry_and_nothing_is_kept() -> None:
    uow = InMemoryUnitOfWork()
    limiter = ScriptedLimiter(Admission(AdmissionState.LIMITED, 2.2))

    with pytest.raises(RateLimited) as limited:
        receive(body(), uow, signature=FORGED, limiter=limiter)

    assert (limited.value.code, limited.value.retry_after) == ("rate_limited", "3")
    assert limited.value.delivery_id is None
    assert uow.committed_deliveries.rows == []


def test_without_the_limiter_an_unauthenticated_request_is_refused_but_not_kept() -> None:
    uow = InMemoryUnitOfWork()

    for too_large, signature in ((False, FORGED), (True, None)):
        with pytest.raises((SignatureRejected, PayloadTooLarge)) as refused:
            receive(
                body(),
                uow,
                too_large=too_large,
                signature=signature,
                limiter=ScriptedLimiter(UNAVAILABLE),
            )
        assert refused.value.delivery_id is None

    assert uow.committed_deliveries.rows == []


@pytest.mark.parametrize(
    ("address", "source"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        (None, "unknown"),
        ("not an address", "unknown"),
    ],
)
def test_a_source_is_an_ipv4_address_or_an_ipv6_64(address: str | None, source: str) -> None:
    assert source_of(address) == source
