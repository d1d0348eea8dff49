"""What must hold once the faults are over, however they struck.

Every payment final and agreeing with the PSP's own record, each charged once and announced
final once; no event given up on (every DLQ empty); the ledger holding one posting per captured
payment and settlement one item; the burst settled and paid out; the ledger's trial balance at
zero; ``ledger verify`` clean; and the three-way reconciliation (settlement against the ledger,
the platform against the PSP's report, the batches against the bank) matched. Each check says
what it saw, so a broken one names the payments and the figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kafka import KafkaConsumer, TopicPartition

from localcluster.chaos.api import PlatformApi
from localcluster.chaos.observe import FINAL_STATUSES, BurstObserver
from localcluster.chaos.rounds import charged_more_than_once, final_more_than_once
from localcluster.config import ClusterConfig
from payevents.topics import CATALOGUE
from paykit.testing import wait_until

SHOWN_PROBLEMS = 10
CLI_TIMEOUT = 120.0


@dataclass(frozen=True)
class Check:
    name: str
    summary: str
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> list[str]:
        lines = [f"  {'ok    ' if self.ok else 'BROKEN'} {self.name}: {self.summary}"]
        lines += [f"           {problem}" for problem in self.problems[:SHOWN_PROBLEMS]]
        if len(self.problems) > SHOWN_PROBLEMS:
            lines.append(f"           ... and {len(self.problems) - SHOWN_PROBLEMS} more")
        return lines


@dataclass(frozen=True)
class Context:
    config: ClusterConfig
    cluster_env: Mapping[str, str]
    api: PlatformApi
    observer: BurstObserver
    payment_ids: Sequence[str]
    started_at: datetime
    settle_timeout: float


def check_invariants(context: Context) -> list[Check]:
    """Every check in order; a later one reads what an earlier one waited for."""
    checks: list[Check] = []
    for check in (
        every_payment_final,
        charged_once,
        final_once,
        nothing_dead_lettered,
        posted_and_itemised_once,
        settled_and_paid_out,
        trial_balance_zero,
        ledger_verifies,
        reconciliation_matches,
    ):
        checks.append(check(context))
    return checks


def every_payment_final(context: Context) -> Check:
    ids = context.payment_ids
    wait_until(lambda: _finals(context) == len(ids), context.settle_timeout, 0.5)
    statuses = context.observer.payment_statuses(ids)
    unfinished = [
        f"{pid} is {statuses.get(pid, 'missing')}" for pid in ids if not _final(pid, statuses)
    ]
    counts = context.observer.statuses(ids)
    summary = f"{len(ids)} payments: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    return Check("every payment final", summary, tuple(unfinished))


def _final(payment_id: str, statuses: Mapping[str, str]) -> bool:
    return statuses.get(payment_id) in FINAL_STATUSES


def _finals(context: Context) -> int:
    statuses = context.observer.payment_statuses(context.payment_ids)
    return sum(_final(pid, statuses) for pid in context.payment_ids)


def charged_once(context: Context) -> Check:
    problems = charged_more_than_once(context.api, context.observer, list(context.payment_ids))
    return Check(
        "each charged once at the PSP, with the payment's outcome",
        f"{len(context.payment_ids)} payments asked of the PSP's records",
        tuple(problems),
    )


def final_once(context: Context) -> Check:
    problems = final_more_than_once(context.observer, context.config, list(context.payment_ids))
    return Check(
        "one final event each, in the outbox and on payment-events",
        f"{len(context.payment_ids)} payments",
        tuple(problems),
    )


def nothing_dead_lettered(context: Context) -> Check:
    """No consumer gave up on an event: every DLQ of the catalogue is empty."""
    dlqs = [entry.dlq_topic(group.name) for entry in CATALOGUE for group in entry.consumers]
    consumer = KafkaConsumer(bootstrap_servers=context.config.bootstrap_servers)
    try:
        partitions = [
            TopicPartition(name, n)
            for name in dlqs
            for n in sorted(consumer.partitions_for_topic(name) or ())
        ]
        ends = consumer.end_offsets(partitions)
        starts = consumer.beginning_offsets(partitions)
    finally:
        consumer.close()
    letters: Counter[str] = Counter()
    for partition in partitions:
        letters[partition.topic] += ends[partition] - starts[partition]
    problems = tuple(f"{name}: {n} dead-lettered" for name, n in sorted(letters.items()) if n)
    return Check("nothing dead-lettered", f"{len(dlqs)} dead letter queues read", problems)


def posted_and_itemised_once(context: Context) -> Check:
    """One ledger posting and one settlement item per succeeded payment, none per failed."""
    statuses = context.observer.payment_statuses(context.payment_ids)
    wanted = {pid: int(statuses.get(pid) == "succeeded") for pid in context.payment_ids}
    counts: dict[str, Callable[[Sequence[str]], Mapping[str, int]]] = {
        "ledger postings": context.observer.payment_postings,
        "settlement items": context.observer.settlement_items,
    }

    def caught_up() -> bool:
        return all(dict(count(list(wanted))) == _nonzero(wanted) for count in counts.values())

    wait_until(caught_up, context.settle_timeout, 0.5)
    problems = []
    for what, count in counts.items():
        found = count(list(wanted))
        problems += [
            f"{pid} ({statuses.get(pid)}) has {found.get(pid, 0)} {what}"
            for pid, n in wanted.items()
            if found.get(pid, 0) != n
        ]
    succeeded = sum(wanted.values())
    return Check(
        "posted once in the ledger and itemised once",
        f"{succeeded} postings and items wanted, one per succeeded payment",
        tuple(problems),
    )


def _nonzero(counts: Mapping[str, int]) -> dict[str, int]:
    return {key: n for key, n in counts.items() if n}


def settled_and_paid_out(context: Context) -> Check:
    """A settlement run now closes the burst's batch; it must end paid, paid once."""
    run = context.api.run_settlement(datetime.now(UTC).isoformat())
    closed = [b for b in run.get("closed", []) if b["merchant_id"] == context.api.merchant]
    if not closed:
        return Check("settled and paid out", "the run closed no batch", (f"run: {run}",))

    def all_paid() -> bool:
        return all(context.api.batch(b["id"])["status"] == "paid" for b in closed)

    wait_until(all_paid, context.settle_timeout, 0.5)
    problems = []
    for batch in closed:
        found = context.api.batch(batch["id"])
        if found["status"] != "paid":
            problems.append(f"batch {batch['id']} is {found['status']}, never paid")
    summary = ", ".join(
        f"{b['id']}: {b['item_count']} items, net {b['net_amount']} {b['currency']}" for b in closed
    )
    return Check("settled and paid out", summary, tuple(problems))


