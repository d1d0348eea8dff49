"""The dashboard's app in front of a stand-in gateway (httpx's mock transport), with its sessions
in the cluster's real Redis: cookies, timeouts, redirects and what a person reads on failures.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from dashboard_service.adapters.sessions import KEY_PREFIX
from dashboard_service.bootstrap import DashboardService
from dashboard_service.entrypoints.app import SESSION_COOKIE, create_app
from dashboard_service.settings import DashboardSettings
from localcluster.testing import ClusterEnv
from paykit.auth.jwt import Verifier, generate_signing_key, public_keys
from paykit.testing import wait_until

pytestmark = pytest.mark.integration

ISSUER = "payments-gateway"
CLIENT_ID, CLIENT_SECRET = "ci_test", "sk_test_right"
KEY = generate_signing_key("dashboard-tests")


def _token(subject: str, *, audience: str = "payments-api", minutes: float = 15) -> str:
    return KEY.issue(
        issuer=ISSUER,
        audience=audience,
        subject=subject,
        ttl=timedelta(minutes=minutes),
        scopes=("payments:read", "payments:write")
        if audience == "payments-api"
        else ("ledger:admin",),
    )


PAID = {
    "id": "PAY_paid",
    "object": "payment",
    "status": "succeeded",
    "amount": 3000,
    "currency": "EUR",
    "amount_refunded": 1000,
    "payment_method": "pm_card_visa",
    "created_at": "2026-12-01T10:00:00Z",
    "updated_at": "2026-12-01T10:00:05Z",
}


def _problem(status: int, code: str, detail: str) -> httpx.Response:
    body = {"type": "about:blank", "title": code, "status": status, "code": code, "detail": detail}
    return httpx.Response(status, json=body, headers={"Content-Type": "application/problem+json"})


class StandInGateway:
    """The gateway's answers a test needs; ``token_minutes`` sets the next token's lifetime."""

    def __init__(self) -> None:
        self.token_minutes: float = 15
        self.down = False
        self.refunds: list[tuple[str | None, dict[str, Any]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        path = request.url.path
        if path == "/v1/auth/token":
            sent = json.loads(request.content)
            if (sent.get("client_id"), sent.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
                return _problem(401, "invalid_client", "Client authentication failed.")
            token = _token("MER_test", minutes=self.token_minutes)
            return httpx.Response(200, json={"access_token": token, "expires_in": 900})
        if path in ("/v1/payments", "/v1/settlements", "/v1/ledger/entries"):
            return httpx.Response(200, json={"data": [], "next_cursor": None})
        if path == "/v1/payments/PAY_paid":
            return httpx.Response(200, json=PAID)
        if path == "/v1/payments/PAY_paid/refunds" and request.method == "GET":
            return httpx.Response(200, json={"data": [], "next_cursor": None})
        if path == "/v1/payments/PAY_paid/refunds":
            body = json.loads(request.content)
            self.refunds.append((request.headers.get("Idempotency-Key"), body))
            refund = {"id": "RFD_1", "status": "requested", "currency": "EUR", **body}
            return httpx.Response(201, json=refund)
        if path == "/v1/payments/PAY_broken":
            return _problem(500, "internal_error", "psycopg.OperationalError: server closed")
        if path == "/v1/payments/PAY_expired":
            return _problem(401, "invalid_token", "A valid bearer token is required.")
        return _problem(404, "payment_not_found", "no such payment")


@pytest.fixture
def gateway() -> StandInGateway:
    return StandInGateway()


@pytest.fixture
def sessions(cluster: ClusterEnv) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(cluster.redis_url)
    yield client
    client.close()


@pytest.fixture
def make_app(
    cluster: ClusterEnv, gateway: StandInGateway, sessions: redis.Redis
) -> Iterator[Callable[..., Flask]]:
    made: list[httpx.Client] = []

    def make(**changes: Any) -> Flask:
        settings = replace(
            DashboardSettings(
                gateway_url="http://gateway.test",
                redis_url=cluster.redis_url,
                jwks_path=Path("/nonexistent/jwks.json"),
                secret_key=None,
                json_logs=False,
            ),
            **changes,
        )
        http = httpx.Client(transport=httpx.MockTransport(gateway))
        made.append(http)
        keys = public_keys([KEY])
        service = DashboardService(
            settings=settings,
            http=http,
            redis=sessions,
            merchant_tokens=Verifier(issuer=ISSUER, audience="payments-api", keys=keys),
            operator_tokens=Verifier(issuer=ISSUER, audience="payments-admin", keys=keys),
            dead_letters=None,
        )
        app = create_app(settings, service=service)
        app.config["TESTING"] = False
        return app

    yield make
    for http in made:
        http.close()


def _text(response: Any) -> str:
    """The page as a person reads it: entities such as &#39; unescaped."""
    return html.unescape(response.get_data(as_text=True))


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def _sign_in(client: FlaskClient, *, secret: str = CLIENT_SECRET, next_: str = "") -> Any:
    page = client.get("/sign-in").get_data(as_text=True)
    target = f"/sign-in?next={next_}" if next_ else "/sign-in"
    return client.post(
        target,
        data={"csrf_token": _csrf(page), "client_id": CLIENT_ID, "client_secret": secret},
    )


