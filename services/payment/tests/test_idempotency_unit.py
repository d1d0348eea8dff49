"""Idempotency keys: a creating request runs once per merchant and key, then is replayed."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest

from paykit.canonical import canonical_json
from payment_service.domain.idempotency import RequestFingerprint
from payment_service.service_layer import payments
from payment_service.service_layer.commands import CreatePayment
from payment_service.service_layer.idempotency import (
    IdempotencyKeyReused,
    IdempotencyRequestInFlight,
    IdempotentResult,
    run_once,
)
from payment_service.service_layer.unit_of_work import UnitOfWork
from payment_service.testing import FakeClock, FakeUnitOfWork

MERCHANT = "MER_1"
KEY = "order-42-attempt"
BODY = {"amount": 2500, "currency": "EUR", "payment_method": "pm_card_visa"}
REQUEST = RequestFingerprint("POST", "/payments", BODY)


class CountingAction:
    """An action that answers ``body`` and counts how often it ran."""

    def __init__(self, body: dict[str, Any] | None = None) -> None:
        self.body = body or {"id": "PAY_1"}
        self.runs = 0

    def __call__(self, uow: UnitOfWork) -> dict[str, Any]:
        self.runs += 1
        return self.body


def run(
    uow: Any,
    action: Callable[[UnitOfWork], dict[str, Any]],
    *,
    merchant_id: str = MERCHANT,
    key: str = KEY,
    request: RequestFingerprint = REQUEST,
) -> IdempotentResult:
    return run_once(
        uow.transaction, merchant_id=merchant_id, key=key, request=request, action=action
    )


def test_the_first_request_runs_and_its_response_is_stored(fake_uow: FakeUnitOfWork) -> None:
    action = CountingAction()

    result = run(fake_uow, action)

    assert (result.response.status, result.response.body, result.replayed) == (
        201,
        action.body,
        False,
    )
    assert action.runs == 1
    stored = fake_uow.idempotency.claim(MERCHANT, KEY, REQUEST.value)
    assert stored is not None
    assert (stored.fingerprint, stored.response) == (REQUEST.value, result.response)


def test_the_same_request_again_is_replayed_without_running(fake_uow: FakeUnitOfWork) -> None:
    run(fake_uow, CountingAction({"id": "PAY_1"}))
    again = CountingAction({"id": "PAY_2"})

    result = run(fake_uow, again)

    assert (result.response.body, result.replayed) == ({"id": "PAY_1"}, True)
    assert again.runs == 0


def test_a_different_request_under_a_used_key_is_refused(fake_uow: FakeUnitOfWork) -> None:
    run(fake_uow, CountingAction())
    other = CountingAction()

    with pytest.raises(IdempotencyKeyReused):
        run(fake_uow, other, request=RequestFingerprint("POST", "/payments", {**BODY, "amount": 1}))

    assert other.runs == 0


def test_a_key_held_by_a_request_still_running_elsewhere_is_reported_in_flight(
    fake_uow: FakeUnitOfWork,
) -> None:
    fake_uow.idempotency.hold(MERCHANT, KEY)
    action = CountingAction()

    with pytest.raises(IdempotencyRequestInFlight):
        run(fake_uow, action)

    assert action.runs == 0


def test_a_claimed_key_without_a_stored_response_is_reported_in_flight(
    fake_uow: FakeUnitOfWork,
) -> None:
    assert fake_uow.idempotency.claim(MERCHANT, KEY, REQUEST.value) is None
    action = CountingAction()

    with pytest.raises(IdempotencyRequestInFlight):
        run(fake_uow, action)

    assert action.runs == 0


def test_the_same_key_from_another_merchant_is_a_new_request(fake_uow: FakeUnitOfWork) -> None:
    run(fake_uow, CountingAction())
    action = CountingAction()

    result = run(fake_uow, action, merchant_id="MER_2")

    assert (result.replayed, action.runs) == (False, 1)


def test_a_request_that_failed_leaves_no_key_so_its_retry_runs_afresh(
    fake_uow: FakeUnitOfWork,
) -> None:
    def crash(uow: UnitOfWork) -> dict[str, Any]:
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        run(fake_uow, crash)
    action = CountingAction()

    result = run(fake_uow, action)

    assert (result.replayed, action.runs) == (False, 1)


def test_a_replayed_payment_creation_creates_and_announces_one_payment(
    fake_uow: FakeUnitOfWork, fake_clock: FakeClock
) -> None:
    command = CreatePayment(MERCHANT, 2500, "EUR", "pm_card_visa")

    def create(uow: UnitOfWork) -> dict[str, Any]:
        payment = payments.create_payment(
            command, uow, now=fake_clock(), charge_within=fake_clock.now - fake_clock.now
        )
        return {"id": payment.id}

    first = run(fake_uow, create)
    again = run(fake_uow, create)

    assert again.response == first.response
    assert list(fake_uow.payments.rows) == [first.response.body["id"]]
    assert fake_uow.published_types() == ["payment.created"]


def test_keys_older_than_the_retention_are_pruned_and_can_be_used_afresh(
    fake_uow: FakeUnitOfWork, fake_clock: FakeClock
) -> None:
    run(fake_uow, CountingAction())
    fake_clock.advance(23 * 3600)
    run(fake_uow, CountingAction(), key="newer")
    fake_clock.advance(2 * 3600)

    assert fake_uow.idempotency.prune(24) == 1

    action = CountingAction()
    result = run(fake_uow, action, request=RequestFingerprint("POST", "/payments", {"amount": 1}))
    assert (result.replayed, action.runs) == (False, 1)


# Fingerprints


def test_a_fingerprint_ignores_key_order() -> None:
    reordered = dict(reversed(list(BODY.items())))

    assert RequestFingerprint("POST", "/payments", reordered).value == REQUEST.value


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/payments", BODY),
        ("POST", "/payments/PAY_1/refunds", BODY),
        ("POST", "/payments", {**BODY, "amount": 2501}),
        ("POST", "/payments", {**BODY, "metadata": {}}),
    ],
)
def test_a_fingerprint_tells_different_requests_apart(
    method: str, path: str, body: dict[str, object]
) -> None:
    other = RequestFingerprint(method, path, body)

    assert other.value != REQUEST.value
    assert not other.matches(REQUEST.value)


def test_a_key_stored_before_the_shared_digest_still_matches_its_request() -> None:
    """Keys live a day: a retry across the deploy that changed the digest must still replay."""
    before = hashlib.sha256(b"POST /payments\n" + canonical_json(BODY)).hexdigest()

    assert before != REQUEST.value
    assert REQUEST.matches(before)
    assert not RequestFingerprint("POST", "/payments", {**BODY, "amount": 1}).matches(before)
