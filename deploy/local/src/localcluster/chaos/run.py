"""``python -m localcluster.chaos``: faults injected into a running platform, timed to recovery.

Two kinds of run, each on a cluster of its own (``chaos``, ports from 23092) started from an
empty state folder and stopped however the run ends:

- **Fault schedules** (the default): ``--journeys`` kills every Procfile process in turn, then
  restarts the Kafka broker, PostgreSQL (immediate shutdown) and Redis, and takes the PSP down
  for 30 s; ``--seed N --duration S`` draws a schedule of kills, pauses, restarts and outages
  from the seed (``localcluster.chaos.schedule``), so a failing run is repeated by giving the
  seed again. With neither, a seed is drawn and printed. Both may be given: the journeys, then
  the drawn schedule. A steady burst of payments runs throughout; each fault's recovery is
  timed; then the invariants are checked (``localcluster.chaos.invariants``). Exit 1 when a
  fault is not recovered from or an invariant breaks.
- **Broker-crash rounds** (``--rounds N``): every round sends a burst of payments through the
  payment API, SIGKILLs the charger, the status applier, both relays, the webhook web process
  and the PSP's webhook sender (the supervisor restarts them), then SIGKILLs the Kafka broker
  and starts it again as ``make up`` does. It prints the seconds from the broker being ready to
  the last payment of the burst being final, and fails a round that takes longer than the
  target, leaves a payment unfinished, charges one twice at the PSP or announces one final
  twice.

The services run with ``make up``'s settings but for ``SERVICE_SETTINGS`` (rounds) or
``fault_run.FAULT_SERVICE_SETTINGS`` (schedules); any service variable exported before the run
reaches the services and wins.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from localcluster.chaos.cluster import chaos_cluster
from localcluster.chaos.fault_run import FaultRunSettings, run_faults, write_json
from localcluster.chaos.rounds import RoundResult, RoundSettings, run_round
from localcluster.chaos.scheduled import ScheduleSettings
from localcluster.config import ClusterConfig, load_config
from localcluster.errors import ClusterError

CLUSTER = "chaos"
# Not the janitor's short test delays: they would finish stuck payments behind the event path's
# back and hide the very recovery measured here. But the PSP simulator's webhook timeout: its
# lease (4 x timeout + 5 s) holds back a delivery its killed sender had in hand, 45 s with the
# default 10 s, a wait on the provider's side that no Kafka-side change shortens; with 2 s the
# lease is 13 s, over before the broker is back.
SERVICE_SETTINGS = {"PSP_WEBHOOK_TIMEOUT_SECONDS": "2"}


@dataclass(frozen=True)
class ChaosSettings:
    rounds: int = 5
    target_seconds: float = 15.0
    round: RoundSettings = field(default_factory=RoundSettings)
    fresh: bool = True  # start from an empty state folder, as a fresh clone would
    keep_running: bool = False  # leave the cluster up afterwards, to read its state


def run_chaos(
    settings: ChaosSettings,
    config: ClusterConfig,
    report: Callable[[RoundResult], None] = lambda result: None,
) -> list[RoundResult]:
    """Start the cluster, run the rounds, stop the cluster; the rounds' results in order."""
    results: list[RoundResult] = []
    with chaos_cluster(
        config,
        fresh=settings.fresh,
        keep_running=settings.keep_running,
        service_settings=SERVICE_SETTINGS,
    ) as cluster:
        for number in range(1, settings.rounds + 1):
            results.append(run_round(number, settings.round, config, cluster.api, cluster.observer))
            report(results[-1])
    return results


def print_round(result: RoundResult, target_seconds: float) -> None:
    verdict = "ok" if result.within(target_seconds) else "FAILED"
    print(f"{result.describe()} {verdict}", flush=True)
    if result.broker_ready_at is not None:
        for stage in result.stages:
            print(f"    {stage.describe(result.broker_ready_at)}")
    for problem in result.problems[:20]:
        print(f"    problem: {problem}")
    if len(result.problems) > 20:
        print(f"    ... and {len(result.problems) - 20} more problems")


