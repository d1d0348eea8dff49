"""POST /webhooks/psp against the real database and Redis of the test cluster."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from flask import Flask
from werkzeug.serving import make_server

from payevents import decode
from paykit.auth.webhook_signature import SIGNATURE_HEADER, sign
from paykit.logging import REDACTED
from paykit.settings import Secret

pytestmark = pytest.mark.integration

CURRENT_SECRET = "whsec_test_current_0123456789abcdef"
NEXT_SECRET = "whsec_test_next_0123456789abcdef"
RETIRED_SECRET = "whsec_test_retired_0123456789abcdef"

Body = Callable[..., dict[str, Any]]


def test_a_validly_signed_webhook_is_accepted_and_its_event_queued(
    psp: Any, payment_body: Body, webhook_db: Any, unique: str
) -> None:
    body = payment_body()

    response = psp.post(body)

    assert response.status_code == 200
    assert response.json["status"] == "accepted"
    assert response.json["psp_event_id"] == body["id"]
    delivery = webhook_db.delivery(response.json["delivery_id"])
    assert delivery["verdict"] == "accepted"
    assert delivery["reason"] is None
    assert json.loads(bytes(delivery["body"])) == body
    (row,) = webhook_db.outbox(f"PAY_{unique}")
    assert row["topic"] == "webhook-events"
    assert row["event_id"] == delivery["event_id"]
    event = decode(bytes(row["value"]))
    assert event.type == "psp.payment_status_received"
    assert event.source == "webhook"
    assert event.subject == f"PAY_{unique}"
    assert event.data == {
        "psp_event_id": body["id"],
        "payment_id": f"PAY_{unique}",
        "status": "succeeded",
        "amount": 3000,
        "currency": "EUR",
        "received_at": event.data["received_at"],
        "psp_reference": f"ch_{unique}",
        "failure_code": None,
    }


def test_the_raw_body_is_stored_byte_for_byte(
    psp: Any, payment_body: Body, webhook_db: Any
) -> None:
    raw = json.dumps(payment_body(), indent=3, ensure_ascii=False).encode() + b"\n"

    response = psp.post(raw)

    assert response.status_code == 200
    assert bytes(webhook_db.delivery(response.json["delivery_id"])["body"]) == raw


def test_a_body_changed_by_one_byte_is_refused(
    app: Flask, payment_body: Body, webhook_db: Any, unique: str
) -> None:
    raw = json.dumps(payment_body(gatewayData={"amount": 3000})).encode()
    signature = sign(raw, CURRENT_SECRET, int(time.time()))
    tampered = raw.replace(b"3000", b"9000")
    assert len(tampered) == len(raw)

    response = app.test_client().post(
        "/webhooks/psp", data=tampered, headers={SIGNATURE_HEADER: signature}
    )

    assert response.status_code == 401
    assert response.content_type == "application/problem+json"
    assert response.json["code"] == "invalid_signature"
    assert response.json["reason"] == "signature_mismatch"
    (delivery,) = webhook_db.deliveries(id=response.json["delivery_id"])
    assert delivery["verdict"] == "rejected"
    assert delivery["reason"] == "invalid_signature"
    assert bytes(delivery["body"]) == tampered
    assert webhook_db.deliveries(f"PAY_{unique}") == []
    assert webhook_db.outbox(f"PAY_{unique}") == []


def test_secret_rotation_accepts_the_new_secret_and_refuses_the_retired_one(
    make_app: Callable[..., Flask], payment_body: Body, webhook_db: Any, unique: str
) -> None:
    during_rotation = make_app(psp_webhook_secrets=(Secret(CURRENT_SECRET), Secret(NEXT_SECRET)))
    after_rotation = make_app(psp_webhook_secrets=(Secret(NEXT_SECRET),))

    def post(app: Flask, secret: str) -> Any:
        raw = json.dumps(payment_body()).encode()
        header = sign(raw, secret, int(time.time()))
        return app.test_client().post("/webhooks/psp", data=raw, headers={SIGNATURE_HEADER: header})

    assert post(during_rotation, CURRENT_SECRET).json["status"] == "accepted"
    assert post(during_rotation, NEXT_SECRET).json["status"] == "accepted"
    assert post(after_rotation, NEXT_SECRET).json["status"] == "accepted"
    refused = [post(during_rotation, RETIRED_SECRET), post(after_rotation, CURRENT_SECRET)]
    assert [r.status_code for r in refused] == [401, 401]
    assert {r.json["reason"] for r in refused} == {"signature_mismatch"}
    assert len(webhook_db.outbox(f"PAY_{unique}")) == 3


@pytest.mark.parametrize("skew", [-301, 301, -86_400], ids=["too-old", "future", "a-day-old"])
def test_a_timestamp_outside_the_tolerance_is_refused(
    psp: Any, payment_body: Body, webhook_db: Any, unique: str, skew: int
) -> None:
    response = psp.post(payment_body(), timestamp=int(time.time()) + skew)

    assert response.status_code == 401
    assert response.json["code"] == "invalid_signature"
    assert response.json["reason"] == "timestamp_out_of_tolerance"
    assert webhook_db.delivery(response.json["delivery_id"])["verdict"] == "rejected"
    assert webhook_db.outbox(f"PAY_{unique}") == []


@pytest.mark.parametrize("skew", [-290, 290])
def test_a_timestamp_inside_the_tolerance_is_accepted(
    psp: Any, payment_body: Body, skew: int
) -> None:
    response = psp.post(payment_body(), timestamp=int(time.time()) + skew)

    assert response.status_code == 200


def test_the_tolerance_is_configurable(make_app: Callable[..., Flask], payment_body: Body) -> None:
    app = make_app(tolerance_seconds=30)
    raw = json.dumps(payment_body()).encode()
    header = sign(raw, CURRENT_SECRET, int(time.time()) - 60)

    response = app.test_client().post("/webhooks/psp", data=raw, headers={SIGNATURE_HEADER: header})

    assert response.json["reason"] == "timestamp_out_of_tolerance"


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing_signature"),
        ("", "missing_signature"),
        ("v1=" + "0" * 64, "malformed_signature"),
        ("t=1700000000", "malformed_signature"),
        ("t=now,v1=" + "0" * 64, "malformed_signature"),
        ("t=1700000000,v1=abc", "malformed_signature"),
        ("sha256=deadbeef", "malformed_signature"),
    ],
)
def test_a_missing_or_malformed_signature_header_is_refused(
    app: Flask, payment_body: Body, webhook_db: Any, unique: str, header: str | None, reason: str
) -> None:
    headers = {} if header is None else {SIGNATURE_HEADER: header}

    response = app.test_client().post(
        "/webhooks/psp", data=json.dumps(payment_body()).encode(), headers=headers
    )

    assert response.status_code == 401
    assert response.json["code"] == "invalid_signature"
    assert response.json["reason"] == reason
    assert webhook_db.outbox(f"PAY_{unique}") == []


def test_a_replay_inside_the_window_answers_200_and_changes_nothing(
    psp: Any, payment_body: Body, webhook_db: Any, unique: str
) -> None:
    body = payment_body()
    raw = json.dumps(body).encode()
    signed = sign(raw, CURRENT_SECRET, int(time.time()))

    first = psp.post(raw, signature=signed)
    replay = psp.post(raw, signature=signed)
    retry = psp.post(raw)  # the PSP's own retry: same event, signed afresh

    assert first.json["status"] == "accepted"
    assert (replay.status_code, replay.json["status"]) == (200, "duplicate")
    assert (retry.status_code, retry.json["status"]) == (200, "duplicate")
    assert [d["verdict"] for d in webhook_db.deliveries(f"PAY_{unique}")] == [
        "accepted",
        "duplicate",
        "duplicate",
    ]
    assert len(webhook_db.outbox(f"PAY_{unique}")) == 1


def test_a_replay_outside_the_window_is_refused(
    psp: Any, payment_body: Body, webhook_db: Any, unique: str
) -> None:
    raw = json.dumps(payment_body()).encode()
    captured = sign(raw, CURRENT_SECRET, int(time.time()) - 600)

    response = psp.post(raw, signature=captured)

    assert response.status_code == 401
    assert response.json["reason"] == "timestamp_out_of_tolerance"
    assert webhook_db.deliveries(f"PAY_{unique}") == []


def test_the_same_delivery_posted_20_times_concurrently_yields_one_event(
    app: Flask, payment_body: Body, webhook_db: Any, unique: str
) -> None:
    raw = json.dumps(payment_body()).encode()
    headers = {SIGNATURE_HEADER: sign(raw, CURRENT_SECRET, int(time.time()))}
    server = make_server("127.0.0.1", 0, app, threaded=True)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    start = threading.Barrier(20)
    statuses: list[tuple[int, str]] = []

    def deliver() -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=30) as client:
            start.wait()
            response = client.post("/webhooks/psp", content=raw, headers=headers)
            statuses.append((response.status_code, response.json()["status"]))

    try:
        senders = [threading.Thread(target=deliver) for _ in range(20)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join(timeout=60)
    finally:
        server.shutdown()
        serving.join(timeout=10)
        server.server_close()

    assert sorted(statuses) == [(200, "accepted")] + [(200, "duplicate")] * 19
    verdicts = [d["verdict"] for d in webhook_db.deliveries(f"PAY_{unique}")]
    assert sorted(verdicts) == ["accepted"] + ["duplicate"] * 19
    assert len(webhook_db.outbox(f"PAY_{unique}")) == 1


def test_the_legacy_body_is_accepted_with_an_id_derived_from_its_content(
    psp: Any, webhook_db: Any, unique: str
) -> None:
    legacy = {"paymentRef": f"PAY_{unique}", "status": "SUCCESS", "gatewayData": {"amount": 3000}}
    reformatted = json.dumps(legacy, indent=2, sort_keys=True).encode()

    first = psp.post(legacy)
    retry = psp.post(reformatted)

    assert first.status_code == 200
    assert first.json["status"] == "accepted"
    assert first.json["psp_event_id"].startswith("lgc_")
    assert retry.json["status"] == "duplicate"
    assert retry.json["psp_event_id"] == first.json["psp_event_id"]
    (row,) = webhook_db.outbox(f"PAY_{unique}")
    event = decode(bytes(row["value"]))
    assert event.type == "psp.payment_status_received"
    assert event.data["amount"] == 3000
    assert event.data["currency"] is None
    assert event.data["psp_event_id"] == first.json["psp_event_id"]
    assert webhook_db.delivery(first.json["delivery_id"])["event_id_derived"] is True


def test_a_refund_status_becomes_a_refund_event(psp: Any, webhook_db: Any, unique: str) -> None:
    body = {
        "id": f"evt_refund_{unique}",
        "type": "refund.status",
        "paymentRef": f"PAY_{unique}",
        "refundRef": f"RFD_{unique}",
        "status": "FAILED",
        "gatewayData": {
            "amount": 1200,
            "currency": "EUR",
            "chargeId": f"ch_{unique}",
            "refundId": f"re_{unique}",
            "failureCode": "insufficient_funds",
        },
    }

    assert psp.post(body).status_code == 200

    (row,) = webhook_db.outbox(f"PAY_{unique}")
    event = decode(bytes(row["value"]))
    assert event.type == "psp.refund_status_received"
    assert event.data["refund_id"] == f"RFD_{unique}"
    assert event.data["psp_reference"] == f"re_{unique}"
    assert (event.data["status"], event.data["failure_code"]) == ("failed", "insufficient_funds")


def test_an_oversized_body_is_refused_unread(
    psp: Any, payment_body: Body, webhook_db: Any, unique: str
) -> None:
    body = payment_body(padding="x" * 70_000)

    response = psp.post(body)

    assert response.status_code == 413
    assert response.content_type == "application/problem+json"
    assert response.json["code"] == "payload_too_large"
    delivery = webhook_db.delivery(response.json["delivery_id"])
    assert (delivery["verdict"], delivery["reason"], delivery["body"]) == (
        "rejected",
        "payload_too_large",
        None,
    )
    assert delivery["body_size"] > 65_536
    assert webhook_db.deliveries(f"PAY_{unique}") == []
    assert webhook_db.outbox(f"PAY_{unique}") == []


def test_an_oversized_chunked_body_is_refused(app: Flask, webhook_db: Any) -> None:
    response = app.test_client().post(
        "/webhooks/psp",
        input_stream=io.BytesIO(b"{" + b" " * 70_000 + b"}"),
        headers={"Transfer-Encoding": "chunked", SIGNATURE_HEADER: "t=1,v1=" + "0" * 64},
        environ_overrides={"wsgi.input_terminated": True},  # as gunicorn sets for chunked bodies
    )

    assert response.status_code == 413
    assert response.json["code"] == "payload_too_large"
    assert webhook_db.delivery(response.json["delivery_id"])["body_size"] is None


def test_the_body_limit_is_configurable(make_app: Callable[..., Flask], payment_body: Body) -> None:
    app = make_app(max_body_bytes=1024)
    raw = json.dumps(payment_body(padding="x" * 1024)).encode()
    header = sign(raw, CURRENT_SECRET, int(time.time()))

    response = app.test_client().post("/webhooks/psp", data=raw, headers={SIGNATURE_HEADER: header})

    assert response.status_code == 413


def _with_gateway(gateway: str) -> bytes:
    return b'{"paymentRef": "PAY_1", "status": "SUCCESS", "gatewayData": ' + gateway.encode() + b"}"


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        pytest.param(b'{"id": "evt_1", "status": ', 400, "malformed_json", id="truncated"),
        pytest.param(b"", 400, "malformed_json", id="empty"),
        pytest.param(b"\xff\xfe{}", 400, "malformed_json", id="not-utf8"),
        pytest.param(
            b'{"paymentRef": "PAY_1", "paymentRef": "PAY_2", "status": "SUCCESS"}',
            400,
            "malformed_json",
            id="duplicate-key",
        ),
        pytest.param(_with_gateway('{"amount": NaN}'), 400, "malformed_json", id="nan"),
        pytest.param(b'{"a": ' * 9 + b"1" + b"}" * 9, 400, "json_too_deep", id="nine-deep"),
        pytest.param(b"[" * 5000 + b"]" * 5000, 400, "json_too_deep", id="5000-deep"),
        pytest.param(b'["PAY_1", "SUCCESS"]', 422, "invalid_webhook_body", id="array"),
        pytest.param(b'{"status": "SUCCESS"}', 422, "invalid_webhook_body", id="no-payment-ref"),
        pytest.param(
            _with_gateway('{"amount": 30.5}'), 422, "invalid_webhook_body", id="float-amount"
        ),
        pytest.param(
            _with_gateway('{"currency": "XXY"}'), 422, "invalid_webhook_body", id="bad-currency"
        ),
        pytest.param(
            b'{"paymentRef": "PAY_1", "status": "PAID"}', 422, "unknown_status", id="unknown"
        ),
        pytest.param(
            b'{"paymentRef": "PAY_1", "status": "success"}', 422, "unknown_status", id="lowercase"
        ),
        pytest.param(
            b'{"type": "dispute.created", "paymentRef": "PAY_1", "status": "SUCCESS"}',
            422,
            "unknown_event_type",
            id="unknown-type",
        ),
    ],
)
def test_a_signed_body_we_cannot_use_is_refused_and_never_accepted(
    psp: Any, webhook_db: Any, raw: bytes, status: int, code: str
) -> None:
    response = psp.post(raw)

    assert response.status_code == status
    assert response.content_type == "application/problem+json"
    assert response.json["code"] == code
    delivery = webhook_db.delivery(response.json["delivery_id"])
    assert (delivery["verdict"], delivery["reason"]) == ("rejected", code)
    assert delivery["signed_at"] is not None
    assert delivery["event_id"] is None


def test_field_errors_are_named_in_the_problem(psp: Any, payment_body: Body) -> None:
    response = psp.post(payment_body(paymentRef="ORDER-1", gatewayData={"amount": -5}))

    assert response.status_code == 422
    assert set(response.json["errors"]) == {"paymentRef", "gatewayData.amount"}


def test_unknown_statuses_are_named_in_the_problem(psp: Any, payment_body: Body) -> None:
    response = psp.post(payment_body(status="PENDING"))

    assert response.json["code"] == "unknown_status"
    assert "'PENDING'" in response.json["detail"]
    assert "FAILED, SUCCESS" in response.json["detail"]


def test_headers_are_stored_without_credentials(
    psp: Any, payment_body: Body, webhook_db: Any
) -> None:
    response = psp.post(
        payment_body(),
        headers={
            "Authorization": "Bearer abc.def.ghi",
            "X-Auth-Token": "s3cr3t",
            "X-Api-Key": "k",
        },
    )

    headers = webhook_db.delivery(response.json["delivery_id"])["headers"]
    assert headers["authorization"] == REDACTED
    assert headers["x-auth-token"] == REDACTED
    assert headers["x-api-key"] == REDACTED
    assert headers["psp-signature"].startswith("t=")
    assert headers["content-type"] == "application/json"


def test_a_redis_outage_does_not_stop_deliveries(
    make_app: Callable[..., Flask], payment_body: Body, webhook_db: Any, unique: str
) -> None:
    app = make_app(redis_url=Secret("redis://127.0.0.1:1/0"))
    raw = json.dumps(payment_body()).encode()
    header = {SIGNATURE_HEADER: sign(raw, CURRENT_SECRET, int(time.time()))}

    statuses = [
        app.test_client().post("/webhooks/psp", data=raw, headers=header).json["status"]
        for _ in range(2)
    ]

    assert statuses == ["accepted", "duplicate"]
    assert len(webhook_db.outbox(f"PAY_{unique}")) == 1


def test_readiness_proves_the_database_answers(app: Flask) -> None:
    response = app.test_client().get("/readyz")

    assert response.status_code == 200
    assert response.json["checks"] == {"database": "ok"}