def trial_balance_zero(context: Context) -> Check:
    trial = context.api.trial_balance()
    problems = []
    figures = []
    for currency in trial["data"]:
        difference = currency["debits"] - currency["credits"]
        figures.append(
            f"{currency['currency']} debits {currency['debits']} - credits "
            f"{currency['credits']} = {difference}"
        )
        if difference or not currency["balanced"]:
            problems.append(f"{currency['currency']} is not balanced: {currency}")
        problems += [
            f"{account['account']} {currency['currency']}: balance differs from its entries"
            for account in currency["accounts"]
            if not account["matches_entries"]
        ]
    return Check("trial balance zero", "; ".join(figures) or "no postings", tuple(problems))


def ledger_verifies(context: Context) -> Check:
    run = _cli(context, "ledger_service.entrypoints.cli", "verify")
    lines = run.stdout.strip().splitlines()
    problems = () if run.returncode == 0 else (*lines, *run.stderr.strip().splitlines()[-5:])
    return Check("ledger verify", " / ".join(lines[:1] + lines[-1:]), tuple(problems))


def reconciliation_matches(context: Context) -> Check:
    start = context.started_at - timedelta(minutes=1)
    end = datetime.now(UTC) + timedelta(minutes=1)
    run = _cli(
        context,
        "settlement_service.entrypoints.cli",
        "reconcile",
        "--from",
        start.isoformat(),
        "--to",
        end.isoformat(),
    )
    if run.returncode not in (0, 1):
        said = tuple(run.stderr.strip().splitlines()[-5:]) or (f"exit {run.returncode}",)
        return Check("three-way reconciliation", "could not reconcile", said)
    summary: list[str] = []
    problems: list[str] = []
    for name, check in json.loads(run.stdout)["checks"].items():
        counts = ", ".join(f"{n} {result}" for result, n in check["counts"].items() if n)
        summary.append(f"{name} {counts or 'no lines'}")
        problems += [
            f"{name}: {line['result']} {line['ids']}"
            for line in check["lines"]
            if line["result"] != "matched"
        ]
    return Check("three-way reconciliation", "; ".join(summary), tuple(problems))


def _cli(context: Context, module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """One of the services' operator commands, with the cluster's settings."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        env={**os.environ, **context.cluster_env},
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )
