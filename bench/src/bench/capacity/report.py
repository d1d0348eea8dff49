"""A capacity run's figures: per target per round, medians over the rounds, and the ratios.

The ratios compare medians taken in the same run, where every target met the same machine
under the same noise; a figure from another run, or another hour, would not be comparable on a
shared two-core box. Per-round ratios are kept too: a round's targets ran one right after the
other, so how much they move from round to round says how far the medians can be trusted.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.capacity.kafka_baseline import KafkaResult
from bench.capacity.pgbench import PgbenchResult
from bench.capacity.vegeta import AttackResult

BARE, PAYMENT, GATEWAY = "bare", "payment", "gateway"
HTTP_TARGETS = (BARE, PAYMENT, GATEWAY)
PAYMENT_OF_BARE_TARGET = 0.7
GATEWAY_PER_SECOND_TARGET = 500.0


@dataclass(frozen=True)
class RoundFigures:
    """One HTTP target in one round."""

    target: str
    round: int
    success_per_second: float
    p50_ms: float | None
    p99_ms: float | None
    requests: int
    successes: int
    failures: dict[str, int]
    # CPU seconds each busy process (the platform's, and the bare endpoint) used over the round
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        target: str,
        round_number: int,
        result: AttackResult,
        cpu_seconds: dict[str, float] | None = None,
    ) -> RoundFigures:
        latency = result.latency()
        return cls(
            target=target,
            round=round_number,
            success_per_second=round(result.success_per_second, 1),
            p50_ms=latency.p50_ms if latency else None,
            p99_ms=latency.p99_ms if latency else None,
            requests=sum(result.answers.values()),
            successes=result.successes,
            failures=result.failures,
            cpu_seconds=dict(cpu_seconds or {}),
        )

    def cpu_ms_per_success(self) -> dict[str, float]:
        """Each process's CPU per 2xx answer, the busiest first."""
        if not self.successes:
            return {}
        per = {name: used * 1000 / self.successes for name, used in self.cpu_seconds.items()}
        return dict(sorted(per.items(), key=lambda item: -item[1]))


def median(values: Sequence[float | None]) -> float | None:
    """The median of the figures there are (a round with no 2xx has no latency), else None."""
    present = [value for value in values if value is not None]
    return round(statistics.median(present), 1) if present else None


def ratio(part: float | None, whole: float | None) -> float | None:
    """``part / whole``, or None when either is missing or the whole is not positive."""
    if part is None or whole is None or whole <= 0:
        return None
    return round(part / whole, 3)


@dataclass(frozen=True)
class TargetMedians:
    success_per_second: float | None
    p50_ms: float | None
    p99_ms: float | None


@dataclass
class CapacityReport:
    seconds: float
    rounds: int
    connections: int
    load_generator: str
    http: list[RoundFigures] = field(default_factory=list)
    pgbench: list[PgbenchResult] = field(default_factory=list)
    kafka: KafkaResult | None = None
    rows: dict[str, int] = field(default_factory=dict)

    def of_target(self, target: str) -> list[RoundFigures]:
        return [figures for figures in self.http if figures.target == target]

    def medians(self, target: str) -> TargetMedians:
        rounds = self.of_target(target)
        return TargetMedians(
            median([r.success_per_second for r in rounds]),
            median([r.p50_ms for r in rounds]),
            median([r.p99_ms for r in rounds]),
        )

    def cpu_ms_per_success(self, target: str) -> dict[str, float]:
        """Median over the rounds of each process's CPU ms per 2xx answer of ``target``."""
        rounds = [r.cpu_ms_per_success() for r in self.of_target(target)]
        names = {name for figures in rounds for name in figures}
        medians = {name: median([figures.get(name, 0.0) for figures in rounds]) for name in names}
        present = {name: value for name, value in medians.items() if value}
        return dict(sorted(present.items(), key=lambda item: -item[1]))

    def ratios(self) -> dict[str, float | None]:
        """Median 2xx/s of the payment service and of the gateway, each over the bare one's."""
        bare = self.medians(BARE).success_per_second
        return {
            f"{PAYMENT}/{BARE}": ratio(self.medians(PAYMENT).success_per_second, bare),
            f"{GATEWAY}/{BARE}": ratio(self.medians(GATEWAY).success_per_second, bare),
        }

    def ratios_by_round(self) -> dict[str, list[float | None]]:
        by_round: dict[str, list[float | None]] = {f"{PAYMENT}/{BARE}": [], f"{GATEWAY}/{BARE}": []}
        for number in range(1, self.rounds + 1):
            rate = {r.target: r.success_per_second for r in self.http if r.round == number}
            for target in (PAYMENT, GATEWAY):
                by_round[f"{target}/{BARE}"].append(ratio(rate.get(target), rate.get(BARE)))
        return by_round

    def pgbench_medians(self) -> tuple[float | None, float | None]:
        """Median tps and median mean latency (ms) of the pgbench rounds."""
        return (
            median([r.tps for r in self.pgbench]),
            median([r.latency_average_ms for r in self.pgbench]),
        )

    def record(self) -> dict[str, Any]:
        """Every figure as plain data, for the JSON file."""
        return {
            "seconds": self.seconds,
            "rounds": self.rounds,
            "connections": self.connections,
            "load_generator": self.load_generator,
            "http": {
                target: {
                    "rounds": [asdict(r) for r in self.of_target(target)],
                    "median": asdict(self.medians(target)),
                }
                for target in HTTP_TARGETS
            },
            "cpu_ms_per_success": {
                target: self.cpu_ms_per_success(target) for target in HTTP_TARGETS
            },
            "ratios": self.ratios(),
            "ratios_by_round": self.ratios_by_round(),
            "targets": {
                f"{PAYMENT}/{BARE}": PAYMENT_OF_BARE_TARGET,
                "gateway_per_second": GATEWAY_PER_SECOND_TARGET,
            },
            "pgbench": {
                "rounds": [asdict(r) for r in self.pgbench],
                "median_tps": self.pgbench_medians()[0],
                "median_latency_average_ms": self.pgbench_medians()[1],
            },
            "kafka": None
            if self.kafka is None
            else {
                **asdict(self.kafka),
                "produced_per_second": round(self.kafka.produced_per_second, 1),
                "consumed_per_second": round(self.kafka.consumed_per_second, 1),
            },
            "rows": self.rows,
        }

    def table(self) -> str:
        """The terminal table; see bench/CAPACITY.md for how to read it."""
        return "\n".join(render_lines(self))


def _cell(value: float | None, form: str = "{:.1f}") -> str:
    return "-" if value is None else form.format(value)


def _verdict(value: float | None, target: float) -> str:
    if value is None:
        return "no figure"
    return "met" if value >= target else "not met"


def render_lines(report: CapacityReport) -> list[str]:
    return [
        f"closed loop, {report.connections} connections, {report.seconds:g} s a target,"
        f" {report.rounds} round(s), {report.load_generator}",
        *_http_lines(report),
        *_ratio_lines(report),
        *_cpu_lines(report),
        *_baseline_lines(report),
    ]


CPU_PROCESSES_SHOWN = 4


def _cpu_lines(report: CapacityReport) -> list[str]:
    """Where each target's CPU went, per 2xx answer: what bounds a 2-core box is the sum."""
    lines = []
    for target in HTTP_TARGETS:
        per = report.cpu_ms_per_success(target)
        if not per:
            continue
        shown = ", ".join(
            f"{name} {ms:.2f}" for name, ms in list(per.items())[:CPU_PROCESSES_SHOWN]
        )
        lines.append(f"CPU ms per {target} 2xx: {sum(per.values()):.2f} in all ({shown})")
    return lines


def _http_lines(report: CapacityReport) -> list[str]:
    header = f"{'target':<8} {'round':>5} {'2xx/s':>8} {'p50 ms':>8} {'p99 ms':>8}  non-2xx"
    lines = [header, "-" * len(header)]
    for target in HTTP_TARGETS:
        for r in report.of_target(target):
            failures = ", ".join(f"{k}: {n}" for k, n in r.failures.items()) or "none"
            lines.append(
                f"{target:<8} {r.round:>5} {r.success_per_second:>8.1f} {_cell(r.p50_ms):>8}"
                f" {_cell(r.p99_ms):>8}  {failures}"
            )
        m = report.medians(target)
        lines.append(
            f"{target:<8} {'med':>5} {_cell(m.success_per_second):>8} {_cell(m.p50_ms):>8}"
            f" {_cell(m.p99_ms):>8}"
        )
    return lines


def _ratio_lines(report: CapacityReport) -> list[str]:
    ratios, by_round = report.ratios(), report.ratios_by_round()
    lines = []
    for name, value in ratios.items():
        rounds = ", ".join(_cell(v, "{:.2f}") for v in by_round[name])
        lines.append(f"{name}: {_cell(value, '{:.2f}')} (rounds: {rounds})")
    payment_of_bare = ratios[f"{PAYMENT}/{BARE}"]
    gateway = report.medians(GATEWAY).success_per_second
    lines.append(
        f"targets: {PAYMENT}/{BARE} >= {PAYMENT_OF_BARE_TARGET}:"
        f" {_verdict(payment_of_bare, PAYMENT_OF_BARE_TARGET)};"
        f" {GATEWAY} >= {GATEWAY_PER_SECOND_TARGET:g}/s:"
        f" {_verdict(gateway, GATEWAY_PER_SECOND_TARGET)}"
    )
    return lines


def _baseline_lines(report: CapacityReport) -> list[str]:
    lines = []
    if report.pgbench:
        tps, latency = report.pgbench_medians()
        by_round = ", ".join(f"{r.tps:.0f}" for r in report.pgbench)
        lines.append(
            f"pgbench single-row inserts: {_cell(tps)} tps median (rounds: {by_round}),"
            f" latency average {_cell(latency)} ms"
        )
    if report.kafka is not None:
        k = report.kafka
        lines.append(
            f"kafka-python, {k.messages} x {k.message_bytes} B, acks=all:"
            f" produce {k.produced_per_second:.0f} msg/s, consume {k.consumed_per_second:.0f}"
            f" msg/s ({k.produced} produced, {k.consumed} consumed)"
        )
    if report.rows:
        lines.append("rows written: " + ", ".join(f"{k} {n}" for k, n in report.rows.items()))
    return lines
