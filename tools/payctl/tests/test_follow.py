"""payctl payments follow shows each step of a payment's way to the bank as it happens.

The stand-in moves a payment (then its batch) one step each time it is read, so every poll of
follow sees something new.
"""

from __future__ import annotations

import json

from payctl.standin import Payctl, StandIn


def _payment(payctl: Payctl, method: str = "pm_card_visa") -> str:
    made = payctl(
        "payments", "create", "--amount", "3000", "--currency", "EUR", "--method", method, "--json"
    )
    assert made.exit_code == 0, made.stderr
    return str(json.loads(made.stdout)["id"])


def test_a_payment_is_followed_step_by_step_until_it_is_paid_out(
    payctl: Payctl, merchant_login: str
) -> None:
    payment_id = _payment(payctl)
    result = payctl("payments", "follow", payment_id, "--interval", "0.01", "--timeout", "30")
    assert result.exit_code == 0, result.stderr
    steps = [line.split("  ")[1] for line in result.stdout.splitlines()]
    assert steps == [
        "created",
        "processing",
        "succeeded",
        "in a settlement batch",
        "batch closed",
        "paid out",
    ]
    assert f"STL_{payment_id} (net 2990 EUR)" in result.stdout


def test_follow_in_json_is_one_object_a_line_per_step(payctl: Payctl, merchant_login: str) -> None:
    payment_id = _payment(payctl)
    result = payctl("--json", "payments", "follow", payment_id, "--interval", "0.01")
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["step"] for r in records][-1] == "paid out"
    assert {r["payment_id"] for r in records} == {payment_id}


def test_a_declined_payment_ends_the_follow_with_its_failure(
    payctl: Payctl, merchant_login: str
) -> None:
    payment_id = _payment(payctl, "pm_card_declined")
    result = payctl("payments", "follow", payment_id, "--interval", "0.01")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1].split("  ")[1:] == ["failed", "card_declined"]


def test_follow_gives_up_at_its_timeout_naming_the_last_step(
    standin: StandIn, payctl: Payctl, merchant_login: str
) -> None:
    payment_id = _payment(payctl)
    result = payctl("payments", "follow", payment_id, "--timeout", "0")
    assert result.exit_code == 124
    assert result.stdout.splitlines()[-1].endswith("processing")
    assert result.stderr == (
        f"error: {payment_id} was not paid out within 0 s (last step: processing)\n"
    )


def test_follow_of_an_unknown_payment_is_the_gateways_404(
    payctl: Payctl, merchant_login: str
) -> None:
    result = payctl("payments", "follow", "PAY_nothing")
    assert result.exit_code == 1
    assert "(payment_not_found, HTTP 404)" in result.stderr
