"""Charges over HTTP against the real Redis: outcomes, idempotency, lookups."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from flask.testing import FlaskClient

from paykit.testing import wait_until
from psp_simulator.domain.outcomes import Timings
from psp_simulator.testing import AppFactory, ChargeMaker, charge_body, serving

pytestmark = pytest.mark.integration

OUTCOME_DELAY = 0.1


def get_charge(client: FlaskClient, charge_id: str) -> dict[str, Any]:
    response = client.get(f"/charges/{charge_id}")
    assert response.status_code == 200
    body: dict[str, Any] = response.json or {}
    return body


def settled(client: FlaskClient, charge_id: str) -> dict[str, Any]:
    assert wait_until(lambda: get_charge(client, charge_id)["status"] != "processing", 5, 0.02)
    return get_charge(client, charge_id)


@pytest.mark.parametrize(
    ("payment_method", "status", "failure_code"),
    [
        ("pm_card_visa", "succeeded", None),
        ("pm_card_declined", "failed", "card_declined"),
        ("pm_card_insufficient_funds", "failed", "insufficient_funds"),
        ("pm_card_duplicate_webhook", "succeeded", None),
        ("pm_card_out_of_order", "succeeded", None),
        ("pm_card_early_failure", "succeeded", None),
        ("pm_card_slow_webhook", "succeeded", None),
    ],
)
def test_charge_answers_processing_then_settles_to_its_tokens_outcome(
    client: FlaskClient,
    make_charge: ChargeMaker,
    payment_method: str,
    status: str,
    failure_code: str | None,
) -> None:
    created = make_charge(payment_method, amount=4200)
    assert created["status"] == "processing"
    assert created["failure_code"] is None
    assert created["id"].startswith("ch_")
    assert (created["amount"], created["currency"]) == (4200, "EUR")
    assert created["created_at"].endswith("Z")
    final = settled(client, created["id"])
    assert (final["status"], final["failure_code"]) == (status, failure_code)
    assert {k: v for k, v in final.items() if k not in {"status", "failure_code"}} == {
        k: v for k, v in created.items() if k not in {"status", "failure_code"}
    }


def test_unknown_payment_method_is_refused(client: FlaskClient, unique: str) -> None:
    response = client.post(
        "/charges",
        json=charge_body(f"PAY_{unique}", "pm_card_mastercard"),
        headers={"Idempotency-Key": unique},
    )
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.json is not None and response.json["code"] == "unknown_payment_method"


def test_charge_without_idempotency_key_is_refused(client: FlaskClient, unique: str) -> None:
    response = client.post("/charges", json=charge_body(f"PAY_{unique}"))
    assert response.status_code == 400
    assert response.json is not None and response.json["code"] == "idempotency_key_required"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"amount": 10.5}, "amount"),
        ({"amount": "3000"}, "amount"),
        ({"amount": True}, "amount"),
        ({"currency": "eur"}, "currency"),
        ({"currency": "XXX"}, "currency"),
        ({"reference": "ORDER-1"}, "reference"),
        ({"payment_method": 7}, "payment_method"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_invalid_charge_request_is_refused_naming_the_field(
    client: FlaskClient, unique: str, change: dict[str, Any], field: str
) -> None:
    response = client.post(
        "/charges",
        json={**charge_body(f"PAY_{unique}"), **change},
        headers={"Idempotency-Key": unique},
    )
    assert response.status_code == 400
    assert response.json is not None
    assert response.json["code"] == "invalid_request"
    assert field in response.json["errors"]


def test_unknown_charge_is_not_found(client: FlaskClient) -> None:
    response = client.get("/charges/ch_000000000000000000000000")
    assert response.status_code == 404
    assert response.json is not None and response.json["code"] == "charge_not_found"


def test_same_key_and_body_returns_the_same_charge_in_its_current_state(
    client: FlaskClient, unique: str
) -> None:
    body, headers = charge_body(f"PAY_{unique}"), {"Idempotency-Key": f"PAYID-{unique}"}
    first = client.post("/charges", json=body, headers=headers)
    time.sleep(OUTCOME_DELAY + 0.05)
    replay = client.post("/charges", json=dict(reversed(list(body.items()))), headers=headers)
    assert (first.status_code, replay.status_code) == (201, 200)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert first.json is not None and replay.json is not None
    assert replay.json["id"] == first.json["id"]
    assert (first.json["status"], replay.json["status"]) == ("processing", "succeeded")
    listed = client.get(f"/charges?reference=PAY_{unique}").json
    assert listed is not None and len(listed["data"]) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"amount": 3001},
        {"currency": "USD"},
        {"payment_method": "pm_card_declined"},
        {"reference": "PAY_other"},
    ],
)
def test_same_key_with_a_different_body_is_refused(
    client: FlaskClient, unique: str, change: dict[str, Any]
) -> None:
    body, headers = charge_body(f"PAY_{unique}"), {"Idempotency-Key": f"PAYID-{unique}"}
    assert client.post("/charges", json=body, headers=headers).status_code == 201
    reused = client.post("/charges", json={**body, **change}, headers=headers)
    assert reused.status_code == 422
    assert reused.json is not None and reused.json["code"] == "idempotency_key_reused"
    listed = client.get(f"/charges?reference=PAY_{unique}").json
    assert listed is not None and len(listed["data"]) == 1


def test_fifty_concurrent_identical_posts_make_one_charge_with_identical_answers(
    make_app: AppFactory, unique: str
) -> None:
    # Outcomes far off, so every answer shows the same "processing" charge.
    app = make_app(
        timings=Timings(
            outcome_delay=30.0, response_delay=0.0, slow_webhook_delay=0.0, late_webhook_delay=0.0
        )
    )
    body, headers = charge_body(f"PAY_{unique}"), {"Idempotency-Key": f"PAYID-{unique}"}
    start = threading.Barrier(50)

    with serving(app) as url, httpx.Client(base_url=url, timeout=30) as http:

        def post(_: int) -> httpx.Response:
            start.wait(timeout=30)
            return http.post("/charges", json=body, headers=headers)

        with ThreadPoolExecutor(max_workers=50) as pool:
            responses = list(pool.map(post, range(50)))
        listed = http.get("/charges", params={"reference": f"PAY_{unique}"}).json()["data"]
        deliveries = http.get("/_admin/deliveries", params={"reference": f"PAY_{unique}"})

    assert sorted(r.status_code for r in responses) == [200] * 49 + [201]
    assert len({r.content for r in responses}) == 1
    assert len(listed) == 1
    assert len(deliveries.json()["data"]) == 1


def test_charges_are_found_by_reference_in_creation_order(client: FlaskClient, unique: str) -> None:
    reference = f"PAY_{unique}"
    ids = []
    for n in range(3):
        response = client.post(
            "/charges", json=charge_body(reference), headers={"Idempotency-Key": f"{unique}-{n}"}
        )
        assert response.json is not None
        ids.append(response.json["id"])
    listed = client.get(f"/charges?reference={reference}").json
    assert listed is not None and [c["id"] for c in listed["data"]] == ids
    assert client.get("/charges?reference=PAY_nobody").json == {"data": []}
    assert client.get("/charges").status_code == 400


def test_timeout_token_holds_the_answer_back_but_the_charge_succeeds(
    served_app: str, unique: str
) -> None:
    reference = f"PAY_{unique}"
    body = charge_body(reference, "pm_card_timeout")
    headers = {"Idempotency-Key": f"PAYID-{unique}"}
    with httpx.Client(base_url=served_app, timeout=5) as http:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            http.post("/charges", json=body, headers=headers, timeout=0.5)
        assert time.monotonic() - started < 1.5

        def found() -> list[dict[str, Any]]:
            data: list[dict[str, Any]] = http.get(
                "/charges", params={"reference": reference}
            ).json()["data"]
            return data

        assert wait_until(lambda: [c["status"] for c in found()] == ["succeeded"], 5, 0.05)
        [charge] = found()
        assert http.get(f"/charges/{charge['id']}").json()["status"] == "succeeded"

        started = time.monotonic()
        replay = http.post("/charges", json=body, headers=headers)
        assert time.monotonic() - started < 0.5
        assert replay.status_code == 200
        assert replay.json()["id"] == charge["id"]

        deliveries = http.get("/_admin/deliveries", params={"reference": reference}).json()
        assert deliveries == {"data": []}


def test_held_back_answer_arrives_after_the_configured_delay(
    make_app: AppFactory, unique: str
) -> None:
    client = make_app().test_client()
    started = time.monotonic()
    response = client.post(
        "/charges",
        json=charge_body(f"PAY_{unique}", "pm_card_timeout"),
        headers={"Idempotency-Key": unique},
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 201
    assert make_app.settings.timings.response_delay <= elapsed < 10
    assert response.json is not None and response.json["status"] == "succeeded"


def test_stopping_cuts_a_held_back_answer_short(make_app: AppFactory, unique: str) -> None:
    client = make_app().test_client()
    answers: list[int] = []

    def post() -> None:
        response = client.post(
            "/charges",
            json=charge_body(f"PAY_{unique}", "pm_card_timeout"),
            headers={"Idempotency-Key": unique},
        )
        answers.append(response.status_code)

    thread = threading.Thread(target=post)
    thread.start()
    time.sleep(0.3)
    assert answers == []
    make_app.stopping.set()
    thread.join(timeout=2)
    assert answers == [201]
