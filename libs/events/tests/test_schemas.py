from __future__ import annotations

from typing import Any

import pytest

from payevents import REGISTRY, InvalidEvent

ARCHITECTURE_EVENTS = {
    "payment.created",
    "payment.processing",
    "payment.succeeded",
    "payment.failed",
    "payment.canceled",
    "refund.requested",
    "refund.succeeded",
    "refund.failed",
    "psp.payment_status_received",
    "psp.refund_status_received",
    "psp.payout_status_received",
    "ledger.transaction_posted",
    "settlement.item_created",
    "settlement.batch_closed",
    "settlement.batch_carried_forward",
    "settlement.batch_submitted",
    "settlement.batch_paid",
    "settlement.batch_failed",
    "webhook_endpoint.disabled",
}


def violation(event_type: str, data: dict[str, Any]) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as caught:
        REGISTRY.validate(event_type, REGISTRY.newest_version(event_type), data)
    assert caught.value.reason == "schema_violation"
    return caught.value


def test_every_event_of_the_architecture_is_registered() -> None:
    assert set(REGISTRY.types()) == ARCHITECTURE_EVENTS


@pytest.mark.parametrize("event_type", sorted(ARCHITECTURE_EVENTS))
def test_a_typical_payload_is_valid(event_type: str, valid_data: dict[str, dict[str, Any]]) -> None:
    version = REGISTRY.newest_version(event_type)

    assert REGISTRY.validate(event_type, version, valid_data[event_type])


@pytest.mark.parametrize("amount", [30.0, 30.5])
def test_float_amount_is_a_schema_violation(payment_created: dict[str, Any], amount: float) -> None:
    payment_created["amount"] = amount

    assert "amount" in violation("payment.created", payment_created).errors


def test_bool_amount_is_a_schema_violation(payment_created: dict[str, Any]) -> None:
    payment_created["amount"] = True

    assert "amount" in violation("payment.created", payment_created).errors


def test_numeric_string_amount_is_not_coerced(payment_created: dict[str, Any]) -> None:
    payment_created["amount"] = "3000"

    assert "amount" in violation("payment.created", payment_created).errors


@pytest.mark.parametrize("amount", [0, -100])
def test_payment_amount_must_be_positive(payment_created: dict[str, Any], amount: int) -> None:
    payment_created["amount"] = amount

    assert "amount" in violation("payment.created", payment_created).errors


@pytest.mark.parametrize("currency", ["eur", "EURO", "E1R", "", 978])
def test_badly_formatted_currency_is_a_schema_violation(
    payment_created: dict[str, Any], currency: object
) -> None:
    payment_created["currency"] = currency

    assert "currency" in violation("payment.created", payment_created).errors


def test_well_formed_but_unknown_currency_is_a_schema_violation(
    payment_created: dict[str, Any],
) -> None:
    payment_created["currency"] = "ABC"

    error = violation("payment.created", payment_created)

    assert error.errors["currency"] == ["Not a known ISO 4217 currency code."]


def test_unknown_field_is_a_schema_violation(payment_created: dict[str, Any]) -> None:
    payment_created["amount_cents"] = 3000

    assert "amount_cents" in violation("payment.created", payment_created).errors


def test_missing_required_field_is_a_schema_violation(payment_created: dict[str, Any]) -> None:
    del payment_created["merchant_id"]

    error = violation("payment.created", payment_created)

    assert error.errors == {"merchant_id": ["Missing data for required field."]}


def test_payment_id_must_be_a_platform_reference(payment_created: dict[str, Any]) -> None:
    payment_created["payment_id"] = "123456"

    assert "payment_id" in violation("payment.created", payment_created).errors


def test_metadata_values_must_be_strings(payment_created: dict[str, Any]) -> None:
    payment_created["metadata"] = {"order": 17}

    assert "metadata.order.value" in violation("payment.created", payment_created).errors


def test_unknown_field_inside_a_ledger_entry_is_a_schema_violation(
    valid_data: dict[str, dict[str, Any]],
) -> None:
    data = valid_data["ledger.transaction_posted"]
    data["entries"][0]["memo"] = "x"

    assert "entries.0.memo" in violation("ledger.transaction_posted", data).errors


