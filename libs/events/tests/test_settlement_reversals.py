"""Settlement events that carry reversals: a success the PSP overturned takes money back."""

from __future__ import annotations

import json
from typing import Any

import pytest

from payevents import REGISTRY, InvalidEvent, decode


def written(event_type: str, version: int, data: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "id": "evt_1",
            "type": event_type,
            "version": version,
            "occurred_at": "2025-03-01T10:00:00Z",
            "source": "settlement",
            "subject": "MER_42",
            "correlation_id": "cor_1",
            "causation_id": None,
            "data": data,
        }
    ).encode()


def v1_of(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in ("reversed_amount", "fee_returned_amount")}


def test_a_reversal_is_a_settlement_item_kind(valid_data: dict[str, dict[str, Any]]) -> None:
    data = {**valid_data["settlement.item_created"], "kind": "reversal"}

    assert REGISTRY.validate("settlement.item_created", 2, data)["kind"] == "reversal"


def test_a_v1_item_reads_unchanged(valid_data: dict[str, dict[str, Any]]) -> None:
    data = valid_data["settlement.item_created"]

    event = decode(written("settlement.item_created", 1, data))

    assert (event.version, event.data) == (2, REGISTRY.validate("settlement.item_created", 2, data))


def test_a_v1_item_never_was_a_reversal(valid_data: dict[str, dict[str, Any]]) -> None:
    data = {**valid_data["settlement.item_created"], "kind": "reversal"}

    with pytest.raises(InvalidEvent):
        decode(written("settlement.item_created", 1, data))


def test_a_closed_batch_nets_its_reversals_and_the_fees_they_return(
    valid_data: dict[str, dict[str, Any]],
) -> None:
    data = valid_data["settlement.batch_closed"]
    data.update(
        gross_amount=5000,
        refunded_amount=1000,
        fee_amount=150,
        reversed_amount=2000,
        fee_returned_amount=60,
        net_amount=1910,
    )

    assert REGISTRY.validate("settlement.batch_closed", 2, data)["net_amount"] == 1910


@pytest.mark.parametrize(
    "change",
    [
        {"net_amount": 3850},  # the reversal not taken off
        {"fee_returned_amount": 0},  # the returned fee not added back
        {"reversed_amount": -2000, "net_amount": 5850},
    ],
)
def test_a_closed_batch_whose_reversals_do_not_add_up_is_refused(
    valid_data: dict[str, dict[str, Any]], change: dict[str, int]
) -> None:
    data = valid_data["settlement.batch_closed"]
    data.update(reversed_amount=2000, fee_returned_amount=60, net_amount=1910)
    data.update(change)

    with pytest.raises(InvalidEvent) as caught:
        REGISTRY.validate("settlement.batch_closed", 2, data)

    assert caught.value.reason == "schema_violation"


def test_a_v1_closed_batch_reads_as_one_without_reversals(
    valid_data: dict[str, dict[str, Any]],
) -> None:
    event = decode(
        written("settlement.batch_closed", 1, v1_of(valid_data["settlement.batch_closed"]))
    )

    assert event.version == 2
    assert (event.data["reversed_amount"], event.data["fee_returned_amount"]) == (0, 0)
    assert event.data["net_amount"] == 3850


def test_a_v1_carried_forward_batch_reads_as_one_without_reversals(
    valid_data: dict[str, dict[str, Any]],
) -> None:
    data = v1_of(valid_data["settlement.batch_carried_forward"])

    event = decode(written("settlement.batch_carried_forward", 1, data))

    assert event.version == 2
    assert (event.data["reversed_amount"], event.data["fee_returned_amount"]) == (0, 0)


def test_a_batch_of_a_payment_and_its_reversal_is_carried_forward_at_zero(
    valid_data: dict[str, dict[str, Any]],
) -> None:
    data = valid_data["settlement.batch_carried_forward"]
    data.update(
        item_count=2,
        gross_amount=3000,
        refunded_amount=0,
        fee_amount=90,
        reversed_amount=3000,
        fee_returned_amount=90,
        net_amount=0,
    )

    assert REGISTRY.validate("settlement.batch_carried_forward", 2, data)["net_amount"] == 0


def test_a_v2_closed_batch_without_reversals_need_not_name_them(
    valid_data: dict[str, dict[str, Any]],
) -> None:
    data = v1_of(valid_data["settlement.batch_closed"])

    validated = REGISTRY.validate("settlement.batch_closed", 2, data)

    assert (validated["reversed_amount"], validated["fee_returned_amount"]) == (0, 0)
