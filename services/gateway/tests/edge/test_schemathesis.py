"""Schemathesis against the running cluster's gateway: no 5xx, no answer outside the document.

Runs when ``GATEWAY_URL`` (the gateway's base URL) and ``GATEWAY_TOKEN`` (a merchant's bearer
token with payments:read and payments:write) are set, as ``make test`` does (a development token
of ``MER_schemathesis``); the number of examples per operation is bounded
(``SCHEMATHESIS_EXAMPLES``, 25 under ``make test``) so the run takes a minute or two.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)


def schemathesis_command(base_url: str, token: str, examples: int) -> list[str]:
    executable = shutil.which("schemathesis") or os.path.join(
        os.path.dirname(sys.executable), "schemathesis"
    )
    return [
        executable,
        "run",
        f"{base_url}/v1/openapi.json",
        "--url",
        base_url,
        "--checks",
        CHECKS,
        "--max-examples",
        str(examples),
        "--request-timeout",
        "15",
        "--header",
        f"Authorization: Bearer {token}",
    ]


@pytest.mark.skipif(
    not (os.environ.get("GATEWAY_URL") and os.environ.get("GATEWAY_TOKEN")),
    reason="needs a running gateway: set GATEWAY_URL and GATEWAY_TOKEN",
)
def test_the_gateway_keeps_to_its_openapi_document() -> None:
    command = schemathesis_command(
        os.environ["GATEWAY_URL"].rstrip("/"),
        os.environ["GATEWAY_TOKEN"],
        int(os.environ.get("SCHEMATHESIS_EXAMPLES", "25")),
    )
    run = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)

    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
