"""Where a payment's time goes after its create: stage latencies and each hop's share.

Every event carries two times. The envelope's ``occurred_at`` is stamped by the service in the
transaction that commits the event to its outbox (so: when the service did its work), and the
Kafka record's timestamp (CreateTime) is stamped by the outbox relay's producer when it sent it
(so: when the relay published it). Chaining the two over the events a payment causes splits its
end-to-end time into hops that add up exactly, payment by payment: the platform's own work, the
relays, the consumers' polls, and the PSP's and webhook's delays.

Pure functions over plain records, so the arithmetic is tested without a cluster; the events
come from ``bench.event_log``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from statistics import fmean
from typing import Any

from bench.driver import CreatedPayment
from bench.stats import LatencySummary, percentile


class Milestone(Enum):
    """A fact about a payment that one event announces, in the order the pipeline makes them."""

    CREATED = "payment.created"
    CHARGED = "payment.processing"
    REPORTED = "psp.payment_status_received"
    SUCCEEDED = "payment.succeeded"
    FAILED = "payment.failed"
    POSTED = "ledger.transaction_posted"
    ITEMISED = "settlement.item_created"


class Clock(Enum):
    COMMITTED = "committed"  # the envelope's occurred_at: the service's outbox transaction
    PRODUCED = "produced"  # the record's CreateTime: the relay's send to Kafka


@dataclass(frozen=True)
class MilestoneEvent:
    """One event about one payment, with both of its times (epoch seconds)."""

    payment_id: str
    milestone: Milestone
    committed_at: float
    produced_at: float


def milestone_of(event_type: str, data: Mapping[str, Any]) -> Milestone | None:
    """The milestone an event of ``event_type`` marks for the payment in ``data``, if any.

    Only a payment's own posting and item count (a refund's carry the payment id too), and
    only the PSP's report of success (a webhook may report processing first).
    """
    if event_type == Milestone.REPORTED.value:
        return Milestone.REPORTED if data.get("status") == "succeeded" else None
    if event_type in (Milestone.POSTED.value, Milestone.ITEMISED.value):
        return Milestone(event_type) if data.get("kind") == "payment" else None
    try:
        return Milestone(event_type)
    except ValueError:
        return None


Point = tuple[Milestone, Clock]


class SuccessPath(Enum):
    """How a payment learnt it had succeeded: from the PSP's answer to the charge (a provider
    that decides at once), or from the PSP's report through its webhook (one that decides
    later). The hops between the charge and ``payment.succeeded`` differ between the two."""

    CHARGE_ANSWER = "charge answer"
    REPORT = "report"


@dataclass(frozen=True)
class Hop:
    """The time between two points of a payment's life; ``start`` None is the create's send.
    ``path``: the hop is on the way of payments whose success came that way only."""

    name: str
    start: Point | None
    end: Point
    path: SuccessPath | None = None


HOPS: tuple[Hop, ...] = (
    Hop("gateway + payment API: create committed", None, (Milestone.CREATED, Clock.COMMITTED)),
    Hop(
        "payment relay: payment.created produced",
        (Milestone.CREATED, Clock.COMMITTED),
        (Milestone.CREATED, Clock.PRODUCED),
    ),
    Hop(
        "charger: consume, PSP charge answered",
        (Milestone.CREATED, Clock.PRODUCED),
        (Milestone.CHARGED, Clock.COMMITTED),
    ),
    Hop(
        "charger: succeeded from the charge answer",
        (Milestone.CHARGED, Clock.COMMITTED),
        (Milestone.SUCCEEDED, Clock.COMMITTED),
        SuccessPath.CHARGE_ANSWER,
    ),
    Hop(
        "PSP outcome delay + webhook send + intake",
        (Milestone.CHARGED, Clock.COMMITTED),
        (Milestone.REPORTED, Clock.COMMITTED),
        SuccessPath.REPORT,
    ),
    Hop(
        "webhook relay: PSP report produced",
        (Milestone.REPORTED, Clock.COMMITTED),
        (Milestone.REPORTED, Clock.PRODUCED),
        SuccessPath.REPORT,
    ),
    Hop(
        "status applier: payment.succeeded committed",
        (Milestone.REPORTED, Clock.PRODUCED),
        (Milestone.SUCCEEDED, Clock.COMMITTED),
        SuccessPath.REPORT,
    ),
    Hop(
        "payment relay: payment.succeeded produced",
        (Milestone.SUCCEEDED, Clock.COMMITTED),
        (Milestone.SUCCEEDED, Clock.PRODUCED),
    ),
    Hop(
        "ledger poster: posting committed",
        (Milestone.SUCCEEDED, Clock.PRODUCED),
        (Milestone.POSTED, Clock.COMMITTED),
    ),
    Hop(
        "ledger relay: posting produced",
        (Milestone.POSTED, Clock.COMMITTED),
        (Milestone.POSTED, Clock.PRODUCED),
    ),
    Hop(
        "settlement itemizer: item committed",
        (Milestone.POSTED, Clock.PRODUCED),
        (Milestone.ITEMISED, Clock.COMMITTED),
    ),
)
# The stages a reader asks about, each reached when its event is committed.
STAGES: tuple[tuple[str, Milestone], ...] = (
    ("succeeded", Milestone.SUCCEEDED),
    ("ledger posted", Milestone.POSTED),
    ("settlement item", Milestone.ITEMISED),
)
FINAL = Milestone.ITEMISED


@dataclass
class Timeline:
    """One created payment: its send and answer, and the first time it reached each point."""

    created: CreatedPayment
    points: dict[Point, float]

    def at(self, point: Point | None) -> float | None:
        return self.created.sent_at if point is None else self.points.get(point)

    def reached(self, milestone: Milestone) -> bool:
        return (milestone, Clock.COMMITTED) in self.points

    @property
    def success_path(self) -> SuccessPath | None:
        """The charge answer when ``payment.succeeded`` was committed before the PSP's report
        was published (or with no report at all), else the report; None before success."""
        succeeded = self.points.get((Milestone.SUCCEEDED, Clock.COMMITTED))
        if succeeded is None:
            return None
        reported = self.points.get((Milestone.REPORTED, Clock.PRODUCED))
        if reported is None or succeeded <= reported:
            return SuccessPath.CHARGE_ANSWER
        return SuccessPath.REPORT

    @property
    def done(self) -> bool:
        """Nothing more will come: it reached the end, or it failed."""
        return self.reached(FINAL) or self.reached(Milestone.FAILED)


def timelines(
    created: Iterable[CreatedPayment], events: Iterable[MilestoneEvent]
) -> dict[str, Timeline]:
    """Each created payment's timeline from its events, in any order, repeats included.

    An event the relay published twice, or two events for one milestone, count once: the
    earliest commit, and of its copies the earliest send. Events about payments this run did
    not create are left out.
    """
    lines = {payment.payment_id: Timeline(payment, {}) for payment in created}
    earliest: dict[tuple[str, Milestone], tuple[float, float]] = {}
    for event in events:
        if event.payment_id not in lines:
            continue
        key = (event.payment_id, event.milestone)
        times = (event.committed_at, event.produced_at)
        if key not in earliest or times < earliest[key]:
            earliest[key] = times
    for (payment_id, milestone), (committed_at, produced_at) in earliest.items():
        points = lines[payment_id].points
        points[(milestone, Clock.COMMITTED)] = committed_at
        points[(milestone, Clock.PRODUCED)] = produced_at
    return lines


@dataclass(frozen=True)
class StageSummary:
    """How many of the created reached a stage, how long after the send, and at what rate."""

    name: str
    reached: int
    missing: int
    latency: LatencySummary | None
    per_second: float | None


@dataclass(frozen=True)
class HopSummary:
    name: str
    count: int
    p50_ms: float
    mean_ms: float
    share_of_end_to_end: float | None


@dataclass(frozen=True)
class PipelineSummary:
    """One rate's pipeline: stages, hops, and the end to end time the hops are shares of."""

    created: int
    failed: int
    stages: list[StageSummary]
    hops: list[HopSummary]
    end_to_end_p50_ms: float | None
    end_to_end_mean_ms: float | None

    @property
    def hop_p50_sum_ms(self) -> float:
        return round(sum(hop.p50_ms for hop in self.hops), 1)


