"""Injected faults, set at run time through the admin API and shared by every worker."""

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask.testing import FlaskClient

from paykit.testing import wait_until
from psp_simulator.domain.faults import Faults
from psp_simulator.testing import AppFactory, charge_body

pytestmark = pytest.mark.integration


def faults_now(client: FlaskClient) -> dict[str, Any]:
    answer: dict[str, Any] = client.get("/_admin/faults").get_json()
    return answer


def put_faults(client: FlaskClient, **faults: object) -> None:
    response = client.put("/_admin/faults", json=faults)
    assert response.status_code == 200, response.json


NO_HANGS = {
    "silent": False,
    "hang_ms": 0,
    "hang_calls": 0,
    "hang_payment_method": None,
    "hang_calls_left": 0,
    "hanging": 0,
}


def test_no_faults_by_default(client: FlaskClient) -> None:
    assert client.get("/_admin/faults").json == {
        "latency_ms": 0,
        "error_rate": 0.0,
        "down": False,
        **NO_HANGS,
        "source": "default",
    }


def test_down_answers_every_api_call_with_503(client: FlaskClient, unique: str) -> None:
    put_faults(client, down=True)
    charge = client.post(
        "/charges", json=charge_body(f"PAY_{unique}"), headers={"Idempotency-Key": unique}
    )
    lookup = client.get("/charges/ch_000000000000000000000000")
    refund = client.post("/refunds", json={}, headers={"Idempotency-Key": unique})
    for response in (charge, lookup, refund):
        assert response.status_code == 503
        assert response.mimetype == "application/problem+json"
        assert response.json is not None and response.json["code"] == "psp_unavailable"
        assert response.headers["Retry-After"] == "1"
    assert client.get(f"/charges?reference=PAY_{unique}").status_code == 503


def test_a_refused_call_created_nothing(client: FlaskClient, unique: str) -> None:
    put_faults(client, down=True)
    body, headers = charge_body(f"PAY_{unique}"), {"Idempotency-Key": unique}
    assert client.post("/charges", json=body, headers=headers).status_code == 503
    assert client.get(f"/_admin/charges?reference=PAY_{unique}").json == {"data": []}
    client.delete("/_admin/faults")
    assert client.post("/charges", json=body, headers=headers).status_code == 201
    listed = client.get(f"/_admin/charges?reference=PAY_{unique}").json
    assert listed is not None and len(listed["data"]) == 1
    assert client.get("/_admin/charges").status_code == 400


def test_faults_never_touch_admin_and_probes(client: FlaskClient) -> None:
    put_faults(client, down=True, latency_ms=1000)
    started = time.monotonic()
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/_admin/faults").status_code == 200
    assert client.get("/_admin/deliveries?reference=PAY_x").status_code == 200
    assert client.get("/_admin/charges?reference=PAY_x").json == {"data": []}
    assert time.monotonic() - started < 0.5


def test_latency_is_added_to_api_calls(client: FlaskClient) -> None:
    put_faults(client, latency_ms=300)
    started = time.monotonic()
    response = client.get("/charges/ch_000000000000000000000000")
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 404


def test_full_error_rate_fails_every_call_with_500_or_503(client: FlaskClient) -> None:
    put_faults(client, error_rate=1.0)
    statuses = {client.get("/charges/ch_000000000000000000000000").status_code for _ in range(40)}
    assert statuses <= {500, 503}
    assert statuses == {500, 503}  # both kinds appear in 40 calls (odds of not: 2 in 10^12)


def test_partial_error_rate_fails_some_calls(client: FlaskClient) -> None:
    put_faults(client, error_rate=0.5)
    statuses = [client.get("/charges/ch_000000000000000000000000").status_code for _ in range(60)]
    assert 0 < statuses.count(404) < 60


def test_delete_clears_the_faults(client: FlaskClient, unique: str) -> None:
    put_faults(client, down=True, latency_ms=50, error_rate=0.5)
    cleared = client.delete("/_admin/faults")
    assert cleared.status_code == 200
    assert cleared.json is not None and cleared.json["source"] == "default"
    assert not cleared.json["down"]
    response = client.post(
        "/charges", json=charge_body(f"PAY_{unique}"), headers={"Idempotency-Key": unique}
    )
    assert response.status_code == 201


def test_put_replaces_all_faults_and_get_shows_them(client: FlaskClient) -> None:
    put_faults(client, down=True, latency_ms=10)
    put_faults(client, error_rate=0.25)
    assert client.get("/_admin/faults").json == {
        "latency_ms": 0,
        "error_rate": 0.25,
        "down": False,
        **NO_HANGS,
        "source": "runtime",
    }


