"""The broker-loss journey's measures and verdict, and (with PAY_CHAOS_TEST=1) one short run on
a cluster of three brokers of its own."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from typing import cast

import pytest

from localcluster.chaos.api import PlatformApi
from localcluster.chaos.broker_loss import BrokerLossResult
from localcluster.chaos.invariants import Check
from localcluster.chaos.pauses import Pause, longest_pause
from localcluster.chaos.timed_load import TimedLoad, payment_method
from paykit.testing import wait_until


def test_the_longest_pause_is_the_largest_gap_between_payments_becoming_final() -> None:
    assert longest_pause([10.0, 10.2, 10.2, 14.9, 15.0, 15.1]) == Pause(10.2, 14.9)
    assert longest_pause([3.0, 1.0, 2.5]) == Pause(1.0, 2.5)  # in time order, however given
    assert longest_pause([1.0]) is None


def test_a_pause_is_told_from_the_kill() -> None:
    assert Pause(104.5, 146.0).describe(since=100.0) == "41.5s, from +4.5s to +46.0s"


def recovered(**changes: object) -> BrokerLossResult:
    result = BrokerLossResult(
        "kafka-2",
        leaders_moved=6.4,
        going_again=12.0,
        back_after=40.0,
        replicated=1.7,
        pause=Pause(100.2, 109.0),
        checks=[Check("every payment final", "20 payments")],
    )
    for name, value in changes.items():
        setattr(result, name, value)
    return result


def test_a_run_holds_when_payments_went_on_without_the_broker_and_nothing_broke() -> None:
    assert recovered().ok(max_pause=60)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"going_again": None}, "no payment made after the kill was final before kafka-2"),
        ({"going_again": 41.0}, "no payment made after the kill was final before kafka-2"),
        ({"leaders_moved": None}, "partitions still led by kafka-2"),
        ({"replicated": None}, "under-replicated"),
        ({"pause": Pause(100.0, 170.0)}, "longer than 60s"),
    ],
)
def test_a_run_fails_on_what_it_says(changes: dict[str, object], problem: str) -> None:
    result = recovered(**changes)
    assert not result.ok(max_pause=60)
    assert any(problem in found for found in result.problems(max_pause=60))


def test_a_broken_invariant_fails_the_run() -> None:
    broken = Check("each charged once", "20 payments", ("PAY_1 has 2 charges at the PSP",))
    assert not recovered(checks=[broken]).ok(max_pause=60)


class CountingApi:
    """Stands in for the payment API: answers at once, or holds creates until released."""

    def __init__(self) -> None:
        self.methods: list[str] = []
        self.open = threading.Event()
        self.open.set()

    def create_payment(self, payment_method: str) -> str:
        self.open.wait(10)
        self.methods.append(payment_method)
        return f"PAY_{len(self.methods)}"


def test_the_load_keeps_its_rate_and_times_a_held_create_from_when_it_was_due() -> None:
    api = CountingApi()
    load = TimedLoad(cast(PlatformApi, api), rate=100.0)
    load.start()
    assert wait_until(lambda: load.created() >= 10, 5, 0.01)
    api.open.clear()  # the API stalls: creates fall due and wait
    held_from = load.sent()
    assert wait_until(lambda: load.sent() >= held_from + 20, 5, 0.01)
    api.open.set()
    created = load.stop()
    assert len({c.payment_id for c in created}) == len(created) == len(api.methods)
    assert max(c.latency for c in created) >= 0.1  # a create due while it stalled waited
    assert all(c.due <= c.answered for c in created)


def test_every_fifth_payment_of_the_load_is_declined() -> None:
    methods = [payment_method(n) for n in range(10)]
    assert methods.count("pm_card_declined") == 2 and methods[4] == "pm_card_declined"


@pytest.mark.skipif(
    os.environ.get("PAY_CHAOS_TEST") != "1", reason="starts a cluster of its own: PAY_CHAOS_TEST=1"
)
@pytest.mark.timeout(600)
def test_losing_one_broker_of_three_under_load_loses_nothing() -> None:
    """A short run: 2 payments/s, 5 s before the kill, 5 s or more while the broker is dead
    (until a payment made since is final), 5 s after it is back. The services run with make
    up's settings (the cluster's own, not make test's short delays)."""
    service_prefixes = ("PAY_", "PAYMENT_", "PSP_", "SETTLEMENT_", "WEBHOOK_", "LEDGER_")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(service_prefixes) or k == "PAY_STATE_DIR"
    }
    command = ["--rate", "2", "--before", "5", "--down", "5", "--after", "5"]
    command += ["--down-timeout", "120"]

    run = subprocess.run(
        [sys.executable, "-m", "localcluster.chaos.broker_loss", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    print(run.stdout)  # the figures: pause, failover, recovery (pytest -s shows them)
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"broker loss: every invariant held; longest pause \d", run.stdout)