def _session_key(client: FlaskClient) -> str:
    cookie = client.get_cookie(SESSION_COOKIE)
    assert cookie is not None
    return KEY_PREFIX + hashlib.sha256(cookie.value.encode()).hexdigest()


def test_the_session_cookie_is_http_only_strict_and_secure_behind_https(
    make_app: Callable[..., Flask],
) -> None:
    plain = _sign_in(make_app().test_client())
    cookie = plain.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    behind_tls = make_app(trusted_proxies=1).test_client()
    page = behind_tls.get("/sign-in", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in page.headers["Set-Cookie"]


def test_the_session_lives_in_redis_and_the_cookie_holds_only_a_random_id(
    make_app: Callable[..., Flask], sessions: redis.Redis
) -> None:
    client = make_app().test_client()
    assert _sign_in(client).status_code == 302
    cookie = client.get_cookie(SESSION_COOKIE)
    assert cookie is not None and "." not in cookie.value and len(cookie.value) >= 43
    stored = sessions.get(_session_key(client))
    assert stored is not None and b"MER_test" in stored
    assert sessions.get(KEY_PREFIX + cookie.value) is None  # stored under its hash only


def test_an_idle_session_expires_and_never_outlives_its_token(
    make_app: Callable[..., Flask], gateway: StandInGateway, sessions: redis.Redis
) -> None:
    idle = make_app(idle_timeout=timedelta(seconds=1)).test_client()
    _sign_in(idle)
    key = _session_key(idle)
    assert wait_until(lambda: sessions.exists(key) == 0, timeout=5)
    assert idle.get("/payments").headers["Location"].startswith("/sign-in")

    gateway.token_minutes = 1
    short = make_app().test_client()
    _sign_in(short)
    assert 0 < sessions.ttl(_session_key(short)) <= 60


def test_signing_in_renews_the_session_id(make_app: Callable[..., Flask]) -> None:
    client = make_app().test_client()
    client.get("/sign-in")
    before = client.get_cookie(SESSION_COOKIE)
    _sign_in(client)
    after = client.get_cookie(SESSION_COOKIE)
    assert before is not None and after is not None and before.value != after.value


def test_a_wrong_secret_is_explained_and_opens_no_session(make_app: Callable[..., Flask]) -> None:
    client = make_app().test_client()
    refused = _sign_in(client, secret="sk_test_wrong")
    assert refused.status_code == 401
    assert "That client ID and secret were not accepted." in refused.get_data(as_text=True)
    assert client.get("/payments").status_code == 302


def test_sign_in_returns_to_the_page_asked_for_but_never_to_another_site(
    make_app: Callable[..., Flask],
) -> None:
    asked = _sign_in(make_app().test_client(), next_="/balances")
    assert asked.headers["Location"] == "/balances"
    for elsewhere in ("https://evil.example/", "//evil.example/", "javascript:alert(1)"):
        sent = _sign_in(make_app().test_client(), next_=elsewhere)
        assert sent.headers["Location"] == "/payments", elsewhere


def test_a_form_without_its_csrf_token_is_refused_before_anything_happens(
    make_app: Callable[..., Flask],
) -> None:
    client = make_app().test_client()
    client.get("/sign-in")
    refused = client.post("/sign-in", data={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    assert refused.status_code == 400
    assert "without this dashboard's security token" in _text(refused)
    assert client.get("/payments").status_code == 302


def test_a_server_error_shows_what_to_do_and_a_reference_never_its_detail(
    make_app: Callable[..., Flask],
) -> None:
    client = make_app().test_client()
    _sign_in(client)
    page = client.get("/payments/PAY_broken")
    text = _text(page)
    assert page.status_code == 500
    assert "Something went wrong on the platform's side." in text
    assert "Reference:" in text
    assert "psycopg" not in text and "Traceback" not in text


def test_an_unreachable_gateway_is_explained(
    make_app: Callable[..., Flask], gateway: StandInGateway
) -> None:
    client = make_app().test_client()
    _sign_in(client)
    gateway.down = True
    page = client.get("/payments")
    assert page.status_code == 503
    assert "cannot reach the gateway" in page.get_data(as_text=True)


def test_an_expired_token_ends_the_session_and_asks_to_sign_in_again(
    make_app: Callable[..., Flask], sessions: redis.Redis
) -> None:
    client = make_app().test_client()
    _sign_in(client)
    key = _session_key(client)
    answered = client.get("/payments/PAY_expired")
    assert answered.status_code == 302 and answered.headers["Location"].startswith("/sign-in")
    assert sessions.exists(key) == 0
    again = client.get(answered.headers["Location"]).get_data(as_text=True)
    assert "Your sign-in has expired: sign in again." in again


def test_a_merchant_is_kept_out_of_the_operators_pages_and_a_merchant_token_out_of_them_too(
    make_app: Callable[..., Flask],
) -> None:
    client = make_app().test_client()
    _sign_in(client)
    kept_out = client.get("/admin/dlq")
    assert kept_out.status_code == 302 and kept_out.headers["Location"].startswith("/admin/sign-in")
    operator = make_app().test_client()
    page = operator.get("/admin/sign-in").get_data(as_text=True)
    refused = operator.post(
        "/admin/sign-in", data={"csrf_token": _csrf(page), "token": _token("MER_test")}
    )
    assert refused.status_code == 401
    assert "not an operator token" in refused.get_data(as_text=True)
    signed_in = operator.post(
        "/admin/sign-in",
        data={"csrf_token": _csrf(page), "token": _token("ops", audience="payments-admin")},
    )
    assert signed_in.headers["Location"] == "/admin/dlq"
    assert "Kafka" in operator.get("/admin/dlq").get_data(as_text=True)  # not configured here


def test_unknown_addresses_are_a_not_found_page(make_app: Callable[..., Flask]) -> None:
    page = make_app().test_client().get(f"/no-such-page-{uuid.uuid4().hex}")
    assert page.status_code == 404
    assert "Nothing was found here." in page.get_data(as_text=True)


def test_a_refund_over_what_is_left_is_refused_on_the_form_and_never_sent(
    make_app: Callable[..., Flask], gateway: StandInGateway
) -> None:
    client = make_app().test_client()
    _sign_in(client)
    page = client.get("/payments/PAY_paid")
    assert "Up to 20.00 EUR" in _text(page)
    refused = client.post(
        "/payments/PAY_paid/refund", data={"csrf_token": _csrf(_text(page)), "amount": "20.01"}
    )
    assert refused.status_code == 422
    assert "At most 20.00 EUR can be refunded." in _text(refused)
    assert gateway.refunds == []


def test_a_confirmed_refund_sent_twice_carries_one_idempotency_key(
    make_app: Callable[..., Flask], gateway: StandInGateway
) -> None:
    client = make_app().test_client()
    _sign_in(client)
    page = _text(client.get("/payments/PAY_paid"))
    confirm = client.post(
        "/payments/PAY_paid/refund", data={"csrf_token": _csrf(page), "amount": "12.5"}
    )
    text = _text(confirm)
    assert "Refund 12.50 EUR" in text
    hidden = (
        r'<input id="(amount|reason|idempotency_key)" name="[a-z_]+" type="hidden" value="([^"]*)"'
    )
    fields = dict(re.findall(hidden, text))
    form = {"csrf_token": _csrf(text), **fields}
    for _ in range(2):
        sent = client.post("/payments/PAY_paid/refund/confirm", data=form)
        assert sent.headers["Location"] == "/payments/PAY_paid"
    assert [body for _, body in gateway.refunds] == [{"amount": 1250}, {"amount": 1250}]
    keys = {key for key, _ in gateway.refunds}
    assert len(keys) == 1 and None not in keys
