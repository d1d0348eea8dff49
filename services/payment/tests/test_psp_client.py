"""What each PSP answer means to the platform: only the PSP's explicit decline declines."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from payment_service.adapters.psp import HttpPaymentProvider
from payment_service.domain.payment import Payment
from payment_service.domain.psp import PspStatus
from payment_service.domain.refund import Refund
from payment_service.service_layer.provider import (
    ProviderDeclined,
    ProviderMisconfigured,
    ProviderUnavailable,
)

PAYMENT = Payment("PAY_1", "MER_1", 3000, "EUR", "pm_card_visa", psp_reference=None)
REFUND = Refund("RFD_1", "PAY_1", "MER_1", 1000, "EUR")
CHARGE = {
    "id": "ch_1",
    "reference": "PAY_1",
    "amount": 3000,
    "currency": "EUR",
    "status": "processing",
    "failure_code": None,
}


def provider(
    answer: Callable[[httpx.Request], httpx.Response],
) -> tuple[HttpPaymentProvider, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)

    client = httpx.Client(base_url="http://psp", transport=httpx.MockTransport(handler))
    return HttpPaymentProvider("http://psp", client=client, backoff_seconds=0), seen


def problem(status: int, code: str) -> Callable[[httpx.Request], httpx.Response]:
    return lambda _: httpx.Response(status, json={"code": code, "detail": code.replace("_", " ")})


def test_a_charge_answer_is_the_psps_record_of_the_charge() -> None:
    psp, seen = provider(lambda _: httpx.Response(201, json=CHARGE))

    record = psp.charge(PAYMENT)

    assert (record.id, record.status, record.amount, record.currency) == (
        "ch_1",
        PspStatus.PROCESSING,
        3000,
        "EUR",
    )
    assert seen[0].headers["Idempotency-Key"] == "PAY_1"


def test_an_unknown_payment_method_is_the_psps_decline_of_the_charge() -> None:
    psp, _ = provider(problem(422, "unknown_payment_method"))

    with pytest.raises(ProviderDeclined) as declined:
        psp.charge(PAYMENT)

    assert declined.value.code == "unknown_payment_method"


@pytest.mark.parametrize(
    "code", ["unknown_charge", "charge_not_refundable", "refund_exceeds_charge"]
)
def test_the_psps_refund_refusals_decline_the_refund(code: str) -> None:
    psp, _ = provider(problem(422, code))

    with pytest.raises(ProviderDeclined):
        psp.refund(REFUND, "ch_1")


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (404, "not_found"),  # a wrong PSP_URL path
        (401, "unauthorized"),  # credentials
        (403, "forbidden"),
        (400, "invalid_request"),  # a request we built wrong
        (422, "idempotency_key_reused"),
        (422, "card_declined"),  # not how this PSP declines a charge: never guessed
        (405, "method_not_allowed"),
    ],
)
def test_any_other_4xx_is_a_configuration_error_never_a_decline(status: int, code: str) -> None:
    psp, _ = provider(problem(status, code))

    with pytest.raises(ProviderMisconfigured) as misconfigured:
        psp.charge(PAYMENT)

    assert misconfigured.value.status == status


def test_a_4xx_that_is_not_even_json_is_a_configuration_error() -> None:
    psp, _ = provider(lambda _: httpx.Response(404, text="<html>Not Found</html>"))

    with pytest.raises(ProviderMisconfigured):
        psp.charge(PAYMENT)


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503])
def test_busy_or_failing_psp_answers_are_an_outage(status: int) -> None:
    psp, _ = provider(problem(status, "busy"))

    with pytest.raises(ProviderUnavailable):
        psp.charge(PAYMENT)


def test_a_5xx_is_tried_once_more_in_place() -> None:
    answers = iter(
        [httpx.Response(503, json={"code": "psp_unavailable"}), httpx.Response(201, json=CHARGE)]
    )
    psp, seen = provider(lambda _: next(answers))

    assert psp.charge(PAYMENT).id == "ch_1"
    assert len(seen) == 2


def test_a_timeout_is_not_repeated_in_place_so_one_slow_call_costs_one_timeout() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("read timed out", request=request)

    psp, seen = provider(hang)

    with pytest.raises(ProviderUnavailable):
        psp.charge(PAYMENT)

    assert len(seen) == 1


def test_a_charge_whose_id_we_do_not_know_is_looked_up_by_our_reference() -> None:
    psp, seen = provider(lambda _: httpx.Response(200, json={"data": [CHARGE]}))

    record = psp.find_charge(PAYMENT)

    assert record is not None and record.id == "ch_1"
    assert (seen[0].url.path, seen[0].url.params["reference"]) == ("/charges", "PAY_1")


def test_no_charge_at_the_psp_for_our_reference_is_none() -> None:
    psp, _ = provider(lambda _: httpx.Response(200, json={"data": []}))

    assert psp.find_charge(PAYMENT) is None
