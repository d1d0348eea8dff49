"""The HTTP bank client against the real simulator's payouts API: what each answer means."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace

import httpx
import pytest

from paykit.testing import wait_until
from settlement_service.adapters.bank_http import HttpBank
from settlement_service.domain.payouts import PayoutRequest, PayoutStatus
from settlement_service.service_layer.bank import (
    BankMisconfigured,
    BankUnavailable,
    PayoutUnknownToBank,
)

pytestmark = pytest.mark.integration


def _request(bank_account: str = "acct_ok", attempt: int = 1) -> PayoutRequest:
    return PayoutRequest(
        batch_id=f"stb_{uuid.uuid4().hex[:12]}",
        attempt=attempt,
        merchant_id="MER_bank_client",
        amount=9_835,
        currency="EUR",
        bank_account=bank_account,
    )


def test_a_new_payout_is_pending_then_paid_by_the_banks_record(bank: HttpBank) -> None:
    request = _request()

    created = bank.request_payout(request)

    assert created.id.startswith("po_")
    assert (created.batch_id, created.attempt, created.status) == (
        request.batch_id,
        1,
        PayoutStatus.PENDING,
    )
    assert (created.amount, created.currency) == (9_835, "EUR")
    assert wait_until(lambda: bank.get_payout(created.id).status is PayoutStatus.PAID, timeout=10)


def test_the_same_request_again_replays_the_payout_it_made(bank: HttpBank) -> None:
    request = _request()

    first = bank.request_payout(request)
    again = bank.request_payout(request)

    assert again.id == first.id
    assert [p.id for p in bank.find_payouts(request.batch_id)] == [first.id]


def test_the_same_key_with_another_body_is_a_refusal_not_an_outcome(bank: HttpBank) -> None:
    request = _request()
    bank.request_payout(request)

    with pytest.raises(BankMisconfigured) as refused:
        bank.request_payout(replace(request, amount=request.amount + 1))

    assert (refused.value.status, refused.value.code) == (409, "idempotency_key_reused")
    assert not isinstance(refused.value, BankUnavailable)
    assert len(bank.find_payouts(request.batch_id)) == 1


def test_bank_unavailable_is_retryable_and_nothing_is_recorded(bank: HttpBank) -> None:
    request = _request("acct_unavailable")

    with pytest.raises(BankUnavailable) as unavailable:
        bank.request_payout(request)

    assert "503" in str(unavailable.value.__cause__)
    assert bank.find_payouts(request.batch_id) == []


def test_a_bank_slower_than_the_timeout_is_unavailable_and_the_replay_finds_the_payout(
    bank_url: str, bank: HttpBank, bank_admin: httpx.Client
) -> None:
    request = _request()
    impatient = HttpBank(bank_url, timeout_seconds=0.3, backoff_seconds=0.05)
    slow = bank_admin.put("/_admin/faults", json={"latency_ms": 1500})
    assert slow.status_code == 200, slow.text
    try:
        started = time.monotonic()
        with pytest.raises(BankUnavailable, match="timed out"):
            impatient.request_payout(request)
        assert time.monotonic() - started < 1.5
    finally:
        impatient.close()
        bank_admin.delete("/_admin/faults")

    # the slow request went on at the bank; the same key later answers with what it made
    assert wait_until(lambda: len(bank.find_payouts(request.batch_id)) == 1, timeout=10)
    assert bank.request_payout(request).id == bank.find_payouts(request.batch_id)[0].id


def test_a_look_up_of_a_payout_the_bank_never_made_says_so(bank: HttpBank) -> None:
    with pytest.raises(PayoutUnknownToBank):
        bank.get_payout(f"po_{uuid.uuid4().hex}")


def test_a_bank_that_refuses_connections_is_unavailable() -> None:
    closed_port = HttpBank("http://127.0.0.1:9", timeout_seconds=1.0, backoff_seconds=0.01)
    try:
        with pytest.raises(BankUnavailable):
            closed_port.request_payout(_request())
    finally:
        closed_port.close()
