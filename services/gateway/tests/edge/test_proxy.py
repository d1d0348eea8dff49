"""What reaches the services through the gateway, and what comes back to the merchant."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Response, jsonify

from gateway_service.adapters.upstream_http import PooledUpstreams
from gateway_service.edge_settings import EdgeSettings
from paykit.ratelimit import RateLimit

pytestmark = pytest.mark.integration

PAYMENT = {"amount": 2500, "currency": "EUR", "payment_method": "pm_card_visa"}


def test_a_create_reaches_the_payment_service_with_the_token_key_and_request_id(
    make_gateway, upstreams, authorised
) -> None:
    upstreams.answer = lambda: Response(
        json.dumps({"id": "PAY_1"}), 201, mimetype="application/json"
    )
    client = make_gateway().test_client()

    answer = client.post(
        "/v1/payments",
        json=PAYMENT,
        headers={**authorised, "Idempotency-Key": "order-1", "X-Request-Id": "req-abc"},
    )

    assert answer.status_code == 201
    assert answer.json == {"id": "PAY_1"}
    assert answer.headers["X-Request-Id"] == "req-abc"
    (seen,) = upstreams.seen
    assert (seen.method, seen.host, seen.path) == ("POST", "payment.test", "/payments")
    assert seen.headers["authorization"] == authorised["Authorization"]
    assert seen.headers["idempotency-key"] == "order-1"
    assert seen.headers["x-request-id"] == "req-abc"
    assert json.loads(seen.body) == PAYMENT


def test_a_request_without_an_id_gets_one_that_the_service_sees_too(
    make_gateway, upstreams, authorised
) -> None:
    answer = make_gateway().test_client().get("/v1/payments/PAY_1", headers=authorised)

    assert answer.status_code == 200
    request_id = answer.headers["X-Request-Id"]
    assert len(request_id) >= 16
    assert upstreams.seen[0].headers["x-request-id"] == request_id


@pytest.mark.parametrize("field", ["status", "merchant_id", "amount_refunded"])
def test_a_create_naming_a_field_the_api_does_not_take_is_refused_and_never_forwarded(
    make_gateway, upstreams, authorised, field
) -> None:
    answer = (
        make_gateway()
        .test_client()
        .post(
            "/v1/payments",
            json={**PAYMENT, field: "succeeded" if field == "status" else 0},
            headers={**authorised, "Idempotency-Key": "order-2"},
        )
    )

    assert answer.status_code == 422
    assert answer.json["code"] == "validation_failed"
    assert answer.json["errors"] == {field: ["Unknown field."]}
    assert upstreams.seen == []


def test_a_refund_naming_an_unknown_field_is_refused_too(make_gateway, upstreams, authorised):
    answer = (
        make_gateway()
        .test_client()
        .post(
            "/v1/payments/PAY_1/refunds",
            json={"amount": 100, "status": "succeeded"},
            headers={**authorised, "Idempotency-Key": "refund-1"},
        )
    )

    assert answer.status_code == 422
    assert upstreams.seen == []


def test_a_bad_token_stops_at_the_edge(make_gateway, upstreams, signing_key, merchant) -> None:
    wrong_audience = signing_key.issue(
        issuer="gateway-edge-tests",
        audience="payments-admin",
        subject=merchant,
        ttl=timedelta(minutes=1),
        scopes=["payments:read"],
    )
    client = make_gateway().test_client()

    for headers in ({}, {"Authorization": f"Bearer {wrong_audience}"}):
        answer = client.get("/v1/payments", headers=headers)
        assert answer.status_code == 401
        assert answer.mimetype == "application/problem+json"
    assert upstreams.seen == []


def test_a_body_over_the_limit_is_refused_before_anything_else(make_gateway, upstreams, authorised):
    big = {**PAYMENT, "description": "x" * 5000}

    answer = (
        make_gateway()
        .test_client()
        .post("/v1/payments", json=big, headers={**authorised, "Idempotency-Key": "order-3"})
    )

    assert answer.status_code == 413
    assert answer.json["code"] == "payload_too_large"
    assert upstreams.seen == []


def test_hop_by_hop_headers_are_stripped_both_ways(make_gateway, upstreams, authorised) -> None:
    def answer() -> Response:
        response = jsonify({"id": "PAY_1"})
        response.headers["Keep-Alive"] = "timeout=5"
        response.headers["Connection"] = "X-Upstream-Private"
        response.headers["X-Upstream-Private"] = "secret"
        response.headers["X-Upstream-Public"] = "kept"
        return response

    upstreams.answer = answer
    sent = {
        **authorised,
        "Connection": "X-Client-Private",
        "X-Client-Private": "1",
        "Keep-Alive": "timeout=5",
        "Proxy-Authorization": "Basic Zm9vOmJhcg==",
        "X-Client-Public": "kept",
    }

    got = make_gateway().test_client().get("/v1/payments/PAY_1", headers=sent)

    seen = upstreams.seen[0].headers
    for name in ("x-client-private", "keep-alive", "proxy-authorization"):
        assert name not in seen
    assert seen.get("connection") != "X-Client-Private"  # the gateway's own hop may say keep-alive
    assert seen["x-client-public"] == "kept"
    for name in ("Keep-Alive", "Connection", "X-Upstream-Private"):
        assert name not in got.headers
    assert got.headers["X-Upstream-Public"] == "kept"


def test_a_services_problem_comes_back_as_it_was(make_gateway, upstreams, authorised) -> None:
    problem = {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "code": "payment_not_found",
    }
    upstreams.answer = lambda: Response(
        json.dumps(problem), 404, mimetype="application/problem+json"
    )

    answer = make_gateway().test_client().get("/v1/payments/PAY_other", headers=authorised)

    assert answer.status_code == 404
    assert answer.mimetype == "application/problem+json"
    assert answer.json == problem


def test_a_service_failing_without_a_problem_is_a_502(make_gateway, upstreams, authorised):
    upstreams.answer = lambda: Response("<html>boom</html>", 500, mimetype="text/html")

    answer = make_gateway().test_client().get("/v1/payments/PAY_1", headers=authorised)

    assert answer.status_code == 502
    assert answer.json["code"] == "upstream_error"


def test_a_service_refusing_a_request_in_html_is_answered_as_a_problem_with_its_status(
    make_gateway, upstreams, authorised
):
    """A service's web server refuses some requests before the service sees them (gunicorn
    answers an over-long request line 414 in text/html); the merchant gets the status as a
    problem, like every other error of the API."""
    upstreams.answer = lambda: Response("<html>URI Too Long</html>", 414, mimetype="text/html")

    answer = make_gateway().test_client().get("/v1/payments?cursor=abc", headers=authorised)

    assert answer.status_code == 414
    assert answer.mimetype == "application/problem+json"
    assert answer.json["code"] == "upstream_refused"
    assert "<html>" not in answer.get_data(as_text=True)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_service_is_a_502(make_gateway, authorised) -> None:
    settings = EdgeSettings(
        payment_url=f"http://127.0.0.1:{_closed_port()}",
        ledger_url="x",
        settlement_url="x",
        webhook_url="x",
    )
    app = make_gateway(settings, http=PooledUpstreams(settings))

    answer = app.test_client().get("/v1/payments", headers=authorised)

    assert answer.status_code == 502
    assert answer.json["code"] == "upstream_unavailable"


def test_a_service_that_does_not_answer_in_time_is_a_504(
    make_gateway, authorised, silent_port
) -> None:
    settings = EdgeSettings(
        payment_url=f"http://127.0.0.1:{silent_port}",
        ledger_url="x",
        settlement_url="x",
        webhook_url="x",
        upstream_timeout_seconds=0.3,
    )
    app = make_gateway(settings, http=PooledUpstreams(settings))

    answer = app.test_client().get("/v1/payments", headers=authorised)

    assert answer.status_code == 504
    assert answer.json["code"] == "upstream_timeout"


def test_ledger_entries_map_to_the_account_in_the_ledgers_path(make_gateway, upstreams, authorised):
    client = make_gateway().test_client()

    answer = client.get(
        "/v1/ledger/entries?account=payable&currency=EUR&limit=5", headers=authorised
    )
    missing = client.get("/v1/ledger/entries?currency=EUR", headers=authorised)

    assert answer.status_code == 200
    (seen,) = upstreams.seen
    assert (seen.host, seen.path, seen.query) == (
        "ledger.test",
        "/accounts/payable/entries",
        "currency=EUR&limit=5",
    )
    assert missing.status_code == 400
    assert missing.json["code"] == "invalid_query"


def test_settlements_and_their_csv_come_from_the_settlement_service(
    make_gateway, upstreams, authorised
) -> None:
    upstreams.answer = lambda: Response("item_id,net\ntotal,10\n", mimetype="text/csv")
    client = make_gateway().test_client()

    report = client.get("/v1/settlements/BAT_1/report.csv", headers=authorised)
    client.get("/v1/settlements?status=paid", headers=authorised)

    assert report.mimetype == "text/csv"
    assert report.data == b"item_id,net\ntotal,10\n"
    assert [(s.host, s.path, s.query) for s in upstreams.seen] == [
        ("settlement.test", "/settlements/batches/BAT_1/report.csv", ""),
        ("settlement.test", "/settlements/batches", "status=paid"),
    ]


def test_webhook_endpoints_are_served_by_the_webhook_service(
    make_gateway, upstreams, authorised
) -> None:
    endpoint = {"url": "https://shop.example/hooks", "event_types": ["payment.succeeded"]}
    client = make_gateway().test_client()

    created = client.post(
        "/v1/webhook_endpoints", json=endpoint, headers={**authorised, "Idempotency-Key": "we-1"}
    )
    client.get("/v1/webhook_endpoints/we_1/attempts?limit=5", headers=authorised)
    upstreams.answer = lambda: Response(status=204)
    deleted = client.delete("/v1/webhook_endpoints/we_1", headers=authorised)

    assert created.status_code == 200
    assert (deleted.status_code, deleted.data) == (204, b"")
    assert [(s.method, s.host, s.path, s.query) for s in upstreams.seen] == [
        ("POST", "webhook.test", "/webhook_endpoints", ""),
        ("GET", "webhook.test", "/webhook_endpoints/we_1/attempts", "limit=5"),
        ("DELETE", "webhook.test", "/webhook_endpoints/we_1", ""),
    ]
    assert json.loads(upstreams.seen[0].body) == endpoint
    assert upstreams.seen[0].headers["idempotency-key"] == "we-1"


def test_a_deletion_needs_the_write_scope_and_spends_the_write_limit(
    make_gateway, upstreams, signing_key, merchant
) -> None:
    def token(*scopes: str) -> dict[str, str]:
        issued = signing_key.issue(
            issuer="gateway-edge-tests",
            audience="payments-api",
            subject=merchant,
            ttl=timedelta(minutes=1),
            scopes=list(scopes),
        )
        return {"Authorization": f"Bearer {issued}"}

    upstreams.answer = lambda: Response(status=204)
    client = make_gateway(write_limit=RateLimit(per_minute=1, burst=1)).test_client()

    read_only = client.delete("/v1/webhook_endpoints/we_1", headers=token("payments:read"))
    writer = token("payments:read", "payments:write")
    deletions = [client.delete("/v1/webhook_endpoints/we_1", headers=writer) for _ in range(2)]
    read = client.get("/v1/webhook_endpoints/we_1", headers=writer)

    assert read_only.status_code == 403
    assert [d.status_code for d in deletions] == [204, 429]
    assert deletions[0].headers["RateLimit-Limit"] == "1"
    assert (read.status_code, read.headers["RateLimit-Limit"]) == (204, "20"), "the read bucket"
    assert [s.method for s in upstreams.seen] == ["DELETE", "GET"]


def test_an_id_that_is_not_an_identifier_is_not_found_without_asking(
    make_gateway, upstreams, authorised
) -> None:
    answer = make_gateway().test_client().get("/v1/payments/..", headers=authorised)

    assert answer.status_code == 404
    assert upstreams.seen == []


def test_the_upstream_pools_use_the_configured_timeouts() -> None:
    settings = EdgeSettings(
        payment_url="x",
        ledger_url="x",
        settlement_url="x",
        webhook_url="x",
        connect_timeout_seconds=0.5,
        upstream_timeout_seconds=3.0,
    )
    upstreams = PooledUpstreams(settings)

    assert (upstreams.timeout.connect_timeout, upstreams.timeout.read_timeout) == (0.5, 3.0)
