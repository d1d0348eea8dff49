"""Operators can see the platform working: workers serve Prometheus metrics, probes answer."""

from __future__ import annotations

import os

import httpx
import pytest

pytestmark = pytest.mark.e2e


def _metrics(offset: int) -> str:
    port = int(os.environ["METRICS_HTTP_PORT"]) + offset
    return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text


def _sample(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample {name}{{{wanted}}}")


def test_workers_count_what_they_did(create_payment, wait_for_status, eventually) -> None:
    payment = create_payment("pm_card_visa")
    wait_for_status(payment["id"], "succeeded")

    def charger_counted() -> bool:
        text = _metrics(1)
        return (
            _sample(
                text,
                "paykit_consumer_processed_total",
                group="payment-psp-charger",
                topic="payment-events",
            )
            >= 1
        )

    eventually(charger_counted)
    assert (
        _sample(
            _metrics(2),
            "paykit_consumer_processed_total",
            group="payment-status-applier",
            topic="webhook-events",
        )
        >= 1
    )
    assert "paykit_outbox_published_total" in _metrics(3)
    assert "paykit_outbox_published_total" in _metrics(4)


@pytest.mark.parametrize("url_variable", ["PAYMENT_URL", "WEBHOOK_URL", "PSP_URL"])
def test_every_web_process_is_live_and_ready(url_variable: str) -> None:
    base = os.environ[url_variable]
    assert httpx.get(f"{base}/healthz", timeout=5).json() == {"status": "ok"}
    ready = httpx.get(f"{base}/readyz", timeout=5)
    assert ready.status_code == 200, ready.text