@pytest.mark.parametrize(
    "faults",
    [
        {"latency_ms": -1},
        {"latency_ms": 1.5},
        {"error_rate": 1.5},
        {"error_rate": True},
        {"down": 1},
        {"down": "true"},
        {"slow": True},
        {"silent": "yes"},
        {"hang_ms": -1},
        {"hang_ms": 120_001},
        {"hang_calls": 1},  # without hang_ms: how long?
        {"hang_payment_method": "pm_card_visa"},
        {"hang_ms": 100, "hang_payment_method": ""},
        {"hang_ms": 100, "hang_calls": 1001},
    ],
)
def test_invalid_faults_are_refused(client: FlaskClient, faults: dict[str, object]) -> None:
    response = client.put("/_admin/faults", json=faults)
    assert response.status_code == 400
    assert response.json is not None and response.json["code"] == "invalid_request"


def test_faults_set_through_one_worker_apply_in_every_other(make_app: AppFactory) -> None:
    first, second = make_app().test_client(), make_app().test_client()
    put_faults(first, down=True)
    assert second.get("/charges/ch_000000000000000000000000").status_code == 503
    second.delete("/_admin/faults")
    assert first.get("/charges/ch_000000000000000000000000").status_code == 404


def test_faults_default_from_settings_until_changed(make_app: AppFactory) -> None:
    client = make_app(default_faults=Faults(down=True)).test_client()
    assert client.get("/charges/ch_000000000000000000000000").status_code == 503
    put_faults(client)
    assert client.get("/charges/ch_000000000000000000000000").status_code == 404
    client.delete("/_admin/faults")
    assert client.get("/_admin/faults").json == {
        "latency_ms": 0,
        "error_rate": 0.0,
        "down": True,
        **NO_HANGS,
        "source": "default",
    }


def test_a_hung_charge_waits_before_it_does_anything_and_only_as_many_as_asked(
    make_app: AppFactory, unique: str
) -> None:
    client = make_app().test_client()
    put_faults(client, hang_ms=400, hang_calls=1)
    watcher = make_app().test_client()
    seen_while_hanging: list[object] = []

    def charge(suffix: str) -> tuple[int, float]:
        started = time.monotonic()
        response = client.post(
            "/charges",
            json=charge_body(f"PAY_{unique}{suffix}"),
            headers={"Idempotency-Key": f"{unique}{suffix}"},
        )
        return response.status_code, time.monotonic() - started

    with ThreadPoolExecutor(1) as pool:
        hung = pool.submit(charge, "a")
        assert wait_until(lambda: faults_now(watcher)["hanging"] == 1, timeout=5)
        listed = watcher.get(f"/_admin/charges?reference=PAY_{unique}a").get_json()
        seen_while_hanging.append(listed["data"])
        status, took = hung.result(timeout=10)
    assert (status, took >= 0.4) == (201, True)
    assert seen_while_hanging == [[]]  # nothing was made while it hung
    assert charge("b")[1] < 0.4  # the budget was one call
    state = faults_now(watcher)
    assert (state["hang_calls_left"], state["hanging"]) == (0, 0)


def test_a_request_that_hung_past_its_caller_replays_the_charge_its_retry_made(
    make_app: AppFactory, unique: str
) -> None:
    client, retrier = make_app().test_client(), make_app().test_client()
    put_faults(client, hang_ms=500, hang_calls=1)
    body, headers = charge_body(f"PAY_{unique}"), {"Idempotency-Key": unique}
    with ThreadPoolExecutor(1) as pool:
        hung = pool.submit(client.post, "/charges", json=body, headers=headers)
        assert wait_until(lambda: faults_now(retrier)["hanging"] == 1, timeout=5)
        assert retrier.post("/charges", json=body, headers=headers).status_code == 201
        assert hung.result(timeout=10).status_code == 200  # a replay: no second charge
    listed = client.get(f"/_admin/charges?reference=PAY_{unique}").get_json()
    assert len(listed["data"]) == 1


def test_a_silent_psp_sends_no_webhook_for_what_it_made_meanwhile(
    client: FlaskClient, unique: str
) -> None:
    put_faults(client, silent=True)
    body = charge_body(f"PAY_{unique}")
    assert (
        client.post("/charges", json=body, headers={"Idempotency-Key": unique}).status_code == 201
    )
    client.delete("/_admin/faults")

    assert client.get(f"/_admin/deliveries?reference=PAY_{unique}").json == {"data": []}


def test_a_hang_for_one_payment_method_holds_only_its_charges(
    make_app: AppFactory, unique: str
) -> None:
    client = make_app().test_client()
    put_faults(client, hang_ms=400, hang_payment_method="pm_card_slow_webhook")
    started = time.monotonic()
    other = client.post(
        "/charges", json=charge_body(f"PAY_{unique}o"), headers={"Idempotency-Key": f"{unique}o"}
    )
    others_took = time.monotonic() - started
    started = time.monotonic()
    held = client.post(
        "/charges",
        json={**charge_body(f"PAY_{unique}h"), "payment_method": "pm_card_slow_webhook"},
        headers={"Idempotency-Key": f"{unique}h"},
    )
    held_took = time.monotonic() - started

    assert (other.status_code, held.status_code) == (201, 201)
    assert others_took < 0.4 <= held_took
