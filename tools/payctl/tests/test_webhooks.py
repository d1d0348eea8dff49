"""payctl webhooks against the real webhook service, behind a stand-in for the gateway's route.

The stand-in does what the gateway does for these routes (``/v1/webhook_endpoints...`` to the
service's ``/webhook_endpoints...``, the merchant's token passed on), so the commands meet the
service's real answers, on the test cluster's PostgreSQL.
"""

from __future__ import annotations

import io
import ipaddress
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner, Result

from payctl import credentials
from payctl.cli import cli
from payctl.settings import load
from paykit.auth.jwks import jwks_document
from paykit.auth.jwt import generate_signing_key, public_keys
from paykit.logging import configure_logging
from paykit.settings import Secret
from psp_simulator.testing import serving
from webhook_service.adapters.endpoint_repository import EndpointRepository
from webhook_service.entrypoints.app import create_app
from webhook_service.entrypoints.app_context import service_of
from webhook_service.outbound_settings import OutboundTrust
from webhook_service.settings import WebhookSettings

pytestmark = pytest.mark.integration

ISSUER = "payctl-webhooks-tests"
Run = Callable[..., Result]


@pytest.fixture
def gateway(tmp_path: Path, isolated_database: Callable[[str], str]) -> Iterator[tuple[str, Any]]:
    """The stand-in's URL, and a function issuing a merchant's token it accepts."""
    key = generate_signing_key("payctl-webhooks-1")
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(jwks_document(public_keys([key]))))
    database = isolated_database("webhook")
    # The service runs in this process: its log lines must not land in payctl's stdout.
    configure_logging("webhook", stream=io.StringIO())
    app = create_app(
        WebhookSettings(
            database_url=Secret(database),
            psp_webhook_secrets=(Secret("p" * 32),),
            auth_issuer=ISSUER,
            auth_jwks_path=jwks,
            outbound=OutboundTrust((ipaddress.ip_network("127.0.0.1/32"),)),
        )
    )

    def routes(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        if not path.startswith("/v1/webhook_endpoints"):
            start_response("404 Not Found", [("Content-Length", "0")])
            return [b""]
        environ["PATH_INFO"] = path.removeprefix("/v1")
        return app(environ, start_response)

    def token(merchant: str) -> str:
        return key.issue(
            issuer=ISSUER,
            audience="payments-api",
            subject=merchant,
            ttl=timedelta(minutes=5),
            scopes=("payments:read", "payments:write"),
        )

    with serving(routes) as url:
        yield url, (token, database)
    service_of(app).close()


@pytest.fixture
def payctl_as(gateway: tuple[str, Any], tmp_path: Path) -> Callable[[str], Run]:
    url, (token, _) = gateway

    def as_merchant(merchant: str) -> Run:
        home = tmp_path / merchant
        environment = {"PAYCTL_GATEWAY_URL": url, "XDG_CONFIG_HOME": str(home)}
        expires = (datetime.now(UTC) + timedelta(minutes=5)).isoformat(timespec="seconds")
        credentials.save(
            load(environment).credentials_path,
            credentials.Login(url, token(merchant), "Bearer", expires),
        )

        def run(*args: str) -> Result:
            return CliRunner().invoke(cli, list(args), env=environment)

        return run

    return as_merchant


def _lines(result: Result) -> dict[str, str]:
    pairs = (line.partition(" ") for line in result.stdout.splitlines())
    return {key: value.strip() for key, _, value in pairs}


def test_an_endpoint_is_created_with_its_secret_shown_once_listed_rotated_and_deleted(
    payctl_as: Callable[[str], Run], unique: str
) -> None:
    payctl = payctl_as(f"MER_{unique}")

    made = payctl(
        "webhooks",
        "create",
        "--url",
        "http://127.0.0.1:9/hooks",
        "--event",
        "payment.succeeded",
        "--event",
        "refund.failed",
    )
    assert made.exit_code == 0, made.stderr
    shown = _lines(made)
    endpoint, secret = shown["id"], shown["secret"].split()[0]
    assert secret.startswith("whsec_") and "shown once" in made.stdout

    listed = payctl("webhooks", "list")
    assert listed.exit_code == 0
    assert endpoint in listed.stdout and secret not in listed.stdout
    got = payctl("webhooks", "get", endpoint)
    assert secret not in got.stdout and "EXPIRES_AT" in got.stdout

    rotated = payctl("webhooks", "rotate-secret", endpoint, "--overlap", "60", "--json")
    assert json.loads(rotated.stdout)["secret"] not in {secret, None}
    assert len(json.loads(payctl("webhooks", "get", endpoint, "--json").stdout)["secrets"]) == 2

    assert payctl("webhooks", "delete", endpoint).exit_code == 0
    assert payctl("webhooks", "list").stdout.strip() == "(none)"


def test_a_disabled_endpoint_shows_why_and_is_enabled_and_redelivered_from_the_cli(
    payctl_as: Callable[[str], Run], gateway: tuple[str, Any], unique: str
) -> None:
    payctl = payctl_as(f"MER_{unique}")
    made = json.loads(
        payctl(
            "webhooks",
            "create",
            "--url",
            "http://127.0.0.1:9/hooks",
            "--event",
            "settlement.batch_paid",
            "--json",
        ).stdout
    )
    _, (_, database) = gateway
    with psycopg.connect(database) as conn:  # as the dispatcher does at the horizon
        EndpointRepository(conn).disable_failing(
            made["id"],
            failing_since=datetime.now(UTC),
            now=datetime.now(UTC),
            detail="Disabled after failing every attempt for 3 days; last error: timeout.",
        )

    listed = payctl("webhooks", "list")
    assert "failing" in listed.stdout
    got = payctl("webhooks", "get", made["id"])
    assert "notice: webhook_endpoint.disabled at" in got.stdout
    assert "last error: timeout" in got.stdout

    enabled = payctl("webhooks", "update", made["id"], "--enable")
    assert enabled.exit_code == 0 and _lines(enabled)["enabled"] == "True"
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    again = payctl("webhooks", "redeliver", made["id"], "--since", since)
    assert (again.exit_code, again.stdout.strip()) == (0, "0 event(s) queued again")
    assert payctl("webhooks", "redeliver", made["id"]).exit_code == 2
    assert payctl("webhooks", "attempts", made["id"]).stdout.strip() == "(none)"


def test_another_merchants_endpoint_is_not_found(
    payctl_as: Callable[[str], Run], unique: str
) -> None:
    alice, bob = payctl_as(f"MER_a_{unique}"), payctl_as(f"MER_b_{unique}")
    made = json.loads(
        alice(
            "webhooks",
            "create",
            "--url",
            "http://127.0.0.1:9/x",
            "--event",
            "payment.failed",
            "--json",
        ).stdout
    )

    for command in (["get"], ["delete"], ["attempts"], ["rotate-secret"]):
        refused = bob("webhooks", *command, made["id"])
        assert refused.exit_code == 1
        assert "webhook_endpoint_not_found" in refused.stderr
    assert alice("webhooks", "get", made["id"]).exit_code == 0
