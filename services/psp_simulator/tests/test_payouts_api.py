"""The bank's payouts: idempotent per batch attempt, decided by the test account, reported by
a signed webhook to the payout endpoint and re-checkable by GET."""

from typing import Any

import pytest
from flask.testing import FlaskClient

from paykit.testing import wait_until
from psp_simulator.testing import (
    AppFactory,
    SenderRunner,
    WebhookReceiver,
    admin_deliveries,
    payout_body,
    payout_key,
)

pytestmark = pytest.mark.integration


def post_payout(client: FlaskClient, body: dict[str, Any]) -> Any:
    return client.post("/payouts", json=body, headers=payout_key(body))


def payout_once_decided(client: FlaskClient, payout_id: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def decided() -> bool:
        response = client.get(f"/payouts/{payout_id}")
        assert response.status_code == 200
        seen.update(response.json or {})
        return bool(seen["status"] != "pending")

    assert wait_until(decided, 10, 0.05)
    return seen


def test_a_new_payout_is_pending_and_a_replay_answers_the_same_record(
    client: FlaskClient, unique: str
) -> None:
    body = payout_body(f"BAT_{unique}")

    first = post_payout(client, body)
    again = post_payout(client, {**body})

    assert first.status_code == 201
    payout = first.json or {}
    assert payout["id"].startswith("po_")
    assert first.headers["Location"] == f"/payouts/{payout['id']}"
    assert {k: payout[k] for k in body} == body
    assert payout["status"] == "pending"
    assert payout["failure_code"] is None and payout["decided_at"] is None
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (again.json or {})["id"] == payout["id"]
    listed = client.get("/payouts", query_string={"batch_id": body["batch_id"]}).json or {}
    assert [p["id"] for p in listed["data"]] == [payout["id"]]


def test_the_same_key_with_another_body_is_refused_with_409(
    client: FlaskClient, unique: str
) -> None:
    body = payout_body(f"BAT_{unique}")
    assert post_payout(client, body).status_code == 201

    response = post_payout(client, {**body, "amount": body["amount"] + 1})

    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    assert (response.json or {})["code"] == "idempotency_key_reused"


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"amount": "100"}, 400, "invalid_request"),
        ({"amount": 0}, 400, "invalid_request"),
        ({"attempt": 0}, 400, "invalid_request"),
        ({"currency": "XXY"}, 400, "invalid_request"),
        ({"surprise": True}, 400, "invalid_request"),
    ],
)
def test_bad_input_is_a_problem_not_a_crash(
    client: FlaskClient, unique: str, change: dict[str, Any], status: int, code: str
) -> None:
    body = {**payout_body(f"BAT_{unique}"), **change}

    response = client.post("/payouts", json=body, headers={"Idempotency-Key": f"BAT_{unique}:1"})

    assert response.status_code == status
    assert (response.json or {})["code"] == code


def test_a_key_other_than_batch_and_attempt_or_none_is_refused(
    client: FlaskClient, unique: str
) -> None:
    body = payout_body(f"BAT_{unique}")

    wrong = client.post("/payouts", json=body, headers={"Idempotency-Key": f"BAT_{unique}:2"})
    missing = client.post("/payouts", json=body)

    assert wrong.status_code == 422
    assert (wrong.json or {})["code"] == "idempotency_key_mismatch"
    assert missing.status_code == 400
    assert (missing.json or {})["code"] == "idempotency_key_required"


@pytest.mark.parametrize(
    ("bank_account", "status", "failure_code"),
    [
        ("acct_ok", "paid", None),
        ("acct_silent", "paid", None),
        ("acct_closed", "failed", "account_closed"),
        ("acct_invalid", "failed", "invalid_account"),
    ],
)
def test_the_test_account_decides_the_outcome_shown_after_the_delay(
    client: FlaskClient, unique: str, bank_account: str, status: str, failure_code: str | None
) -> None:
    created = post_payout(client, payout_body(f"BAT_{unique}", bank_account)).json or {}

    payout = payout_once_decided(client, created["id"])

    assert payout["status"] == status
    assert payout["failure_code"] == failure_code
    assert (payout["failure_message"] is None) == (failure_code is None)
    assert payout["decided_at"] is not None


def test_an_unavailable_bank_answers_503_and_records_nothing(
    client: FlaskClient, unique: str
) -> None:
    body = payout_body(f"BAT_{unique}", "acct_unavailable")

    response = post_payout(client, body)

    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert (response.json or {})["code"] == "bank_unavailable"
    assert response.headers["Retry-After"] == "1"
    listed = client.get("/payouts", query_string={"batch_id": body["batch_id"]}).json or {}
    assert listed["data"] == []
    # Nothing was stored under the key either: the retry with a working account goes through.
    assert post_payout(client, {**body, "bank_account": "acct_ok"}).status_code == 201


