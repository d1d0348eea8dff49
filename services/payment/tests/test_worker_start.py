"""A payment worker with a configuration it cannot run stops at once, in one line."""

from __future__ import annotations

import subprocess
import sys


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
