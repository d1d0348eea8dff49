"""The exported documents against the runtime, through a real JSON Schema validator.

What the runtime accepts, the documents accept; what they accept and the runtime refuses is
exactly what their ``x-runtime-rules`` say JSON Schema cannot express.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from payevents import REGISTRY, InvalidEvent, decode, encode, new_event
from payevents.jsonschema_export import RUNTIME_RULES, render_exports

jsonschema = pytest.importorskip("jsonschema")

DOCUMENTS = {path: json.loads(text) for path, text in render_exports(REGISTRY).items()}
Change = Callable[[dict[str, Any]], None]


def validator_for(event_type: str, version: int) -> Any:
    return jsonschema.Draft202012Validator(DOCUMENTS[f"{event_type}/v{version}.json"])


def written_message(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    body, _ = encode(new_event(event_type, data, source="test-suite", subject="MER_42"))
    message: dict[str, Any] = json.loads(body)
    return message


def runtime_refuses(message: dict[str, Any]) -> bool:
    try:
        decode(json.dumps(message).encode())
    except InvalidEvent:
        return True
    return False


def test_every_document_is_a_valid_draft_2020_12_schema() -> None:
    for document in DOCUMENTS.values():
        jsonschema.Draft202012Validator.check_schema(document)


def test_every_message_the_runtime_writes_is_valid_against_its_document(
    valid_data: dict[str, dict[str, Any]],
) -> None:
    for event_type, data in valid_data.items():
        message = written_message(event_type, data)

        assert list(validator_for(event_type, message["version"]).iter_errors(message)) == []


def test_an_older_version_is_valid_against_its_own_document(
    payment_created: dict[str, Any],
) -> None:
    message = written_message("payment.created", payment_created)
    message["version"] = 1
    del message["data"]["capture_method"]

    assert not runtime_refuses(message)
    assert validator_for("payment.created", 1).is_valid(message)
    assert not validator_for("payment.created", 2).is_valid(message)


def set_data(key: str, value: Any) -> Change:
    return lambda message: message["data"].__setitem__(key, value)


def drop_data(key: str) -> Change:
    return lambda message: message["data"].pop(key)


@pytest.mark.parametrize(
    ("event_type", "change"),
    [
        ("payment.succeeded", drop_data("amount")),
        ("payment.succeeded", set_data("amount", 0)),
        ("payment.succeeded", set_data("amount", "3000")),
        ("payment.succeeded", set_data("amount", True)),
        ("payment.succeeded", set_data("currency", "XYZ")),
        ("payment.succeeded", set_data("payment_id", "pay_1")),
        ("payment.succeeded", set_data("tip", 1)),
        ("payment.failed", set_data("failure_code", "Card Declined")),
        ("settlement.batch_closed", set_data("period_end", None)),
    ],
)
def test_what_the_document_refuses_the_runtime_refuses_too(
    valid_data: dict[str, dict[str, Any]], event_type: str, change: Change
) -> None:
    message = written_message(event_type, valid_data[event_type])
    change(message)

    assert not validator_for(event_type, REGISTRY.newest_version(event_type)).is_valid(message)
    assert runtime_refuses(message)


def unbalance(message: dict[str, Any]) -> None:
    message["data"]["entries"][0]["amount"] += 1


def version_as_float(message: dict[str, Any]) -> None:
    message["version"] = float(message["version"])


@pytest.mark.parametrize(
    ("event_type", "change", "where", "rule"),
    [
        ("payment.succeeded", set_data("amount", 3000.0), "/data/amount", "strict_integer"),
        ("payment.succeeded", set_data("amount", 3e3), "/data/amount", "strict_integer"),
        ("payment.succeeded", version_as_float, "/version", "strict_integer"),
        ("ledger.transaction_posted", unbalance, "/data", "balanced_entries"),
        (
            "settlement.batch_closed",
            set_data("net_amount", 1),
            "/data",
            "net_is_gross_less_refunds_fees_and_reversals",
        ),
        (
            "settlement.batch_closed",
            set_data("period_end", "2025-02-01T00:00:00Z"),
            "/data",
            "period_end_after_start",
        ),
        (
            "settlement.batch_closed",
            set_data("period_end", "2025-03-02T00:00:00"),
            "/data/period_end",
            "utc_timestamp",
        ),
    ],
)
def test_where_the_runtime_is_stricter_the_document_names_the_rule(
    valid_data: dict[str, dict[str, Any]], event_type: str, change: Change, where: str, rule: str
) -> None:
    message = written_message(event_type, valid_data[event_type])
    change(message)
    version = REGISTRY.newest_version(event_type)
    document = DOCUMENTS[f"{event_type}/v{version}.json"]
    location = document
    for name in where.strip("/").split("/"):
        location = location["properties"][name]

    assert runtime_refuses(message)
    assert validator_for(event_type, version).is_valid(message)
    assert rule in [listed["id"] for listed in location[RUNTIME_RULES]]
