"""Operators can see the platform working: workers serve Prometheus metrics, probes answer."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
from e2e_clients import Merchant
from e2e_observe import eventually
from e2e_target import Endpoints, Target

pytestmark = pytest.mark.e2e

# METRICS_HTTP_PORT + n of the Procfile's workers
CHARGER, STATUS_APPLIER, PAYMENT_RELAY, WEBHOOK_RELAY = 1, 2, 3, 4


def _metrics(target: Target, offset: int) -> str:
    if target.metrics_port_base is None:
        pytest.skip(f"the {target.kind} target publishes no workers' metrics ports")
    port = target.metrics_port_base + offset
    return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text


def _sample(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample {name}{{{wanted}}}")


def _processed(target: Target, offset: int, group: str, topic: str) -> float:
    metrics = _metrics(target, offset)
    return _sample(metrics, "paykit_consumer_processed_total", group=group, topic=topic)


def test_workers_count_what_they_did(merchant: Merchant, target: Target) -> None:
    payment = merchant.create_payment()
    merchant.wait_for_status(payment["id"], "succeeded")

    eventually(
        lambda: _processed(target, CHARGER, "payment-psp-charger", "payment-events") >= 1,
        "the charger to count a processed payment-events record",
    )
    assert _processed(target, STATUS_APPLIER, "payment-status-applier", "webhook-events") >= 1
    assert "paykit_outbox_published_total" in _metrics(target, PAYMENT_RELAY)
    assert "paykit_outbox_published_total" in _metrics(target, WEBHOOK_RELAY)


@pytest.mark.parametrize("web", [field.name for field in dataclasses.fields(Endpoints)])
def test_every_web_process_is_live_and_ready(web: str, target: Target) -> None:
    base = getattr(target.endpoints, web)
    assert httpx.get(f"{base}/healthz", timeout=5).json() == {"status": "ok"}
    ready = httpx.get(f"{base}/readyz", timeout=5)
    assert ready.status_code == 200, ready.text
