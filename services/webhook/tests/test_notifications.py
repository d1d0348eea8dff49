"""Reading PSP webhook bodies: both shapes, the status vocabulary and the parser's limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from payevents import REGISTRY
from payevents.strict_json import nesting_exceeds
from webhook_service.domain.deliveries import recordable_headers
from webhook_service.domain.errors import (
    InvalidWebhookBody,
    JsonTooDeep,
    MalformedJson,
    UnknownEventType,
    UnknownStatus,
)
from webhook_service.domain.notifications import PspNotification, parse_notification

LEGACY = b'{"paymentRef": "PAY_123456", "status": "SUCCESS", "gatewayData": {"amount": 3000}}'


def parse(body: dict[str, object] | bytes, max_depth: int = 8) -> PspNotification:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_notification(raw, max_depth=max_depth)


def test_the_psp_payment_event_body_is_normalised() -> None:
    notification = parse(
        {
            "id": "evt_abc",
            "type": "payment.status",
            "paymentRef": "PAY_1",
            "status": "FAILED",
            "gatewayData": {
                "amount": 3000,
                "currency": "EUR",
                "chargeId": "ch_9",
                "failureCode": "card_declined",
            },
        }
    )

    assert notification == PspNotification(
        psp_event_id="evt_abc",
        psp_event_type="payment.status",
        payment_id="PAY_1",
        status="failed",
        amount=3000,
        currency="EUR",
        psp_reference="ch_9",
        failure_code="card_declined",
    )


def test_the_legacy_body_from_the_contract_is_a_payment_status() -> None:
    notification = parse(LEGACY)

    assert notification.psp_event_type == "payment.status"
    assert notification.event_type == "psp.payment_status_received"
    assert (notification.payment_id, notification.status) == ("PAY_123456", "succeeded")
    assert (notification.amount, notification.currency) == (3000, None)
    assert notification.event_id_derived


def test_a_legacy_id_depends_on_the_facts_not_on_formatting() -> None:
    reordered = b'{"gatewayData":{"amount":3000},\n "status":"SUCCESS","paymentRef":"PAY_123456"}'
    other_amount = LEGACY.replace(b"3000", b"3001")

    assert parse(LEGACY).psp_event_id == parse(reordered).psp_event_id
    assert parse(LEGACY).psp_event_id != parse(other_amount).psp_event_id
    assert parse(LEGACY).psp_event_id.startswith("lgc_")


def legacy_body(**changes: object) -> dict[str, object]:
    gateway = {"amount": 3000, "currency": "EUR", "chargeId": "ch_1"}
    return {"paymentRef": "PAY_123456", "status": "SUCCESS", "gatewayData": gateway, **changes}


def test_a_legacy_id_ignores_what_changes_from_one_attempt_to_the_next() -> None:
    retry = legacy_body(
        attempt=2,
        sentAt="2030-01-02T03:04:05Z",
        gatewayData={"amount": 3000, "currency": "EUR", "chargeId": "ch_1", "traceId": "t-2"},
    )

    assert parse(retry).psp_event_id == parse(legacy_body()).psp_event_id


@pytest.mark.parametrize(
    "change",
    [
        {"status": "FAILED"},
        {"paymentRef": "PAY_654321"},
        {"gatewayData": {"amount": 3001, "currency": "EUR", "chargeId": "ch_1"}},
        {"gatewayData": {"amount": 3000, "currency": "USD", "chargeId": "ch_1"}},
        {"gatewayData": {"amount": 3000, "currency": "EUR", "chargeId": "ch_2"}},
        {"gatewayData": {"currency": "EUR", "chargeId": "ch_1"}},
    ],
)
def test_a_legacy_id_changes_with_any_identifying_fact(change: dict[str, object]) -> None:
    assert parse(legacy_body(**change)).psp_event_id != parse(legacy_body()).psp_event_id


def test_fields_the_psp_adds_later_are_ignored() -> None:
    notification = parse(
        {"id": "evt_1", "paymentRef": "PAY_1", "status": "SUCCESS", "livemode": False,
         "gatewayData": {"amount": 1, "network": "visa"}}
    )  # fmt: skip

    assert notification.amount == 1


@pytest.mark.parametrize("status", ["PAID", "success", "", "PENDING", " SUCCESS"])
def test_statuses_outside_the_vocabulary_are_refused(status: str) -> None:
    with pytest.raises(UnknownStatus):
        parse({"paymentRef": "PAY_1", "status": status})


def test_event_types_we_do_not_handle_are_refused() -> None:
    with pytest.raises(UnknownEventType):
        parse({"type": "charge.dispute", "paymentRef": "PAY_1", "status": "SUCCESS"})


@pytest.mark.parametrize(
    "body",
    [
        {"paymentRef": "PAY_1"},
        {"paymentRef": "order-1", "status": "SUCCESS"},
        {"paymentRef": "PAY_1", "status": 1},
        {"paymentRef": "PAY_1", "status": "SUCCESS", "gatewayData": {"amount": "3000"}},
        {"paymentRef": "PAY_1", "status": "SUCCESS", "gatewayData": {"amount": True}},
        {"paymentRef": "PAY_1", "status": "SUCCESS", "gatewayData": {"amount": 0}},
        {"paymentRef": "PAY_1", "status": "SUCCESS", "gatewayData": {"currency": "eur"}},
        {"paymentRef": "PAY_1", "status": "SUCCESS", "gatewayData": []},
        {"id": "has spaces", "paymentRef": "PAY_1", "status": "SUCCESS"},
        {"paymentRef": "PAY_1", "status": "FAILED", "gatewayData": {"failureCode": "Bad Code"}},
    ],
)
def test_bodies_that_would_make_an_invalid_event_are_refused(body: dict[str, object]) -> None:
    with pytest.raises(InvalidWebhookBody) as refused:
        parse(body)

    assert refused.value.errors


@pytest.mark.parametrize(
    "raw",
    [b"", b"   ", b"{", b"\xc3\x28", b'{"a": Infinity}', b'{"a": 1, "a": 2}', b"1e99999x"],
)
def test_unreadable_json_is_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedJson):
        parse(raw)


def test_nesting_is_limited_without_recursion() -> None:
    assert not nesting_exceeds({"a": {"b": [1]}}, 3)
    assert nesting_exceeds({"a": {"b": [[]]}}, 3)
    assert not nesting_exceeds("scalar", 1)
    with pytest.raises(JsonTooDeep):
        parse(b'{"paymentRef": "PAY_1", "status": "SUCCESS", "x": [[[[]]]]}', max_depth=4)
    with pytest.raises(JsonTooDeep):
        parse(b"[" * 100_000 + b"]" * 100_000)


def test_the_event_data_fits_the_published_schema() -> None:
    notification = parse(
        {"id": "evt_r", "type": "refund.status", "paymentRef": "PAY_1", "refundRef": "RFD_1",
         "status": "SUCCESS", "gatewayData": {"amount": 5, "currency": "EUR", "refundId": "re_1"}}
    )  # fmt: skip
    data = notification.event_data(datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC))

    schema = REGISTRY.entry("psp.refund_status_received", 1).schema
    assert schema.load(data)["refund_id"] == "RFD_1"
    assert data["psp_reference"] == "re_1"
    assert data["received_at"] == "2030-01-02T03:04:05.000000Z"


def test_recorded_headers_keep_the_signature_and_redact_credentials() -> None:
    kept = recordable_headers(
        [
            ("Psp-Signature", "t=1,v1=ab"),
            ("Authorization", "Basic dXNlcjpwYXNz"),
            ("Cookie", "a=b"),
            ("X-Forwarded-For", "10.0.0.1"),
            ("X-Forwarded-For", "10.0.0.2"),
            ("Connection", "keep-alive"),
        ]
    )

    assert kept == {
        "psp-signature": "t=1,v1=ab",
        "authorization": "[REDACTED]",
        "cookie": "[REDACTED]",
        "x-forwarded-for": "10.0.0.1, 10.0.0.2",
    }
