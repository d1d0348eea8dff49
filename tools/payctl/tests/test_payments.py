"""A merchant's payments through payctl: tables for people, the API's JSON for scripts."""

from __future__ import annotations

import json
import socket

from payctl.standin import Payctl, StandIn


def _create(payctl: Payctl, *extra: str) -> dict[str, object]:
    result = payctl(
        "payments",
        "create",
        "--amount",
        "3000",
        "--currency",
        "eur",
        "--method",
        "pm_card_visa",
        *extra,
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    made: dict[str, object] = json.loads(result.stdout)
    return made


def test_create_answers_the_payment_as_json_and_sends_a_fresh_idempotency_key_each_time(
    standin: StandIn, payctl: Payctl, merchant_login: str
) -> None:
    first, second = _create(payctl), _create(payctl)
    assert first["status"] == "created" and first["currency"] == "EUR"
    keys = [r["idempotency_key"] for r in standin.state.requests if r["path"] == "/v1/payments"]
    assert len(keys) == 2 and all(keys) and keys[0] != keys[1]
    assert first["id"] != second["id"]


def test_a_given_idempotency_key_is_sent_as_given(
    standin: StandIn, payctl: Payctl, merchant_login: str
) -> None:
    _create(payctl, "--idempotency-key", "order-42", "--description", "order 42")
    sent = [r for r in standin.state.requests if r["path"] == "/v1/payments"]
    assert sent[-1]["idempotency_key"] == "order-42"


def test_get_shows_the_payment_as_key_value_lines(payctl: Payctl, merchant_login: str) -> None:
    made = _create(payctl)
    result = payctl("payments", "get", str(made["id"]))
    assert result.exit_code == 0, result.stderr
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert lines["id"] == made["id"]
    assert lines["amount"] == "3000" and lines["currency"] == "EUR"


def test_list_is_a_table_with_the_next_page_named_and_the_same_page_in_json(
    standin: StandIn, payctl: Payctl, merchant_login: str
) -> None:
    made = [_create(payctl)["id"] for _ in range(3)]
    table = payctl("payments", "list", "--limit", "2")
    assert table.exit_code == 0, table.stderr
    header, *rows, more = table.stdout.splitlines()
    assert header.split() == ["ID", "STATUS", "AMOUNT", "CURRENCY", "AMOUNT_REFUNDED", "CREATED_AT"]
    assert [row.split()[0] for row in rows] == [made[2], made[1]]
    assert more == "more: --cursor 2"
    page = json.loads(payctl("payments", "list", "--limit", "2", "--cursor", "2", "--json").stdout)
    assert [p["id"] for p in page["data"]] == [made[0]]
    assert page["next_cursor"] is None


def test_list_passes_the_status_filter(
    standin: StandIn, payctl: Payctl, merchant_login: str
) -> None:
    _create(payctl)
    result = payctl("payments", "list", "--status", "succeeded")
    assert (result.exit_code, result.stdout) == (0, "(none)\n")
    assert standin.state.requests[-1]["args"] == {"status": "succeeded", "limit": "20"}


def test_a_partial_refund(standin: StandIn, payctl: Payctl, merchant_login: str) -> None:
    made = _create(payctl)
    result = payctl("payments", "refund", str(made["id"]), "--amount", "1000", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["amount"] == 1000
    assert standin.state.payments[str(made["id"])]["amount_refunded"] == 1000


def test_a_refused_request_is_one_line_with_title_detail_code_and_field_errors(
    payctl: Payctl, merchant_login: str
) -> None:
    result = payctl(
        "payments", "create", "--amount", "3000", "--currency", "XXX", "--method", "pm_card_visa"
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "error: gateway: Unprocessable Entity: The request body is not valid."
        " (validation_failed, HTTP 422); currency: Must be one of EUR, GBP, USD.\n"
    )


def test_another_merchants_payment_is_not_found(
    standin: StandIn, payctl: Payctl, merchant_login: str
) -> None:
    standin.state.payments["PAY_other"] = {"id": "PAY_other", "merchant_id": "MER_other"}
    result = payctl("payments", "refund", "PAY_other", "--json")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: gateway: Not Found: no payment PAY_other (payment_not_found, HTTP 404)\n"
    )


def test_a_gateway_that_is_not_there_is_named(payctl: Payctl, merchant_login: str) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{unused.getsockname()[1]}"
    result = payctl("merchants", "list", PAYCTL_GATEWAY_URL=nowhere)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: cannot reach the gateway at {nowhere}: ")
    assert "refused" in result.stderr and len(result.stderr.splitlines()) == 1


def test_balances_per_currency(payctl: Payctl, merchant_login: str) -> None:
    result = payctl("balances")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[1].split() == ["EUR", "2930", "0", "0"]
    as_json = json.loads(payctl("--json", "balances").stdout)
    assert as_json["data"][0]["escrow"] == 2930
