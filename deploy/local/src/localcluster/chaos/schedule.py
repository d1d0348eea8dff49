"""Which fault, to which process, when: the fault journeys' fixed list, or one drawn from a seed.

A schedule is data, made before anything is injected and printed first, so a run that breaks an
invariant is repeated exactly by giving its seed again (with the same Procfile: the processes a
fault may pick from are the Procfile's, in its order). Only the draw is exact; the platform's own
timing under the faults is not, as in any run on real processes.

Faults never overlap: each strikes ``after`` seconds once the platform is whole again from the
one before (or from the start), so every recovery time is one fault's, and schedules can follow
one another. A drawn schedule's gaps and faults fit in its duration; the recoveries come on top.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

KILL, PAUSE, BROKER, POSTGRES, REDIS, PSP = "kill", "pause", "broker", "postgres", "redis", "psp"
# How often each kind is drawn: killed processes are the commonest fault in production, and
# the cheapest to recover from, so they are most of a schedule.
WEIGHTS = {KILL: 5, PAUSE: 2, BROKER: 1, POSTGRES: 1, REDIS: 1, PSP: 2}
JOURNEY_PSP_DOWN_SECONDS = 30.0
FIRST_GAP = (1.0, 4.0)  # seconds from the start to the first drawn fault
GAP = (3.0, 12.0)  # seconds from the platform whole again to the next drawn fault
PAUSE_SECONDS = (2.0, 15.0)  # up to past the consumers' 10 s session timeout
INFRA_DOWN_SECONDS = (0.0, 5.0)  # PostgreSQL or Redis stopped this long before it starts again
PSP_DOWN_SECONDS = (5.0, 30.0)
MAX_KILLED_AT_ONCE = 3


@dataclass(frozen=True)
class Fault:
    """One fault, struck ``after`` seconds once the platform is whole again from the last."""

    kind: str
    after: float = 0.0
    targets: tuple[str, ...] = ()  # the processes killed or paused
    seconds: float = 0.0  # how long it lasts: a pause, PostgreSQL or Redis down, the PSP down

    def describe(self) -> str:
        processes = ", ".join(self.targets)
        return {
            KILL: f"SIGKILL {processes}",
            PAUSE: f"SIGSTOP {processes} for {self.seconds:.1f}s, then SIGCONT",
            BROKER: "SIGKILL the Kafka broker, then start it again",
            POSTGRES: f"PostgreSQL immediate shutdown, down {self.seconds:.1f}s, started again",
            REDIS: f"Redis stopped, down {self.seconds:.1f}s, started again",
            PSP: f"the PSP down (503 to every call) for {self.seconds:.1f}s",
        }[self.kind]


def journey_schedule(workers: Sequence[str]) -> list[Fault]:
    """The fault journeys: every worker killed in turn, then each piece of infrastructure.

    Workers, not the web processes: a killed web process costs a retried request, which the
    drawn schedules' kills (of any process) and the payment API's idempotency cover.
    """
    return [
        *(Fault(KILL, targets=(name,)) for name in workers),
        Fault(BROKER),
        Fault(POSTGRES),
        Fault(REDIS),
        Fault(PSP, seconds=JOURNEY_PSP_DOWN_SECONDS),
    ]


def random_schedule(seed: int, duration: float, processes: Sequence[str]) -> list[Fault]:
    """Faults drawn from ``random.Random(seed)``, their gaps and lengths within ``duration`` s.

    At least one fault, however short the duration: a run with none would prove nothing.
    """
    rng = random.Random(seed)  # noqa: S311 (a draw to repeat, not a secret)
    kinds = list(WEIGHTS)
    faults: list[Fault] = []
    elapsed = 0.0
    gap = round(rng.uniform(*FIRST_GAP), 1)
    while True:
        kind = rng.choices(kinds, weights=list(WEIGHTS.values()))[0]
        fault = _draw(rng, kind, gap, processes)
        if faults and elapsed + gap + fault.seconds > duration:
            return faults
        faults.append(fault)
        elapsed += gap + fault.seconds
        gap = round(rng.uniform(*GAP), 1)


def _draw(rng: random.Random, kind: str, after: float, processes: Sequence[str]) -> Fault:
    def seconds(bounds: tuple[float, float]) -> float:
        return round(rng.uniform(*bounds), 1)

    if kind == KILL:
        count = rng.randint(1, min(MAX_KILLED_AT_ONCE, len(processes)))
        return Fault(KILL, after, tuple(rng.sample(list(processes), count)))
    if kind == PAUSE:
        return Fault(PAUSE, after, (rng.choice(list(processes)),), seconds(PAUSE_SECONDS))
    if kind in (POSTGRES, REDIS):
        return Fault(kind, after, seconds=seconds(INFRA_DOWN_SECONDS))
    if kind == PSP:
        return Fault(PSP, after, seconds=seconds(PSP_DOWN_SECONDS))
    return Fault(BROKER, after)


def describe_schedule(faults: Sequence[Fault]) -> list[str]:
    """One line per fault: its number, the gap before it, what it does."""
    return [
        f"  {n:>2}. {f'after {fault.after:4.1f}s: ' if fault.after else ''}{fault.describe()}"
        for n, fault in enumerate(faults, start=1)
    ]
