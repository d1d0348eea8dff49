"""Idempotency keys: a creating request runs once per merchant and key, then is replayed."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from payment_service.domain.idempotency import StoredResponse, fingerprint, valid_key
from payment_service.service_layer import handlers
from payment_service.service_layer.commands import CreatePayment
from payment_service.service_layer.idempotency import (
    IdempotencyKeyReused,
    IdempotencyRequestInFlight,
    IdempotentResult,
    run_once,
)
from payment_service.service_layer.unit_of_work import UnitOfWork

MERCHANT = "MER_1"
KEY = "order-42-attempt"
BODY = {"amount": 2500, "currency": "EUR", "payment_method": "pm_card_visa"}
REQUEST = fingerprint("POST", "/payments", BODY)


class CountingAction:
    """An action that answers ``response`` and counts how often it ran."""

    def __init__(self, response: StoredResponse | None = None) -> None:
        self.response = response or StoredResponse(201, {"id": "PAY_1"})
        self.runs = 0

    def __call__(self) -> StoredResponse:
        self.runs += 1
        return self.response


def run(
    uow: UnitOfWork,
    action: Callable[[], StoredResponse],
    *,
    merchant_id: str = MERCHANT,
    key: str = KEY,
    request: str = REQUEST,
) -> IdempotentResult:
    return run_once(uow, merchant_id=merchant_id, key=key, fingerprint=request, action=action)


def test_the_first_request_runs_and_its_response_is_stored(fake_uow) -> None:
    action = CountingAction()

    result = run(fake_uow, action)

    assert (result.response, result.replayed) == (action.response, False)
    assert action.runs == 1
    stored = fake_uow.idempotency.claim(MERCHANT, KEY, REQUEST)
    assert stored is not None
    assert (stored.fingerprint, stored.response) == (REQUEST, action.response)


def test_the_same_request_again_is_replayed_without_running(fake_uow) -> None:
    first = CountingAction(StoredResponse(201, {"id": "PAY_1"}))
    again = CountingAction(StoredResponse(201, {"id": "PAY_2"}))
    run(fake_uow, first)

    result = run(fake_uow, again)

    assert (result.response, result.replayed) == (StoredResponse(201, {"id": "PAY_1"}), True)
    assert again.runs == 0


def test_a_different_request_under_a_used_key_is_refused(fake_uow) -> None:
    run(fake_uow, CountingAction())
    other = CountingAction()

    with pytest.raises(IdempotencyKeyReused):
        run(fake_uow, other, request=fingerprint("POST", "/payments", {**BODY, "amount": 2501}))

    assert other.runs == 0


def test_a_key_held_by_a_request_still_running_elsewhere_is_reported_in_flight(fake_uow) -> None:
    fake_uow.idempotency.hold(MERCHANT, KEY)
    action = CountingAction()

    with pytest.raises(IdempotencyRequestInFlight):
        run(fake_uow, action)

    assert action.runs == 0


def test_a_claimed_key_without_a_stored_response_is_reported_in_flight(fake_uow) -> None:
    assert fake_uow.idempotency.claim(MERCHANT, KEY, REQUEST) is None
    action = CountingAction()

    with pytest.raises(IdempotencyRequestInFlight):
        run(fake_uow, action)

    assert action.runs == 0


def test_the_same_key_from_another_merchant_is_a_new_request(fake_uow) -> None:
    run(fake_uow, CountingAction())
    action = CountingAction()

    result = run(fake_uow, action, merchant_id="MER_2")

    assert (result.replayed, action.runs) == (False, 1)


def test_a_request_that_failed_leaves_no_key_so_its_retry_runs_afresh(fake_uow) -> None:
    def crash() -> StoredResponse:
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError), fake_uow.transaction():
        run(fake_uow, crash)
    action = CountingAction()

    with fake_uow.transaction():
        result = run(fake_uow, action)

    assert (result.replayed, action.runs) == (False, 1)


def test_a_replayed_payment_creation_creates_and_announces_one_payment(fake_uow) -> None:
    command = CreatePayment(merchant_id=MERCHANT, **BODY)

    def create() -> StoredResponse:
        return StoredResponse(201, {"id": handlers.create_payment(command, fake_uow).id})

    first = run(fake_uow, create)
    again = run(fake_uow, create)

    assert again.response == first.response
    assert list(fake_uow.payments.rows) == [first.response.body["id"]]
    assert fake_uow.published_types() == ["payment.created"]


def test_keys_older_than_the_retention_are_pruned_and_can_be_used_afresh(
    fake_uow, fake_clock
) -> None:
    run(fake_uow, CountingAction())
    fake_clock.advance(23 * 3600)
    run(fake_uow, CountingAction(), key="newer")
    fake_clock.advance(2 * 3600)

    assert fake_uow.idempotency.prune(24) == 1

    action = CountingAction()
    result = run(fake_uow, action, request=fingerprint("POST", "/payments", {**BODY, "amount": 1}))
    assert (result.replayed, action.runs) == (False, 1)


# Fingerprints and keys


def test_a_fingerprint_ignores_key_order() -> None:
    reordered = dict(reversed(list(BODY.items())))

    assert fingerprint("POST", "/payments", reordered) == REQUEST


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
    assert fingerprint(method, path, body) != REQUEST


@pytest.mark.parametrize("key", ["a", "order-42", "~!#$%&'()*+,-./:;<=>?@[]^_`{|}", "k" * 255])
def test_printable_ascii_keys_up_to_255_characters_are_accepted(key: str) -> None:
    assert valid_key(key)


@pytest.mark.parametrize("key", [None, "", "k" * 256, "has space", "tab\t", "clé", "line\n"])
def test_empty_long_spaced_or_non_ascii_keys_are_refused(key: str | None) -> None:
    assert not valid_key(key)