def summary(results: list[RoundResult], target_seconds: float) -> str:
    figures = ", ".join(
        "never" if r.recovery_seconds is None else f"{r.recovery_seconds:.1f}" for r in results
    )
    passed = sum(r.within(target_seconds) for r in results)
    return (
        f"recovery after a broker restart (s): {figures}; "
        f"{passed} of {len(results)} rounds within {target_seconds:g}s and without problems"
    )


@dataclass(frozen=True)
class Command:
    cluster: str
    rounds: ChaosSettings | None = None  # broker-crash rounds, or else
    faults: FaultRunSettings | None = None  # the fault journeys and a drawn schedule
    json_path: Path | None = None


def parse_args(argv: list[str] | None) -> Command:
    parser = argparse.ArgumentParser(
        prog="python -m localcluster.chaos",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--journeys", action="store_true", help="every fault in turn")
    parser.add_argument("--seed", type=int, help="draw a schedule from this seed")
    parser.add_argument("--duration", type=float, help="seconds the drawn schedule spans (60)")
    parser.add_argument("--recovery-timeout", type=float, default=120.0, help="per fault")
    parser.add_argument("--settle-timeout", type=float, default=180.0)
    parser.add_argument("--json", type=Path, help="write the schedule run's results here")
    parser.add_argument("--rounds", type=int, help="broker-crash rounds instead")
    parser.add_argument(
        "--payments", type=int, help="payments per burst (rounds 300, schedules 200)"
    )
    parser.add_argument("--target", type=float, default=15.0, help="seconds a round may take")
    parser.add_argument("--round-timeout", type=float, default=300.0)
    parser.add_argument("--cluster", default=CLUSTER, help="cluster name (default: chaos)")
    parser.add_argument("--reuse", action="store_true", help="keep the cluster's state folder")
    parser.add_argument("--keep-running", action="store_true", help="do not stop the cluster")
    args = parser.parse_args(argv)
    if (args.payments is not None and args.payments < 1) or (
        args.rounds is not None and args.rounds < 1
    ):
        parser.error("--rounds and --payments must be at least 1")
    if args.rounds is not None:
        if args.journeys or args.seed is not None or args.duration is not None:
            parser.error("--rounds runs broker-crash rounds: no --journeys, --seed or --duration")
        rounds = ChaosSettings(
            rounds=args.rounds,
            target_seconds=args.target,
            round=RoundSettings(payments=args.payments or 300, round_timeout=args.round_timeout),
            fresh=not args.reuse,
            keep_running=args.keep_running,
        )
        return Command(args.cluster, rounds=rounds)
    if args.duration is not None and not 1 <= args.duration <= 3600:
        parser.error("--duration is between 1 and 3600 seconds")
    drawn = args.seed is not None or args.duration is not None or not args.journeys
    faults = FaultRunSettings(
        journeys=args.journeys,
        seed=(secrets.randbelow(1_000_000) if args.seed is None else args.seed) if drawn else None,
        duration=args.duration or 60.0,
        schedule=ScheduleSettings(
            payments=args.payments or 200,
            recovery_timeout=args.recovery_timeout,
            settle_timeout=args.settle_timeout,
        ),
        fresh=not args.reuse,
        keep_running=args.keep_running,
    )
    return Command(args.cluster, faults=faults, json_path=args.json)


def main(argv: list[str] | None = None) -> int:
    command = parse_args(argv)
    os.environ["PAY_CLUSTER"] = command.cluster  # the services and every helper read it
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the cluster is stopped
    try:
        config = load_config()
        if command.rounds is not None:
            return _rounds(command.rounds, config)
        assert command.faults is not None
        result = run_faults(command.faults, config, lambda line: print(line, flush=True))
        if command.json_path is not None:
            write_json(command.json_path, command.faults, result)
        return 0 if result.ok else 1
    except ClusterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _rounds(settings: ChaosSettings, config: ClusterConfig) -> int:
    results = run_chaos(settings, config, lambda r: print_round(r, settings.target_seconds))
    print(summary(results, settings.target_seconds))
    return 0 if all(r.within(settings.target_seconds) for r in results) else 1
