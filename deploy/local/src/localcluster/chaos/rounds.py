"""One round of the chaos run: a burst, the kills, the broker back, and what it cost."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from localcluster.chaos.api import PlatformApi
from localcluster.chaos.faults import (
    keep_broker_log,
    kill_broker,
    kill_services,
    restart_broker,
    wait_services_running,
)
from localcluster.chaos.observe import FINAL_EVENT_TYPES, FINAL_STATUSES, BurstObserver, Stage
from localcluster.config import ClusterConfig
from localcluster.errors import ClusterError
from payevents import decode
from payevents.topics import PAYMENT_EVENTS
from paykit.testing import read_topic, wait_until

HEALTHY_TIMEOUT = 180.0
EVENTS_PUBLISHED_TIMEOUT = 60.0


@dataclass(frozen=True)
class RoundSettings:
    payments: int = 300
    round_timeout: float = 300.0
    declined_every: int = 5  # every n-th payment of a burst is declined: both finals are exercised

    def payment_methods(self) -> list[str]:
        return [
            "pm_card_declined" if (n + 1) % self.declined_every == 0 else "pm_card_visa"
            for n in range(self.payments)
        ]


@dataclass
class RoundResult:
    number: int
    payments: int
    final_when_broker_back: int = 0
    broker_down_seconds: float = 0.0
    recovery_seconds: float | None = None  # None: the burst was not all final in time
    problems: list[str] = field(default_factory=list)
    stages: list[Stage] = field(default_factory=list)
    broker_ready_at: datetime | None = None

    def within(self, target_seconds: float) -> bool:
        recovered = self.recovery_seconds is not None and self.recovery_seconds <= target_seconds
        return recovered and not self.problems

    def describe(self) -> str:
        took = "never" if self.recovery_seconds is None else f"{self.recovery_seconds:.1f}s"
        ready = f" at {self.broker_ready_at:%H:%M:%S.%f}"[:-3] if self.broker_ready_at else ""
        return (
            f"round {self.number}: {took} from the broker ready{ready} to the last of "
            f"{self.payments} payments final ({self.final_when_broker_back} were final before; "
            f"broker down {self.broker_down_seconds:.1f}s)"
        )


def final_count(statuses: Counter[str]) -> int:
    return sum(statuses[status] for status in FINAL_STATUSES)


def wait_healthy(api: PlatformApi, observer: BurstObserver, config: ClusterConfig) -> None:
    """Every process runs and one payment goes all the way: no backlog, groups joined."""
    wait_services_running(config, HEALTHY_TIMEOUT)
    api.wait_ready(HEALTHY_TIMEOUT)
    probe = [api.create_payment("pm_card_visa")]
    if not wait_until(lambda: final_count(observer.statuses(probe)) == 1, HEALTHY_TIMEOUT, 0.2):
        raise ClusterError(f"a single payment was not final within {HEALTHY_TIMEOUT:.0f}s")


def run_round(
    number: int,
    settings: RoundSettings,
    config: ClusterConfig,
    api: PlatformApi,
    observer: BurstObserver,
) -> RoundResult:
    wait_healthy(api, observer, config)
    result = RoundResult(number, settings.payments)
    ids = api.create_burst(settings.payment_methods())
    kill_services(config)
    died = kill_broker(config)
    result.final_when_broker_back = final_count(observer.statuses(ids))
    ready = restart_broker(config)
    result.broker_down_seconds = ready - died
    result.broker_ready_at = datetime.fromtimestamp(ready, UTC)
    all_final = wait_until(
        lambda: final_count(observer.statuses(ids)) == len(ids), settings.round_timeout, 0.2
    )
    last = observer.last_final_at(ids)
    if all_final and last is not None:
        result.recovery_seconds = max(0.0, last.timestamp() - ready)
    else:
        statuses = dict(observer.statuses(ids))
        result.problems.append(
            f"not all final {settings.round_timeout:.0f}s after the broker was ready: {statuses}"
        )
    result.problems.extend(charged_more_than_once(api, observer, ids))
    result.problems.extend(final_more_than_once(observer, config, ids))
    result.stages = observer.timeline(ids, since=result.broker_ready_at)
    keep_broker_log(config, f"kafka-round-{number}.log")
    return result


def charged_more_than_once(api: PlatformApi, observer: BurstObserver, ids: list[str]) -> list[str]:
    """The simulator's own records: one charge per payment, with the payment's outcome."""
    problems = []
    with_statuses = observer.payment_statuses(ids)
    for payment_id, charges in api.charges_of(ids).items():
        status = with_statuses.get(payment_id)
        if len(charges) != 1:
            problems.append(f"{payment_id} ({status}) has {len(charges)} charges at the PSP")
        elif status in FINAL_STATUSES and charges[0]["status"] != status:
            problems.append(f"{payment_id} is {status} but its PSP charge {charges[0]['status']}")
    return problems


def final_more_than_once(
    observer: BurstObserver, config: ClusterConfig, ids: list[str]
) -> list[str]:
    """Exactly one final event per payment, in the outbox and on the topic consumers read."""

    def all_published() -> bool:
        return all(sent == total for total, sent in observer.final_events(ids).values())

    problems = []
    if not wait_until(all_published, EVENTS_PUBLISHED_TIMEOUT, 0.5):
        problems.append(f"final events still unpublished after {EVENTS_PUBLISHED_TIMEOUT:.0f}s")
    for payment_id, (total, _) in observer.final_events(ids).items():
        if total != 1:
            problems.append(f"{payment_id} has {total} final events in the outbox")
    wanted = {payment_id.encode() for payment_id in ids}
    on_topic: dict[str, set[str]] = {payment_id: set() for payment_id in ids}
    for record in read_topic(config.bootstrap_servers, PAYMENT_EVENTS.name, timeout=60):
        if record.key in wanted:
            envelope = decode(record.value)
            if envelope.type in FINAL_EVENT_TYPES:
                on_topic[envelope.subject].add(envelope.id)
    for payment_id, event_ids in on_topic.items():
        if len(event_ids) != 1:
            problems.append(f"{payment_id} has {len(event_ids)} final events on the topic")
    return problems