def stage_summary(name: str, milestone: Milestone, lines: Sequence[Timeline]) -> StageSummary:
    """Latency from the scheduled send, and throughput from the stage's first to its last.

    The rate is (n - 1) over the time from the first to the last: n evenly spaced events at r/s
    span (n - 1)/r seconds, so this gives r back where n/span would overstate it.
    """
    point = (milestone, Clock.COMMITTED)
    times = sorted(line.points[point] for line in lines if point in line.points)
    latencies = [
        line.points[point] - line.created.sent_at for line in lines if point in line.points
    ]
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    per_second = round((len(times) - 1) / span, 1) if span > 0 else None
    return StageSummary(
        name,
        reached=len(times),
        missing=len(lines) - len(times),
        latency=LatencySummary.of_seconds(latencies),
        per_second=per_second,
    )


def hop_durations(hop: Hop, lines: Iterable[Timeline]) -> list[float]:
    """The hop's seconds for every payment that has both of its ends (and, for a hop on one
    success path only, took that path)."""
    durations = []
    for line in lines:
        path = line.success_path  # None: not succeeded (yet); its hops so far all count
        if hop.path is not None and path is not None and path is not hop.path:
            continue
        start, end = line.at(hop.start), line.at(hop.end)
        if start is not None and end is not None:
            durations.append(end - start)
    return durations


def summarise(
    created: Sequence[CreatedPayment], events: Iterable[MilestoneEvent]
) -> PipelineSummary:
    """The pipeline figures of one rate: every stage, every hop, counted over what was created."""
    lines = list(timelines(created, events).values())
    final = (FINAL, Clock.COMMITTED)
    end_to_end = sorted(
        line.points[final] - line.created.sent_at for line in lines if line.reached(FINAL)
    )
    e2e_p50 = percentile(end_to_end, 0.5) if end_to_end else None
    hops = []
    for hop in HOPS:
        durations = sorted(hop_durations(hop, lines))
        if not durations:
            continue
        p50 = percentile(durations, 0.5)
        hops.append(
            HopSummary(
                hop.name,
                count=len(durations),
                p50_ms=round(p50 * 1000, 1),
                mean_ms=round(fmean(durations) * 1000, 1),
                share_of_end_to_end=round(p50 / e2e_p50, 3) if e2e_p50 else None,
            )
        )
    return PipelineSummary(
        created=len(lines),
        failed=sum(line.reached(Milestone.FAILED) for line in lines),
        stages=[stage_summary(name, milestone, lines) for name, milestone in STAGES],
        hops=hops,
        end_to_end_p50_ms=round(e2e_p50 * 1000, 1) if e2e_p50 is not None else None,
        end_to_end_mean_ms=round(fmean(end_to_end) * 1000, 1) if end_to_end else None,
    )
