"""One notion of "the same JSON" and of a valid idempotency key."""

from __future__ import annotations

import pytest

from paykit.canonical import canonical_json, digest, valid_idempotency_key


def test_key_order_and_spacing_do_not_change_the_canonical_form() -> None:
    assert canonical_json({"b": 1, "a": [1, {"d": "é", "c": None}]}) == (
        '{"a":[1,{"c":null,"d":"é"}],"b":1}'.encode()
    )
    assert digest({"a": 1, "b": 2}) == digest({"b": 2, "a": 1})


def test_parts_cannot_run_into_each_other() -> None:
    assert digest("ab", "c") != digest("a", "bc")
    assert digest("POST /payments", {"a": 1}) != digest("POST /payments", {"a": 2})


def test_floats_that_json_cannot_carry_are_refused() -> None:
    with pytest.raises(ValueError):
        canonical_json({"amount": float("nan")})


@pytest.mark.parametrize("key", ["order-1", "a" * 255, "!~"])
def test_printable_ascii_keys_up_to_255_characters_are_valid(key: str) -> None:
    assert valid_idempotency_key(key)


@pytest.mark.parametrize("key", [None, "", "a" * 256, "has space", "tab\t", "é"])
def test_other_keys_are_not(key: str | None) -> None:
    assert not valid_idempotency_key(key)
