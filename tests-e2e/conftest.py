"""Black-box journeys against a running cluster, through what its users have: the gateway's
public ``/v1`` API (merchants made through its admin API, tokens from ``/v1/auth/token``), the
webhook service's PSP endpoint, the operators' admin APIs and payctl, and the Kafka topics the
services publish. The PSP simulator is the outside world, driven by its own test controls.

Which cluster: ``PAY_E2E_TARGET`` (``e2e_target.py``): the local one by default (``make
test``), or ``compose``; a target that cannot be reached skips every journey, saying why.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

# The journeys share the helper modules beside this file (the suite is not a package).
sys.path.insert(0, str(Path(__file__).parent))

from e2e_clients import Merchant, Operator, client, fee_of
from e2e_observe import E2E_TIMEOUT, Psp, Topics, WebhookSender, eventually
from e2e_target import Target, TargetUnavailable, select_target


@pytest.fixture(scope="session")
def target() -> Target:
    try:
        return select_target()
    except TargetUnavailable as why:
        pytest.skip(f"end-to-end target unavailable: {why}")


def _ready(http: httpx.Client) -> bool:
    try:
        return http.get("/readyz").status_code == 200
    except httpx.HTTPError:
        return False


def _answering(http: httpx.Client) -> httpx.Client:
    eventually(lambda: _ready(http), f"{http.base_url} to answer /readyz", E2E_TIMEOUT)
    return http


@pytest.fixture(scope="session")
def gateway(target: Target) -> Iterator[httpx.Client]:
    """The gateway without a token, once it answers."""
    with client(target.endpoints.gateway) as http:
        yield _answering(http)


@pytest.fixture(scope="session")
def operator(target: Target, gateway: httpx.Client) -> Iterator[Operator]:
    token = target.operator_token()
    urls = target.endpoints
    made = Operator(
        gateway=gateway,
        admin=client(urls.gateway, token),
        ledger=_answering(client(urls.ledger, token)),
        settlement=_answering(client(urls.settlement, token)),
        webhook=_answering(client(urls.webhook, token)),
    )
    yield made
    for http in [made.admin, made.ledger, made.settlement, made.webhook, *made.made]:
        http.close()


@pytest.fixture
def new_merchant(operator: Operator) -> Callable[[], Merchant]:
    """``new_merchant()``: a fresh merchant made through the gateway, with its token."""
    return operator.new_merchant


@pytest.fixture
def merchant(new_merchant: Callable[[], Merchant]) -> Merchant:
    return new_merchant()


@pytest.fixture
def merchant_named(target: Target) -> Iterator[Callable[[str], Merchant]]:
    """``merchant_named(id)``: a merchant whose id the journey chooses, for settings keyed by
    merchant id (the test cluster's ``SETTLEMENT_BANK_ACCOUNTS`` families). The gateway names
    the merchants it makes, so its token is signed with the development key the gateway
    imported as its first signing key; every request still goes through the gateway."""
    if target.development_key is None:
        pytest.skip(f"the {target.kind} target has no development key to name a merchant with")
    key = target.development_key
    made: list[httpx.Client] = []

    def make(merchant_id: str) -> Merchant:
        token = key.issue(
            issuer=target.issuer,
            audience=target.audience,
            subject=merchant_id,
            ttl=timedelta(minutes=30),
            scopes=("payments:read", "payments:write"),
        )
        made.append(client(target.endpoints.gateway, token))
        return Merchant(merchant_id, made[-1], token)

    yield make
    for http in made:
        http.close()


@pytest.fixture(scope="session")
def psp(target: Target) -> Iterator[Psp]:
    with client(target.endpoints.psp) as http:
        yield Psp(_answering(http))


@pytest.fixture
def psp_faults(psp: Psp) -> Iterator[Callable[..., dict[str, Any]]]:
    """Sets the PSP's faults for the test; they are cleared however it ends."""
    yield psp.set_faults
    psp.clear_faults()


@pytest.fixture(scope="session")
def webhooks(target: Target) -> Iterator[WebhookSender]:
    with httpx.Client(timeout=15) as http:
        yield WebhookSender(http, target.endpoints.psp_webhook, target.webhook_secret)


@pytest.fixture(scope="session")
def topics(target: Target) -> Iterator[Topics]:
    read = Topics(target.kafka_bootstrap_servers)
    yield read
    read.close()


@pytest.fixture(scope="session")
def psp_reports(target: Target) -> Callable[[Merchant, str], list[dict[str, Any]]]:
    """``psp_reports(merchant, payment_id)``: the PSP's reports about the payment as the payment
    service judged them (verdict, reason). Not public: an internal the journeys check where
    the verdict is the point, read with the merchant's own token from the payment service."""

    def reports(merchant: Merchant, payment_id: str) -> list[dict[str, Any]]:
        response = httpx.get(
            f"{target.endpoints.payment}/payments/{payment_id}/reports",
            headers={"Authorization": f"Bearer {merchant.access_token}"},
            timeout=15,
        )
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["data"]
        return found

    return reports


@pytest.fixture(scope="session")
def fee(target: Target) -> Callable[[int], int]:
    """``fee(amount)``: the platform's fee on a EUR payment under the ledger's fee policy."""
    policy = target.settings("ledger-poster", "LEDGER_FEE_POLICY")
    return lambda amount: fee_of(amount, policy)


@pytest.fixture
def setting(target: Target) -> Callable[[str, str], str | None]:
    """``setting(process, variable)``: what the running process was configured with."""
    return target.settings
