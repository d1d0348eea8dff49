"""Merchants for a run, made through the gateway's admin API as a real operator would.

Each run makes fresh merchants so that no earlier run's payments or rate-limit buckets weigh on
it. The operator's token comes from ``localcluster token --admin`` (the cluster's development
signing key); each merchant's bearer token is then issued by the gateway itself from the client
credentials it answered, the way a merchant integrates.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Merchant:
    merchant_id: str
    access_token: str


def operator_token() -> str:
    """An admin token for the cluster the environment names (``PAY_CLUSTER`` and its ports)."""
    command = shutil.which("localcluster")
    if command is None:
        raise RuntimeError("localcluster is not on PATH: run with uv run --frozen")
    made = subprocess.run([command, "token", "--admin"], capture_output=True, text=True, check=True)
    return made.stdout.strip()


def create_merchants(gateway_url: str, count: int, run_label: str) -> list[Merchant]:
    """``count`` fresh merchants, each with a gateway-issued token for the payment API."""
    admin = {"Authorization": f"Bearer {operator_token()}"}
    made: list[Merchant] = []
    with httpx.Client(base_url=gateway_url, timeout=15) as gateway:
        for index in range(count):
            answer = gateway.post(
                "/v1/admin/merchants",
                json={"name": f"bench {run_label} {index} {uuid.uuid4().hex[:8]}"},
                headers=admin,
            )
            answer.raise_for_status()
            body = answer.json()
            issued = gateway.post(
                "/v1/auth/token",
                json={"client_id": body["client_id"], "client_secret": body["client_secret"]},
            )
            issued.raise_for_status()
            made.append(Merchant(body["merchant_id"], issued.json()["access_token"]))
    return made