def test_unbalanced_ledger_transaction_is_a_schema_violation(
    valid_data: dict[str, dict[str, Any]],
) -> None:
    data = valid_data["ledger.transaction_posted"]
    data["entries"][1]["amount"] = 2999

    error = violation("ledger.transaction_posted", data)

    assert "do not balance" in error.errors["entries"][0]


def test_ledger_entry_direction_is_debit_or_credit(
    valid_data: dict[str, dict[str, Any]],
) -> None:
    data = valid_data["ledger.transaction_posted"]
    data["entries"][0]["direction"] = "left"

    assert "entries.0.direction" in violation("ledger.transaction_posted", data).errors


def test_batch_net_amount_must_equal_gross_less_refunds_and_fees(
    valid_data: dict[str, dict[str, Any]],
) -> None:
    data = valid_data["settlement.batch_closed"]
    data["net_amount"] = 4000

    assert "net_amount" in violation("settlement.batch_closed", data).errors


def test_batch_net_amount_may_be_negative_when_the_merchant_owes(
    valid_data: dict[str, dict[str, Any]],
) -> None:
    data = valid_data["settlement.batch_closed"]
    data.update(gross_amount=0, refunded_amount=1000, fee_amount=0, net_amount=-1000)

    version = REGISTRY.newest_version("settlement.batch_closed")

    assert REGISTRY.validate("settlement.batch_closed", version, data)["net_amount"] == -1000


def test_psp_status_outside_the_platform_vocabulary_is_a_schema_violation(
    valid_data: dict[str, dict[str, Any]],
) -> None:
    data = valid_data["psp.payment_status_received"]
    data["status"] = "SUCCESS"

    assert "status" in violation("psp.payment_status_received", data).errors


def test_psp_status_from_the_legacy_webhook_needs_no_currency(
    valid_data: dict[str, dict[str, Any]],
) -> None:
    data = valid_data["psp.payment_status_received"]
    del data["currency"]

    assert REGISTRY.validate("psp.payment_status_received", 1, data)["currency"] is None


def test_naive_timestamp_in_data_is_a_schema_violation(
    valid_data: dict[str, dict[str, Any]],
) -> None:
    data = valid_data["psp.payment_status_received"]
    data["received_at"] = "2025-03-01T10:00:00"

    assert "received_at" in violation("psp.payment_status_received", data).errors


def test_amount_beyond_what_json_parsers_read_exactly_is_a_schema_violation(
    payment_created: dict[str, Any],
) -> None:
    payment_created["amount"] = 2**53

    assert "amount" in violation("payment.created", payment_created).errors


def test_a_carried_forward_batch_names_why_it_stayed_open(
    valid_data: dict[str, dict[str, Any]],
) -> None:
    carried = valid_data["settlement.batch_carried_forward"]
    carried["reason"] = "too_small"

    assert "reason" in violation("settlement.batch_carried_forward", carried).errors


def test_a_payout_outcome_is_paid_or_failed_and_the_failure_fields_are_optional(
    valid_data: dict[str, dict[str, Any]],
) -> None:
    data = {**valid_data["psp.payout_status_received"], "status": "paid", "failure_code": None}
    del data["failure_message"]

    loaded = REGISTRY.validate("psp.payout_status_received", 1, data)

    assert loaded["failure_code"] is None and loaded["failure_message"] is None
    assert "status" in violation("psp.payout_status_received", {**data, "status": "pending"}).errors
    assert "attempt" in violation("psp.payout_status_received", {**data, "attempt": 0}).errors


def test_a_disabled_endpoint_says_whose_it_is_since_when_it_failed_and_why(
    valid_data: dict[str, dict[str, Any]],
) -> None:
    data = {**valid_data["webhook_endpoint.disabled"]}
    del data["last_error"]

    loaded = REGISTRY.validate("webhook_endpoint.disabled", 1, data)

    assert loaded["last_error"] is None
    assert "reason" in violation("webhook_endpoint.disabled", {**data, "reason": "merchant"}).errors
    assert (
        "merchant_id"
        in violation(
            "webhook_endpoint.disabled", {k: v for k, v in data.items() if k != "merchant_id"}
        ).errors
    )
