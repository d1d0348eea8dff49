"""The fault journeys and the seeded schedule, on the chaos run's own cluster, with their report.

The schedule is made and printed before the cluster starts; then each fault's line as it
recovers, the invariants, and the recovery figures. ``--json`` writes the same as data.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcluster.chaos.cluster import chaos_cluster
from localcluster.chaos.schedule import Fault, describe_schedule, journey_schedule, random_schedule
from localcluster.chaos.scheduled import (
    ScheduleResult,
    ScheduleSettings,
    play_schedule,
)
from localcluster.config import ClusterConfig
from localcluster.services import PROCFILE
from localcluster.supervisor import parse_procfile

# The faults cost seconds, so the back-offs that would wait minutes are capped near 10 s:
# the janitor looks at a payment 10 s after it was made (then at most every 10 s), the PSP's
# sender retries a webhook at most 10 s apart, settlement pays at once after a run and looks
# at its payouts every 2 s. What a recovery then takes is the platform's, not a timer's. The
# simulator's webhook lease is as in the broker rounds (run.SERVICE_SETTINGS).
FAULT_SERVICE_SETTINGS = {
    "PSP_WEBHOOK_TIMEOUT_SECONDS": "2",
    "PSP_WEBHOOK_RETRY_CAP_SECONDS": "10",
    "PAYMENT_STUCK_AFTER_SECONDS": "10",
    "PAYMENT_RECHECK_MAX_DELAY_SECONDS": "10",
    "PAYMENT_JANITOR_INTERVAL_SECONDS": "2",
    "SETTLEMENT_HOLDING_PERIOD_DAYS": "0",
    "SETTLEMENT_JANITOR_INTERVAL_SECONDS": "2",
    "SETTLEMENT_PAYOUT_STUCK_AFTER_SECONDS": "5",
}


@dataclass(frozen=True)
class FaultRunSettings:
    journeys: bool = False
    seed: int | None = None  # None: no drawn schedule
    duration: float = 60.0
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    fresh: bool = True
    keep_running: bool = False

    def faults(self, processes: Sequence[tuple[str, str]]) -> list[Fault]:
        """The journeys, then the schedule drawn from the seed (each when asked for).

        ``processes`` are the Procfile's (name, command): the journeys kill its workers, a
        drawn schedule strikes any of them.
        """
        names = [name for name, _ in processes]
        workers = [name for name, command in processes if not command.startswith("gunicorn")]
        drawn = [] if self.seed is None else random_schedule(self.seed, self.duration, names)
        return [*(journey_schedule(workers) if self.journeys else []), *drawn]

    def headline(self) -> str:
        """What runs, and the make command that runs it again."""
        parts = ["the fault journeys"] if self.journeys else []
        again = ["make chaos"] + (["JOURNEYS=1"] if self.journeys else [])
        if self.seed is not None:
            parts.append(f"seed {self.seed}, duration {self.duration:g}s")
            again += [f"SEED={self.seed}", f"DURATION={self.duration:g}"]
        if self.schedule.payments != ScheduleSettings().payments:
            again.append(f"PAYMENTS={self.schedule.payments}")
        return (
            f"chaos: {' + '.join(parts)}; {self.schedule.payments} payments in the burst "
            f"(again: {' '.join(again)})"
        )


def run_faults(
    settings: FaultRunSettings,
    config: ClusterConfig,
    say: Callable[[str], None] = print,
) -> ScheduleResult:
    schedule = settings.faults(parse_procfile(PROCFILE))
    say(settings.headline())
    say(f"schedule ({len(schedule)} faults, cluster {config.name!r}):")
    for line in describe_schedule(schedule):
        say(line)
    with chaos_cluster(
        config,
        fresh=settings.fresh,
        keep_running=settings.keep_running,
        service_settings=FAULT_SERVICE_SETTINGS,
    ) as cluster:
        say("faults (from the fault over to a probe payment final, posted and itemised):")
        result = play_schedule(
            schedule, settings.schedule, config, cluster.env, cluster.api, cluster.observer, say
        )
        for name, why in result.exited.items():
            say(f"  exited by itself during the faults, started again: {name} ({why})")
        say("invariants:")
        for check in result.checks:
            for line in check.describe():
                say(line)
    say(f"recovery per fault (s): {result.recovery_figures()}")
    if len(result.faults) < result.planned:
        say(f"the schedule stopped after fault {len(result.faults)} of {result.planned}")
    say("chaos: every invariant held" if result.ok else "chaos: FAILED")
    return result


def as_json(settings: FaultRunSettings, result: ScheduleResult) -> dict[str, Any]:
    return {
        "journeys": settings.journeys,
        "seed": settings.seed,
        "duration": settings.duration,
        "payments": result.payments,
        "planned_faults": result.planned,
        "faults": [
            {
                "number": f.number,
                "kind": f.fault.kind,
                "fault": f.fault.describe(),
                "struck_at": round(f.struck_at, 2),
                "lasted": round(f.lasted, 2),
                "recovery_seconds": None
                if f.recovery.seconds is None
                else round(f.recovery.seconds, 2),
                "waiting_for": f.recovery.waiting_for,
            }
            for f in result.faults
        ],
        "checks": [
            {"name": c.name, "ok": c.ok, "summary": c.summary, "problems": list(c.problems)}
            for c in result.checks
        ],
        "exited": result.exited,
        "ok": result.ok,
    }


def write_json(path: Path, settings: FaultRunSettings, result: ScheduleResult) -> None:
    path.write_text(json.dumps(as_json(settings, result), indent=2) + "\n")
