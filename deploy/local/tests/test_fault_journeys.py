"""The fault schedules: the journeys' fixed list, the seeded draw that repeats exactly, the
verdicts; and (with PAY_CHAOS_TEST=1) the fault journeys and a short seeded schedule played on a
cluster of their own, the invariants checked and every recovery time printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import cast

import pytest

from localcluster.chaos.api import PlatformApi
from localcluster.chaos.invariants import Check
from localcluster.chaos.load import PacedBurst, shares
from localcluster.chaos.recovery import Recovery, unsteady_processes
from localcluster.chaos.run import parse_args
from localcluster.chaos.schedule import (
    BROKER,
    KILL,
    POSTGRES,
    PSP,
    REDIS,
    describe_schedule,
    journey_schedule,
    random_schedule,
)
from localcluster.chaos.scheduled import LEFT_OUT, FaultResult, ScheduleResult
from localcluster.config import load_config
from paykit.testing import wait_until

PROCESSES = ["payment-api", "payment-charger", "ledger-poster", "psp-web", "settlement-relay"]
# The seed make test plays, printed with its schedule: a failure there is repeated with
# `make chaos JOURNEYS=1 SEED=20261220 DURATION=20`.
TEST_SEED, TEST_DURATION = 20261220, 20
# make test's short service delays stay out: the run has its own (FAULT_SERVICE_SETTINGS), so
# its recovery times are make chaos's.
SERVICE_PREFIXES = ("PAY_", "PAYMENT_", "PSP_", "SETTLEMENT_", "WEBHOOK_", "LEDGER_", "GATEWAY_")


def test_the_journeys_kill_every_process_in_turn_then_each_piece_of_infrastructure() -> None:
    schedule = journey_schedule(PROCESSES)

    assert [(f.kind, f.targets) for f in schedule[: len(PROCESSES)]] == [
        (KILL, (name,)) for name in PROCESSES
    ]
    assert [f.kind for f in schedule[len(PROCESSES) :]] == [BROKER, POSTGRES, REDIS, PSP]
    assert schedule[-1].seconds == 30
    assert all(f.after == 0 for f in schedule)


def test_a_seed_draws_the_same_schedule_every_time_and_another_seed_another() -> None:
    first = random_schedule(7, 120, PROCESSES)

    assert random_schedule(7, 120, PROCESSES) == first
    assert random_schedule(8, 120, PROCESSES) != first
    assert describe_schedule(random_schedule(7, 120, PROCESSES)) == describe_schedule(first)


def test_a_drawn_schedule_fits_its_duration_and_picks_only_the_given_processes() -> None:
    for seed in range(50):
        schedule = random_schedule(seed, 90, PROCESSES)

        assert sum(f.after + f.seconds for f in schedule) <= 90
        assert all(set(f.targets) <= set(PROCESSES) for f in schedule)
        assert all(f.after > 0 for f in schedule)
    kinds = {f.kind for seed in range(50) for f in random_schedule(seed, 90, PROCESSES)}
    assert kinds == {"kill", "pause", "broker", "postgres", "redis", "psp"}


def test_even_the_shortest_duration_draws_one_fault() -> None:
    assert len(random_schedule(3, 1, PROCESSES)) == 1


def test_the_printed_schedule_says_the_gap_before_each_fault_and_what_it_does() -> None:
    lines = describe_schedule(random_schedule(7, 60, PROCESSES))

    assert lines[0].startswith("   1. after ")
    assert describe_schedule(journey_schedule(["payment-relay"]))[:2] == [
        "   1. SIGKILL payment-relay",
        "   2. SIGKILL the Kafka broker, then start it again",
    ]


def test_the_burst_is_shared_out_in_proportion_to_each_faults_expected_time() -> None:
    assert shares(200, [5, 5, 35, 5]) == [20, 20, 140, 20]
    assert sum(shares(200, [5.0, 6.3, 7.1])) == 200
    assert shares(2, [1, 1, 1]) in ([1, 1, 0], [1, 0, 1], [0, 1, 1])


class CountingApi:
    """Stands in for the payment API: a payment id per create, numbered in order."""

    def __init__(self) -> None:
        self.created: list[str] = []
        self.lock = threading.Lock()

    def create_payment(self, payment_method: str) -> str:
        with self.lock:
            self.created.append(payment_method)
            return f"PAY_{len(self.created)}"


def test_a_window_paces_its_share_and_the_next_one_sends_what_is_left_at_once() -> None:
    api = CountingApi()
    burst = PacedBurst(cast(PlatformApi, api), [f"pm_{n}" for n in range(10)])

    burst.release(4, 60)  # one payment now, the next in 15 s
    assert wait_until(lambda: len(api.created) == 1, 5)
    burst.release(3, 0)
    assert wait_until(lambda: len(api.created) == 7, 5)
    ids = burst.finish()

    assert api.created == [f"pm_{n}" for n in range(10)]
    assert sorted(ids, key=lambda i: int(i[4:])) == [f"PAY_{n}" for n in range(1, 11)]


def test_a_process_that_exits_by_itself_before_any_fault_is_left_out_and_named(
    tmp_path: Path,
) -> None:
    ports = {"PAY_KAFKA_PORT": "2000", "PAY_KAFKA_CONTROLLER_PORT": "2001", "PAY_PG_PORT": "2002"}
    config = load_config(
        {**ports, "PAY_REDIS_PORT": "2003", "PAY_HTTP_PORT_BASE": "2100"}
        | {"PAY_CLUSTER": "unit", "PAY_STATE_DIR": str(tmp_path)}
    )
    config.log_dir.mkdir(parents=True)
    supervisor_lines = [
        "ledger-poster exited with 1 after 0.5s; starting it again in 1.0s",
        "all services stopped",
        "started webhook-notifier (pid 10)",
        "webhook-notifier exited with 78 after 1.0s; starting it again in 1.0s",
        "payment-relay was killed by SIGKILL after 9.0s; starting it again now",
    ]
    (config.log_dir / "services.log").write_text(
        "".join(f"2026-01-01T00:00:0{n}.000Z {line}\n" for n, line in enumerate(supervisor_lines))
    )
    (config.log_dir / "svc-webhook-notifier.log").write_text("starting\nerror: no consumer group\n")

    assert unsteady_processes(config) == {
        "webhook-notifier": "exited with 78: error: no consumer group"
    }


def _result(
    *recoveries: Recovery, checks: tuple[Check, ...] = (), planned: int = 0
) -> ScheduleResult:
    kill = journey_schedule(["payment-relay"])[0]
    faults = [FaultResult(n, kill, 0.0, 0.0, r) for n, r in enumerate(recoveries, start=1)]
    return ScheduleResult(planned or len(faults), faults, list(checks))


def test_a_run_holds_only_when_every_fault_was_recovered_from_and_every_check_held() -> None:
    whole = Recovery(2.5, "PAY_probe", in_flight=3, drained=4.0)
    held = Check("trial balance zero", "EUR debits 10 - credits 10 = 0")

    assert _result(whole, whole, checks=(held,)).ok
    assert not _result(whole, Recovery(None, "PAY_probe", "payment-relay"), checks=(held,)).ok
    assert not _result(whole, Recovery(2.0, "PAY_p", "the 3 payments in flight", 3)).ok
    assert not _result(whole, checks=(Check("ledger verify", "", ("seal 4 broken",)),)).ok
    assert not _result(whole, planned=2).ok, "a schedule cut short proves nothing after the cut"


def test_a_fault_line_gives_its_recovery_and_when_its_payments_in_flight_were_final() -> None:
    [line] = [
        f.describe() for f in _result(Recovery(2.54, "PAY_p", in_flight=7, drained=9.06)).faults
    ]

    assert line == (
        "   1. +   0.0s SIGKILL payment-relay: over after 0.0s, recovered in 2.5s, "
        "the 7 in flight final after 9.1s"
    )


def test_a_fault_left_out_passes_saying_it_was_not_struck() -> None:
    result = _result(LEFT_OUT)

    assert result.ok and result.recovery_figures() == ""
    assert result.faults[0].describe().endswith("not struck: its processes never ran steadily")


def test_make_chaos_draws_and_prints_a_seed_when_given_none() -> None:
    command = parse_args([])

    assert command.faults is not None and command.faults.seed is not None
    assert (
        f"(again: make chaos SEED={command.faults.seed} DURATION=60)" in command.faults.headline()
    )


def test_the_headline_gives_the_command_that_repeats_the_run() -> None:
    settings = parse_args(["--journeys", "--seed", "5", "--duration", "20", "--payments", "50"])

    assert settings.faults is not None
    assert settings.faults.headline() == (
        "chaos: the fault journeys + seed 5, duration 20s; 50 payments in the burst "
        "(again: make chaos JOURNEYS=1 SEED=5 DURATION=20 PAYMENTS=50)"
    )


def test_the_journeys_kill_the_workers_and_a_drawn_schedule_strikes_any_process() -> None:
    procfile = [
        (name, "gunicorn app" if name.endswith("-api") else "python -m w") for name in PROCESSES
    ]
    journeys = parse_args(["--journeys"]).faults
    both = parse_args(["--journeys", "--seed", "5", "--duration", "20"]).faults

    assert journeys is not None and journeys.seed is None
    assert journeys.faults(procfile) == journey_schedule(PROCESSES[1:])
    assert both is not None and (both.journeys, both.seed, both.duration) == (True, 5, 20)
    assert both.faults(procfile) == [
        *journey_schedule(PROCESSES[1:]),
        *random_schedule(5, 20, PROCESSES),
    ]


def test_rounds_still_run_broker_crash_rounds_and_refuse_a_seed() -> None:
    command = parse_args(["--rounds", "2", "--payments", "50"])

    assert command.rounds is not None and command.faults is None
    assert (command.rounds.rounds, command.rounds.round.payments) == (2, 50)
    with pytest.raises(SystemExit):
        parse_args(["--rounds", "2", "--seed", "1"])


@pytest.mark.skipif(
    os.environ.get("PAY_CHAOS_TEST") != "1", reason="starts a cluster of its own: PAY_CHAOS_TEST=1"
)
@pytest.mark.timeout(1200)
def test_the_fault_journeys_and_a_seeded_schedule_lose_and_double_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """200 payments while every process is killed in turn, the broker, PostgreSQL and Redis are
    restarted and the PSP is down for 30 s, then a schedule drawn from TEST_SEED."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(SERVICE_PREFIXES) or k == "PAY_STATE_DIR"
    }
    report = tmp_path / "chaos.json"
    command = ["--journeys", "--seed", str(TEST_SEED), "--duration", str(TEST_DURATION)]

    run = subprocess.run(
        [sys.executable, "-m", "localcluster.chaos", *command, "--json", str(report)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )

    with capsys.disabled():  # the recovery times belong in make test's output
        print(f"\n{run.stdout}", end="")
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(report.read_text())
    assert result["ok"] and len(result["faults"]) == result["planned_faults"]
    assert all(fault["recovery_seconds"] is not None for fault in result["faults"])
    assert [check["name"] for check in result["checks"] if check["ok"]] == [
        "every payment final",
        "each charged once at the PSP, with the payment's outcome",
        "one final event each, in the outbox and on payment-events",
        "nothing dead-lettered",
        "posted once in the ledger and itemised once",
        "settled and paid out",
        "trial balance zero",
        "ledger verify",
        "three-way reconciliation",
    ]
