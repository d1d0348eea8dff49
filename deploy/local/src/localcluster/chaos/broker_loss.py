"""One broker of three SIGKILLed under a steady load of payments, kept down, then started again.

Run on a cluster of its own (``broker-loss``, three brokers from 30092), with topics at
replication factor 3 and ``min.insync.replicas=2``: the platform's acks=all producers keep
writing to the two brokers left, and its consumers follow the partition leaders the quorum
moves off the dead broker. The load never stops: payments are created before the kill, while the
broker is down, and after it is back. Then nothing may be lost (``chaos.invariants``: every
payment final, charged once, final once, posted once, settled, the trial balance zero, the
ledger verified, reconciliation clean), and the longest pause in payments becoming final is
measured (``chaos.pauses``), with the create latency, the failover and the recovery times.

The broker killed is by default the quorum's leader, the active controller: the worst case, as
the metadata quorum elects a new leader while every partition the broker led moves.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from localcluster.chaos.cluster import RunningCluster, chaos_cluster
from localcluster.chaos.invariants import Check, Context, check_invariants
from localcluster.chaos.observe import FINAL_STATUSES
from localcluster.chaos.pauses import Pause, journey_moments, longest_pause
from localcluster.chaos.timed_load import Created, Spread, TimedLoad
from localcluster.config import ClusterConfig, load_config
from localcluster.errors import ClusterError
from localcluster.kafka import KafkaBroker, KafkaCluster
from localcluster.kafka_admin import partition_leaders, quorum_leader, under_replicated
from paykit.testing import wait_until

CLUSTER = "broker-loss"
# Settlement pays out at once, so the invariants' settlement run has a batch to close and pay;
# the payment janitor keeps make up's delays, so no payment is finished behind the event path's
# back while the broker is down: the pause measured is the event path's own.
SERVICE_SETTINGS = {
    "SETTLEMENT_HOLDING_PERIOD_DAYS": "0",
    "SETTLEMENT_JANITOR_INTERVAL_SECONDS": "2",
    "SETTLEMENT_PAYOUT_STUCK_AFTER_SECONDS": "5",
}
FAILOVER_TIMEOUT = 60.0
REPLICATED_TIMEOUT = 120.0


@dataclass(frozen=True)
class BrokerLossSettings:
    rate: float = 4.0  # payments created per second, throughout
    before: float = 10.0  # seconds of load before the kill
    down: float = 60.0  # seconds of load with the broker dead, at the least
    down_timeout: float = 180.0  # the most it stays dead waiting for payments to go on
    after: float = 15.0  # seconds of load once it is back
    broker: int | None = None  # None: the quorum leader at the moment of the kill
    max_pause: float = 60.0  # seconds without a payment becoming final that fail the run
    settle_timeout: float = 180.0
    fresh: bool = True
    keep_running: bool = False


@dataclass
class BrokerLossResult:
    """What the journey measured; moments are wall-clock seconds, durations seconds."""

    broker: str
    led_partitions: int = 0  # partitions the broker led when it died
    payments: int = 0
    killed_at: float = 0.0
    leaders_moved: float | None = None  # from the kill to no partition led by it or nobody
    going_again: float | None = None  # from the kill to a payment made since then final
    back_after: float = 0.0  # from the kill to the broker ready again
    start_seconds: float = 0.0  # from its launch to ready
    replicated: float | None = None  # from ready to every partition's ISR whole again
    pause: Pause | None = None  # the longest, over the whole load
    pause_before: Pause | None = None  # the longest before the kill: the load's own
    create_latency: Spread = field(default_factory=lambda: Spread(0.0, 0.0))
    end_to_end: Spread = field(default_factory=lambda: Spread(0.0, 0.0))
    checks: list[Check] = field(default_factory=list)

    def problems(self, max_pause: float) -> list[str]:
        """Why the journey failed, beyond a broken invariant; empty when it held."""
        found = []
        if self.leaders_moved is None:
            found.append(f"partitions still led by {self.broker} {FAILOVER_TIMEOUT:.0f}s on")
        if self.going_again is None or self.going_again >= self.back_after:
            found.append(f"no payment made after the kill was final before {self.broker} was back")
        if self.replicated is None:
            found.append(f"partitions under-replicated {REPLICATED_TIMEOUT:.0f}s after it was back")
        if self.pause is None or self.pause.seconds > max_pause:
            found.append(f"payments stopped becoming final for longer than {max_pause:g}s")
        return found

    def ok(self, max_pause: float) -> bool:
        return not self.problems(max_pause) and all(check.ok for check in self.checks)

    def describe(self) -> list[str]:
        def seconds(value: float | None) -> str:
            return "never" if value is None else f"{value:.1f}s"

        def pause(found: Pause | None) -> str:
            return "none measured" if found is None else found.describe(self.killed_at)

        return [
            f"  killed      {self.broker}, leading {self.led_partitions} partitions; "
            f"{self.payments} payments in all",
            f"  failover    no partition led by it {seconds(self.leaders_moved)} after the kill",
            f"  going again a payment made since the kill final {seconds(self.going_again)} "
            "after it",
            f"  back        ready {self.back_after:.1f}s after the kill "
            f"({self.start_seconds:.1f}s from its launch)",
            f"  replicated  every partition's ISR whole {seconds(self.replicated)} after that",
            f"  pause       longest without a payment final: {pause(self.pause)} from the kill "
            f"(before the kill: {pause(self.pause_before)})",
            f"  create      latency, due to answered: {self.create_latency.describe()}",
            f"  end to end  created to final: {self.end_to_end.describe()}",
        ]


def victim(cluster: KafkaCluster, chosen: int | None) -> KafkaBroker:
    if chosen is not None:
        return cluster.broker(chosen)
    leader = quorum_leader(cluster.config.bootstrap_servers)
    if leader is None:
        raise ClusterError("no broker answered which node leads the controller quorum")
    return cluster.broker(leader)


def led_by(bootstrap_servers: str, node_id: int) -> list[str]:
    """Partitions led by ``node_id`` or by nobody: those a client cannot write to yet."""
    leaders = partition_leaders(bootstrap_servers)
    if not leaders:
        return ["(no broker answered)"]
    return [name for name, leader in leaders.items() if leader in (node_id, -1)]


def wait_for_load(load: TimedLoad, payments: int, seconds: float) -> None:
    """Until the load has had ``payments`` answered: ``seconds`` of it at its rate."""
    if not wait_until(lambda: load.created() >= payments, seconds + 120.0, 0.1):
        raise ClusterError(f"the payment API answered {load.created()} of {payments} creates")


def lose_a_broker(
    settings: BrokerLossSettings,
    cluster: RunningCluster,
    say: Callable[[str], None] = print,
) -> BrokerLossResult:
    """The journey on a running, healthy cluster of three brokers."""
    config = cluster.config
    if config.kafka_brokers != 3:
        raise ClusterError(f"cluster {config.name!r} runs {config.kafka_brokers} broker(s), not 3")
    bootstrap = config.bootstrap_servers
    started_at = datetime.now(UTC)
    load = TimedLoad(cluster.api, settings.rate)
    load.start()
    try:
        wait_for_load(load, round(settings.rate * settings.before), settings.before)
        broker = victim(KafkaCluster(config), settings.broker)
        result = BrokerLossResult(broker.name, len(led_by(bootstrap, broker.node_id)))
        result.killed_at = broker.kill()
        at_kill = load.created()
        say(f"  {broker.name} SIGKILLed after {at_kill} payments; the load goes on")
        if wait_until(lambda: not led_by(bootstrap, broker.node_id), FAILOVER_TIMEOUT, 0.1):
            result.leaders_moved = time.time() - result.killed_at
        wait_for_load(load, at_kill + round(settings.rate * settings.down), settings.down)

        def going_again() -> bool:
            made_since = load.created_since(result.killed_at)
            return any(cluster.observer.statuses(made_since)[s] for s in FINAL_STATUSES)

        # Dead until the platform shows it goes on without the broker, or gives up on that.
        wait_until(going_again, settings.down_timeout, 0.5)
        shutil.copyfile(broker.log_file, broker.log_file.with_name(f"{broker.name}-killed.log"))
        result.start_seconds = broker.start()
        ready_at = time.time()
        result.back_after = ready_at - result.killed_at
        say(f"  {broker.name} back {result.back_after:.1f}s after the kill; the load goes on")
        if wait_until(lambda: under_replicated(bootstrap) == [], REPLICATED_TIMEOUT, 0.2):
            result.replicated = time.time() - ready_at
        wait_for_load(load, load.created() + round(settings.rate * settings.after), settings.after)
    finally:
        created = load.stop()
    result.payments = len(created)
    result.create_latency = Spread.of([c.latency for c in created])
    ids = [c.payment_id for c in created]
    context = Context(
        config, cluster.env, cluster.api, cluster.observer, ids, started_at, settings.settle_timeout
    )
    result.checks = check_invariants(context)
    measure_pauses(result, created, journey_moments(cluster.observer.payment_db, ids))
    return result


def measure_pauses(
    result: BrokerLossResult, created: list[Created], moments: dict[str, tuple[float, float]]
) -> None:
    """The pauses, the end-to-end times and when payments made after the kill went through."""
    finals = [final for _, final in moments.values()]
    result.pause = longest_pause(finals)
    result.pause_before = longest_pause([f for f in finals if f < result.killed_at])
    result.end_to_end = Spread.of([final - made for made, final in moments.values()])
    made_since = [c.payment_id for c in created if c.due >= result.killed_at]
    finals_since = [moments[pid][1] for pid in made_since if pid in moments]
    if finals_since:
        result.going_again = min(finals_since) - result.killed_at


def run_broker_loss(
    settings: BrokerLossSettings, config: ClusterConfig, say: Callable[[str], None] = print
) -> BrokerLossResult:
    """Start the cluster of three brokers, lose one under load, report; stop the cluster."""
    say(
        f"broker loss: cluster {config.name!r}, {config.kafka_brokers} brokers "
        f"(bootstrap {config.bootstrap_servers}), {settings.rate:g} payments/s: "
        f"{settings.before:g}s, then a broker SIGKILLed for {settings.down:g}s or more (until a "
        f"payment made since is final), then {settings.after:g}s with it back"
    )
    with chaos_cluster(
        config,
        fresh=settings.fresh,
        keep_running=settings.keep_running,
        service_settings=SERVICE_SETTINGS,
    ) as cluster:
        result = lose_a_broker(settings, cluster, say)
    for line in result.describe():
        say(line)
    say("invariants:")
    for check in result.checks:
        for line in check.describe():
            say(line)
    for problem in result.problems(settings.max_pause):
        say(f"  problem: {problem}")
    pause = "none" if result.pause is None else f"{result.pause.seconds:.1f}s"
    verdict = "every invariant held" if result.ok(settings.max_pause) else "FAILED"
    say(
        f"broker loss: {verdict}; longest pause {pause} (at most {settings.max_pause:g}s), "
        f"back after {result.back_after:.1f}s"
    )
    return result


def parse_args(argv: list[str] | None) -> tuple[BrokerLossSettings, str]:
    parser = argparse.ArgumentParser(
        prog="python -m localcluster.chaos.broker_loss", description=__doc__
    )
    parser.add_argument("--rate", type=float, default=4.0, help="payments created per second")
    parser.add_argument("--before", type=float, default=10.0, help="seconds before the kill")
    parser.add_argument(
        "--down", type=float, default=60.0, help="seconds the broker is dead, at the least"
    )
    parser.add_argument(
        "--down-timeout", type=float, default=180.0, help="the most, if payments do not go on"
    )
    parser.add_argument("--after", type=float, default=15.0, help="seconds once it is back")
    parser.add_argument("--broker", type=int, choices=(1, 2, 3), help="default: quorum leader")
    parser.add_argument("--max-pause", type=float, default=60.0, help="seconds that fail it")
    parser.add_argument("--settle-timeout", type=float, default=180.0)
    parser.add_argument("--cluster", default=CLUSTER, help=f"cluster name (default: {CLUSTER})")
    parser.add_argument("--reuse", action="store_true", help="keep the cluster's state folder")
    parser.add_argument("--keep-running", action="store_true", help="do not stop the cluster")
    args = parser.parse_args(argv)
    if args.rate <= 0 or min(args.before, args.down, args.after) < 0:
        parser.error("--rate must be positive and the phases not negative")
    settings = BrokerLossSettings(
        rate=args.rate,
        before=args.before,
        down=args.down,
        down_timeout=args.down_timeout,
        after=args.after,
        broker=args.broker,
        max_pause=args.max_pause,
        settle_timeout=args.settle_timeout,
        fresh=not args.reuse,
        keep_running=args.keep_running,
    )
    return settings, args.cluster


def main(argv: list[str] | None = None) -> int:
    settings, cluster = parse_args(argv)
    # The services and every helper read the same name and broker count.
    os.environ["PAY_CLUSTER"] = cluster
    os.environ["PAY_KAFKA_BROKERS"] = "3"
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the cluster is stopped
    try:
        result = run_broker_loss(settings, load_config())
    except ClusterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0 if result.ok(settings.max_pause) else 1


if __name__ == "__main__":
    sys.exit(main())
