"""Refunds over HTTP against the real Redis: the rules, idempotency and concurrency."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from flask.testing import FlaskClient

from paykit.testing import wait_until
from psp_simulator.testing import ChargeMaker

pytestmark = pytest.mark.integration


def succeeded_charge(client: FlaskClient, make_charge: ChargeMaker, amount: int = 3000) -> str:
    charge_id = str(make_charge(amount=amount)["id"])
    assert wait_until(
        lambda: (client.get(f"/charges/{charge_id}").json or {})["status"] == "succeeded", 5, 0.02
    )
    return charge_id


def refund(
    client: FlaskClient, charge_id: str, amount: int, key: str, reference: str = "RFD_1"
) -> tuple[int, dict[str, Any]]:
    response = client.post(
        "/refunds",
        json={"charge_id": charge_id, "amount": amount, "reference": reference},
        headers={"Idempotency-Key": key},
    )
    return response.status_code, response.json or {}


def test_refund_of_a_succeeded_charge_is_accepted_then_succeeds(
    client: FlaskClient, make_charge: ChargeMaker, unique: str
) -> None:
    charge_id = succeeded_charge(client, make_charge)
    status, body = refund(client, charge_id, 1000, f"RFDID-{unique}", f"RFD_{unique}")
    assert status == 201
    assert body["id"].startswith("re_")
    assert body["status"] == "processing"
    assert {k: body[k] for k in ("charge_id", "reference", "amount", "currency")} == {
        "charge_id": charge_id,
        "reference": f"RFD_{unique}",
        "amount": 1000,
        "currency": "EUR",
    }
    assert wait_until(
        lambda: (client.get(f"/refunds/{body['id']}").json or {})["status"] == "succeeded", 5, 0.02
    )


def test_partial_refunds_up_to_the_charged_amount_then_no_more(
    client: FlaskClient, make_charge: ChargeMaker, unique: str
) -> None:
    charge_id = succeeded_charge(client, make_charge)
    assert refund(client, charge_id, 2000, f"{unique}-1")[0] == 201
    status, problem = refund(client, charge_id, 1001, f"{unique}-2")
    assert (status, problem["code"], problem["refundable_amount"]) == (
        422,
        "refund_exceeds_charge",
        1000,
    )
    assert refund(client, charge_id, 1000, f"{unique}-3")[0] == 201
    status, problem = refund(client, charge_id, 1, f"{unique}-4")
    assert (status, problem["code"], problem["refundable_amount"]) == (
        422,
        "refund_exceeds_charge",
        0,
    )


def test_refund_larger_than_the_charge_is_refused(
    client: FlaskClient, make_charge: ChargeMaker, unique: str
) -> None:
    charge_id = succeeded_charge(client, make_charge)
    status, problem = refund(client, charge_id, 3001, unique)
    assert (status, problem["code"]) == (422, "refund_exceeds_charge")


def test_refund_of_an_unknown_charge_is_refused(client: FlaskClient, unique: str) -> None:
    status, problem = refund(client, "ch_000000000000000000000000", 100, unique)
    assert (status, problem["code"]) == (422, "unknown_charge")


def test_refund_of_a_charge_still_processing_is_refused(
    client: FlaskClient, make_charge: ChargeMaker, unique: str
) -> None:
    charge_id = make_charge()["id"]
    status, problem = refund(client, charge_id, 100, unique)
    assert (status, problem["code"]) == (422, "charge_not_refundable")


def test_refund_of_a_failed_charge_is_refused(
    client: FlaskClient, make_charge: ChargeMaker, unique: str
) -> None:
    charge_id = make_charge("pm_card_declined")["id"]
    time.sleep(0.2)
    status, problem = refund(client, charge_id, 100, unique)
    assert (status, problem["code"]) == (422, "charge_not_refundable")


def test_refund_replay_returns_the_same_refund_even_when_nothing_is_left(
    client: FlaskClient, make_charge: ChargeMaker, unique: str
) -> None:
    charge_id = succeeded_charge(client, make_charge)
    first_status, first = refund(client, charge_id, 3000, unique)
    replay_status, replay = refund(client, charge_id, 3000, unique)
    assert (first_status, replay_status) == (201, 200)
    assert replay["id"] == first["id"]


def test_refund_key_reused_for_a_different_refund_is_refused(
    client: FlaskClient, make_charge: ChargeMaker, unique: str
) -> None:
    charge_id = succeeded_charge(client, make_charge)
    assert refund(client, charge_id, 100, unique)[0] == 201
    status, problem = refund(client, charge_id, 200, unique)
    assert (status, problem["code"]) == (422, "idempotency_key_reused")


def test_unknown_refund_is_not_found(client: FlaskClient) -> None:
    response = client.get("/refunds/re_000000000000000000000000")
    assert response.status_code == 404
    assert response.json is not None and response.json["code"] == "refund_not_found"


def test_refund_without_idempotency_key_is_refused(
    client: FlaskClient, make_charge: ChargeMaker
) -> None:
    response = client.post(
        "/refunds", json={"charge_id": make_charge()["id"], "amount": 1, "reference": "RFD_1"}
    )
    assert response.status_code == 400
    assert response.json is not None and response.json["code"] == "idempotency_key_required"


def test_concurrent_refunds_never_exceed_the_charged_amount(
    client: FlaskClient, make_charge: ChargeMaker, served_app: str, unique: str
) -> None:
    charge_id = succeeded_charge(client, make_charge, amount=10_000)
    start = threading.Barrier(30)

    with httpx.Client(base_url=served_app, timeout=30) as http:

        def post(n: int) -> httpx.Response:
            start.wait(timeout=30)
            return http.post(
                "/refunds",
                json={"charge_id": charge_id, "amount": 700, "reference": f"RFD_{n}"},
                headers={"Idempotency-Key": f"{unique}-{n}"},
            )

        with ThreadPoolExecutor(max_workers=30) as pool:
            responses = list(pool.map(post, range(30)))

    accepted = [r for r in responses if r.status_code == 201]
    refused = [r for r in responses if r.status_code == 422]
    assert len(accepted) == 14  # 14 x 700 = 9800; a 15th would make 10500
    assert len(refused) == 16
    assert {r.json()["code"] for r in refused} == {"refund_exceeds_charge"}
    assert len({r.json()["id"] for r in accepted}) == 14


def test_concurrent_identical_refunds_make_one_refund(
    client: FlaskClient, make_charge: ChargeMaker, served_app: str, unique: str
) -> None:
    charge_id = succeeded_charge(client, make_charge)
    start = threading.Barrier(20)

    with httpx.Client(base_url=served_app, timeout=30) as http:

        def post(_: int) -> httpx.Response:
            start.wait(timeout=30)
            return http.post(
                "/refunds",
                json={"charge_id": charge_id, "amount": 3000, "reference": f"RFD_{unique}"},
                headers={"Idempotency-Key": unique},
            )

        with ThreadPoolExecutor(max_workers=20) as pool:
            responses = list(pool.map(post, range(20)))

    odd = [(r.status_code, r.text) for r in responses if r.status_code not in (200, 201)]
    assert sorted(r.status_code for r in responses) == [200] * 19 + [201], odd
    assert len({r.json()["id"] for r in responses}) == 1