def test_attempts_of_a_batch_are_listed_newest_attempt_last(
    client: FlaskClient, unique: str
) -> None:
    batch_id = f"BAT_{unique}"
    second = post_payout(client, payout_body(batch_id, attempt=2)).json or {}
    first = post_payout(client, payout_body(batch_id, "acct_closed", attempt=1)).json or {}

    listed = client.get("/payouts", query_string={"batch_id": batch_id}).json or {}

    assert [p["id"] for p in listed["data"]] == [first["id"], second["id"]]
    assert [p["attempt"] for p in listed["data"]] == [1, 2]


def test_unknown_payouts_and_lookups_without_a_batch_are_problems(client: FlaskClient) -> None:
    unknown = client.get("/payouts/po_nope")
    no_batch = client.get("/payouts")

    assert unknown.status_code == 404
    assert (unknown.json or {})["code"] == "payout_not_found"
    assert no_batch.status_code == 400


@pytest.mark.parametrize(
    ("bank_account", "event_type", "failure_code"),
    [("acct_ok", "payout.paid", None), ("acct_closed", "payout.failed", "account_closed")],
)
def test_the_outcome_arrives_as_a_signed_webhook_at_the_payout_endpoint(
    client: FlaskClient,
    unique: str,
    receiver: WebhookReceiver,
    senders: SenderRunner,
    bank_account: str,
    event_type: str,
    failure_code: str | None,
) -> None:
    senders.start()
    body = payout_body(f"BAT_{unique}", bank_account)
    created = post_payout(client, body).json or {}

    assert wait_until(lambda: bool(receiver.received_for_payout(created["id"])), 10, 0.05)
    [webhook] = receiver.received_for_payout(created["id"])
    payout = payout_once_decided(client, created["id"])
    assert webhook.signature_valid
    assert webhook.path == "/webhooks/psp/payouts"
    assert webhook.event == {
        "type": event_type,
        "payout_id": created["id"],
        "batch_id": body["batch_id"],
        "attempt": 1,
        "merchant_id": body["merchant_id"],
        "amount": body["amount"],
        "currency": "EUR",
        "failure_code": failure_code,
        "failure_message": payout["failure_message"],
        "occurred_at": payout["decided_at"],
    }


def test_a_rejected_payout_webhook_is_retried_until_accepted(
    client: FlaskClient, unique: str, receiver: WebhookReceiver, senders: SenderRunner
) -> None:
    receiver.answers = [500, 503]
    senders.start()
    created = post_payout(client, payout_body(f"BAT_{unique}")).json or {}

    payout_id = created["id"]
    assert wait_until(lambda: admin_deliveries(client, payout_id)[0]["state"] == "delivered", 10)
    [delivery] = admin_deliveries(client, payout_id)
    assert delivery["attempts"] == 3
    assert [w.answered for w in receiver.received_for_payout(created["id"])] == [500, 503, 200]


def test_a_silent_bank_pays_but_never_sends_a_webhook(
    client: FlaskClient, unique: str, receiver: WebhookReceiver, senders: SenderRunner
) -> None:
    senders.start()
    silent = post_payout(client, payout_body(f"BAT_{unique}_s", "acct_silent")).json or {}
    loud = post_payout(client, payout_body(f"BAT_{unique}_l")).json or {}

    # The loud one is decided no earlier than the silent one: once its webhook is in, the
    # silent one would have been sent too.
    assert wait_until(lambda: bool(receiver.received_for_payout(loud["id"])), 10, 0.05)
    assert payout_once_decided(client, silent["id"])["status"] == "paid"
    assert receiver.received_for_payout(silent["id"]) == []
    assert admin_deliveries(client, silent["id"]) == []


def test_payouts_and_their_pending_webhooks_survive_a_restart(
    make_app: AppFactory, unique: str, receiver: WebhookReceiver, senders: SenderRunner
) -> None:
    before = make_app().test_client()
    created = post_payout(before, payout_body(f"BAT_{unique}")).json or {}
    del before  # the process that took it is gone; only Redis remains

    after = make_app().test_client()
    senders.start()

    assert payout_once_decided(after, created["id"])["status"] == "paid"
    assert wait_until(lambda: bool(receiver.received_for_payout(created["id"])), 10, 0.05)
