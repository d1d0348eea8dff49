"""A payment worker with a configuration it cannot run stops at once, in one line."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from paykit.health import HealthFile
from payment_service.entrypoints.workers import _wait_beating


def test_a_worker_given_too_many_retry_delays_exits_at_start_with_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "payment_service.entrypoints.workers", "charger"],
        env={"PAYMENT_CHARGE_RETRY_DELAYS": "1,2,3,4", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 78
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert "PAYMENT_CHARGE_RETRY_DELAYS: names 4 retry tiers" in result.stderr


def test_the_janitor_keeps_its_health_file_fresh_while_it_waits_for_the_next_pass(
    tmp_path: Path,
) -> None:
    health_path = tmp_path / "janitor.json"
    health = HealthFile(health_path, name="payment-janitor", min_interval=0)
    beats: list[float] = []
    original = health.beat

    def counted() -> None:
        beats.append(time.monotonic())
        original()

    health.beat = counted  # type: ignore[method-assign]
    _wait_beating(threading.Event(), 0.3, health)
    assert beats and health_path.exists()
    stopped = threading.Event()
    stopped.set()
    before = len(beats)
    _wait_beating(stopped, 60.0, health)  # a stop request ends the wait at once
    assert len(beats) == before
