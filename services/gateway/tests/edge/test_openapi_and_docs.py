"""The OpenAPI document describes every public route, and /docs shows it from local assets."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator

import pytest
from openapi_spec_validator import validate
from werkzeug.serving import make_server

from gateway_service.openapi.operations import OPERATIONS

pytestmark = pytest.mark.integration


@pytest.fixture
def gateway(make_gateway):
    return make_gateway()


def test_the_document_is_valid_openapi_3_1(gateway) -> None:
    document = gateway.test_client().get("/v1/openapi.json").json

    validate(document)
    assert document["openapi"] == "3.1.0"


def test_every_public_route_is_documented_with_bearer_problems_and_idempotency(gateway):
    document = gateway.test_client().get("/v1/openapi.json").json
    served = {
        (method, re.sub(r"<([a-z_]+)>", r"{\1}", rule.rule))
        for rule in gateway.url_map.iter_rules()
        if rule.rule.startswith("/v1/") and rule.endpoint.startswith("public_api.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }

    served_by_the_gateway_itself = {("POST", "/v1/auth/token"), ("GET", "/.well-known/jwks.json")}
    assert served | served_by_the_gateway_itself == documented
    assert document["security"] == [{"bearerAuth": []}]
    for operation in OPERATIONS:
        described = document["paths"][operation.path][operation.method.lower()]
        errors = described["responses"]["401"]["content"]
        assert errors["application/problem+json"]["schema"] == {
            "$ref": "#/components/schemas/Problem"
        }
        keys = [p for p in described["parameters"] if "$ref" in p]
        assert bool(keys) == (operation.method == "POST")


def test_webhook_endpoints_are_documented_a_deletion_as_204_without_content(gateway) -> None:
    paths = gateway.test_client().get("/v1/openapi.json").json["paths"]

    create = paths["/v1/webhook_endpoints"]["post"]
    deletion = paths["/v1/webhook_endpoints/{endpoint_id}"]["delete"]
    assert set(create["responses"]["201"]["content"]) == {"application/json"}
    assert set(deletion["responses"]) >= {"204", "401", "403", "404", "429"}
    assert deletion["responses"]["204"]["description"] == "No Content"
    assert "content" not in deletion["responses"]["204"]
    assert not [p for p in deletion["parameters"] if "$ref" in p], "no Idempotency-Key"
    assert "/v1/webhook_endpoints/{endpoint_id}/attempts" in paths


def test_the_token_endpoint_is_documented_without_a_bearer_for_json_and_the_form(gateway):
    document = gateway.test_client().get("/v1/openapi.json").json
    token = document["paths"]["/v1/auth/token"]["post"]

    assert {} in token["security"]
    assert set(token["requestBody"]["content"]) == {
        "application/json",
        "application/x-www-form-urlencoded",
    }
    assert {"200", "400", "401", "415"} <= set(token["responses"])
    answer = document["components"]["schemas"]["TokenResponse"]
    assert set(answer["required"]) == {"access_token", "token_type", "expires_in", "scope"}


def test_a_create_documents_exactly_the_fields_a_merchant_may_send(gateway) -> None:
    schema = gateway.test_client().get("/v1/openapi.json").json["components"]["schemas"]

    create = schema["CreatePaymentRequest"]
    assert create["additionalProperties"] is False
    assert set(create["properties"]) == {
        "amount",
        "currency",
        "payment_method",
        "description",
        "metadata",
    }


def test_the_docs_page_loads_nothing_from_elsewhere(gateway) -> None:
    client = gateway.test_client()
    page = client.get("/docs").get_data(as_text=True)

    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets and all(a.startswith("/docs/") for a in assets)
    for asset in assets:
        with client.get(asset) as served:
            assert served.status_code == 200


@pytest.fixture
def served_gateway(gateway) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, gateway, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(
    _chromium() is None and os.environ.get("CI") != "true",
    reason="needs Debian's chromium package (apt-get install chromium); CI installs it",
)
def test_a_browser_shows_the_payment_operations_on_the_docs_page(served_gateway) -> None:
    browser = _chromium()
    assert browser is not None, "CI must have chromium: .ci/run installs it"
    rendered = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--virtual-time-budget=15000",
            "--dump-dom",
            f"{served_gateway}/docs",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout

    for operation in ("Create a payment", "Retrieve a payment", "Refund a payment"):
        assert operation in rendered
    assert "/v1/payments/{payment_id}/refunds" in rendered
