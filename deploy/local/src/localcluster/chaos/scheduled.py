"""A schedule of faults played against the running platform under a steady burst of payments.

Each fault strikes its planned gap after the platform is whole again from the one before, and
the seconds from the fault being over to the platform whole again are its recovery time
(``localcluster.chaos.recovery``). A fault the platform does not
recover from within the timeout ends the schedule: what follows would measure nothing. Then the
burst, with every probe, is checked against the invariants (``localcluster.chaos.invariants``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from localcluster.chaos.api import PlatformApi
from localcluster.chaos.faults import inject
from localcluster.chaos.invariants import Check, Context, check_invariants
from localcluster.chaos.load import PacedBurst, shares
from localcluster.chaos.observe import BurstObserver
from localcluster.chaos.recovery import Recovery, RecoveryWatch, unsteady_processes
from localcluster.chaos.rounds import RoundSettings
from localcluster.chaos.schedule import Fault
from localcluster.config import ClusterConfig

# A fault on processes that never ran steadily is not struck; it passes, saying so.
LEFT_OUT = Recovery(0.0, None, in_flight=0, left_out=True)
# Each fault's share of the burst is paced across its gap, its length and this long a recovery.
EXPECTED_RECOVERY_SECONDS = 5.0


@dataclass(frozen=True)
class ScheduleSettings:
    payments: int = 200
    recovery_timeout: float = 120.0  # per fault
    settle_timeout: float = 180.0  # for the burst to be final, posted, itemised and paid out


@dataclass(frozen=True)
class FaultResult:
    number: int
    fault: Fault
    struck_at: float  # seconds from the run's start
    lasted: float  # seconds from striking to over (a restart's own time included)
    recovery: Recovery

    @property
    def recovered(self) -> bool:
        return self.recovery.seconds is not None and not self.recovery.waiting_for

    def describe(self) -> str:
        when = f"{self.number:>2}. +{self.struck_at:6.1f}s"
        return f"  {when} {self.fault.describe()}: {self._verdict()}"

    def _verdict(self) -> str:
        recovery = self.recovery
        took, drained, flying = recovery.seconds, recovery.drained, recovery.in_flight
        if recovery.left_out:
            return "not struck: its processes never ran steadily"
        over = f"over after {self.lasted:.1f}s, "
        if took is None:
            return f"{over}NOT recovered in time (waiting for {recovery.waiting_for})"
        if drained is None and flying:
            return (
                f"{over}recovered in {took:.1f}s, but its {flying} in flight NOT all final in time"
            )
        in_flight = (
            "" if drained is None else f", the {flying} in flight final after {drained:.1f}s"
        )
        return f"{over}recovered in {took:.1f}s{in_flight}"


@dataclass
class ScheduleResult:
    planned: int
    faults: list[FaultResult] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    payments: int = 0
    # Processes that exited by themselves while the faults played (not the ones killed): the
    # supervisor started them again, so no invariant need break, but each is worth a look.
    exited: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        recovered = all(f.recovered for f in self.faults)
        return recovered and len(self.faults) == self.planned and all(c.ok for c in self.checks)

    def recovery_figures(self) -> str:
        return ", ".join(
            "never" if f.recovery.seconds is None else f"{f.recovery.seconds:.1f}"
            for f in self.faults
            if not f.recovery.left_out
        )


def expected_seconds(fault: Fault) -> float:
    """How long a fault is expected to take, gap first: its share of the burst is paced so."""
    return fault.after + fault.seconds + EXPECTED_RECOVERY_SECONDS


def play_schedule(
    schedule: Sequence[Fault],
    settings: ScheduleSettings,
    config: ClusterConfig,
    cluster_env: Mapping[str, str],
    api: PlatformApi,
    observer: BurstObserver,
    say: Callable[[str], None] = lambda line: None,
) -> ScheduleResult:
    """Play ``schedule`` on a healthy platform; the faults' recoveries and the invariants.

    ``say`` gets a line per process left out (not running steadily before any fault) and per
    fault as its recovery is known.
    """
    started_at = datetime.now(UTC)
    watch = RecoveryWatch(config, api, observer)
    for name, why in watch.unsteady.items():
        say(f"  left out, not running steadily before any fault: {name} ({why})")
    result = ScheduleResult(planned=len(schedule))
    load = PacedBurst(api, RoundSettings(payments=settings.payments).payment_methods())
    windows = [expected_seconds(fault) for fault in schedule]
    start = time.time()
    probes: list[str] = []
    for number, (fault, share) in enumerate(
        zip(schedule, shares(settings.payments, windows), strict=True), start=1
    ):
        load.release(share, expected_seconds(fault))
        _gap(fault.after)
        struck = time.time()
        steady = watch.steady_part(fault)
        if steady is None:
            result.faults.append(FaultResult(number, fault, struck - start, 0.0, LEFT_OUT))
            say(result.faults[-1].describe())
            continue
        over = inject(steady, config, api)
        in_flight = watch.unfinished(load.created_so_far())
        recovery = watch.wait_drained(
            watch.wait_recovered(over, settings.recovery_timeout),
            in_flight,
            over,
            settings.recovery_timeout,
        )
        result.faults.append(FaultResult(number, steady, struck - start, over - struck, recovery))
        say(result.faults[-1].describe())
        if recovery.probe:
            probes.append(recovery.probe)
        if not result.faults[-1].recovered:
            break
    result.exited = {
        name: why for name, why in unsteady_processes(config).items() if name not in watch.unsteady
    }
    payment_ids = [*load.finish(), *probes]
    result.payments = len(payment_ids)
    context = Context(
        config, cluster_env, api, observer, payment_ids, started_at, settings.settle_timeout
    )
    result.checks = check_invariants(context)
    return result


def _gap(seconds: float) -> None:
    """A planned gap is the schedule's shape, not a wait for a condition: a plain sleep."""
    time.sleep(seconds)
