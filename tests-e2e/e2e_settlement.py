"""From a succeeded payment to the merchant's bank, as the journeys watch it: the item on
settlement-events, the batch that holds it (closed by the settlement scheduler when the
cluster's schedule fires soon enough to wait for, else by an operator's run of the same cutoff
logic), its payout and the ledger's moves, each seen through the merchant's and the operator's
APIs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]
from e2e_clients import Merchant, Operator
from e2e_observe import E2E_TIMEOUT, Topics, eventually

from payevents.topics import SETTLEMENT_EVENTS

DEFAULT_SCHEDULE = "0 2 * * *"  # SETTLEMENT_SCHEDULE's default
SCHEDULE_WAIT_SECONDS = 65.0  # a schedule firing within this is waited for, not run by hand
ZERO = {"escrow": 0, "payable": 0, "receivable": 0}


def seconds_to_next_run(schedule: str, now: datetime | None = None) -> float:
    """Seconds until the settlement scheduler's next run under ``schedule`` (a crontab, UTC;
    empty: the default)."""
    at = now or datetime.now(UTC)
    trigger = CronTrigger.from_crontab(schedule or DEFAULT_SCHEDULE, timezone=UTC)
    fire: datetime = trigger.get_next_fire_time(None, at)
    return (fire - at).total_seconds()


def item_of(
    topics: Topics, merchant_id: str, payment_id: str, kind: str = "payment"
) -> dict[str, Any]:
    """The settlement item of a payment (or of its refund), once settlement-events has it."""

    def announced() -> dict[str, Any] | None:
        for event in topics.events(SETTLEMENT_EVENTS.name, merchant_id):
            data = event.data
            if event.type == "settlement.item_created" and (data["payment_id"], data["kind"]) == (
                payment_id,
                kind,
            ):
                return dict(data)
        return None

    return eventually(announced, f"the {kind} settlement item of {payment_id}")


def paid_and_itemised(merchant: Merchant, topics: Topics, amount: int, net: int) -> str:
    """A payment of ``amount`` that succeeded, with its ``net`` in escrow and its settlement
    item made; its id."""
    payment_id = str(merchant.create_payment(amount)["id"])
    merchant.wait_for_status(payment_id, "succeeded")
    eventually(lambda: merchant.balances().get("escrow") == net, f"escrow to hold {net}")
    item_of(topics, merchant.merchant_id, payment_id)
    return payment_id


def batch_events(topics: Topics, merchant_id: str, batch_id: str) -> list[str]:
    """The batch's ``settlement.batch_*`` events, in order, without the prefix."""
    return [
        e.type.removeprefix("settlement.")
        for e in topics.events(SETTLEMENT_EVENTS.name, merchant_id)
        if e.type.startswith("settlement.batch") and e.data.get("batch_id") == batch_id
    ]


def batch_closed_with(
    merchant: Merchant, operator: Operator, payment_id: str, schedule: str | None = None
) -> tuple[dict[str, Any], str]:
    """The batch holding ``payment_id``, and who closed it (``schedule`` or ``operator``).

    The payment's item must exist. Given the cluster's ``schedule`` (SETTLEMENT_SCHEDULE, None
    for its default), the scheduler's run is waited for when it fires within
    SCHEDULE_WAIT_SECONDS; otherwise (and without ``schedule``) an operator runs a cutoff of
    now. Either run closes every eligible item, so the batch is looked up through the
    merchant's own API whichever run (this one, a scheduled one, another journey's) did.
    """
    wait = seconds_to_next_run(schedule) if schedule is not None else None
    if wait is not None and wait <= SCHEDULE_WAIT_SECONDS:
        closed_by, timeout = "schedule", wait + E2E_TIMEOUT
    else:
        closed_by, timeout = "operator", E2E_TIMEOUT
        operator.run_settlement()
    batch = eventually(
        lambda: merchant.batch_holding(payment_id),
        f"a batch holding {payment_id} (closed by the {closed_by})",
        timeout,
    )
    return batch, closed_by


def status_becomes(merchant: Merchant, batch_id: str, *statuses: str) -> dict[str, Any]:
    """The batch once its status is one of ``statuses``."""

    def reached() -> dict[str, Any] | None:
        batch = merchant.settlement(batch_id)
        return batch if batch["status"] in statuses else None

    return eventually(reached, f"batch {batch_id} to become {' or '.join(statuses)}")


def balances_become(merchant: Merchant, expected: dict[str, int]) -> None:
    eventually(lambda: merchant.balances() == expected, f"balances of {expected}")


def paid_out(merchant: Merchant, operator: Operator, batch_id: str, net: int) -> dict[str, Any]:
    """The batch is paid, the merchant's balances are all 0 and bank:payouts was credited the
    batch's net once."""
    paid = status_becomes(merchant, batch_id, "paid")
    balances_become(merchant, ZERO)
    assert bank_payouts_of(merchant, operator, batch_id) == [("credit", net)]
    return paid


def bank_payouts_of(merchant: Merchant, operator: Operator, batch_id: str) -> list[tuple[str, int]]:
    """What the ledger's payouts of ``batch_id`` moved on bank:payouts, read from the
    transactions behind the merchant's payout entries."""
    moved = []
    for entry in merchant.entries("payable"):
        if entry["kind"] != "payout":
            continue
        posted = operator.transaction(entry["transaction_id"])
        if posted["settlement_batch_id"] == batch_id:
            moved += [
                (e["direction"], e["amount"])
                for e in posted["entries"]
                if e["account"] == "bank:payouts"
            ]
    return moved


def report_totals(rows: list[dict[str, str]]) -> dict[str, str]:
    """The ``total`` row of a batch's CSV report."""
    [total] = [row for row in rows if row["item_id"] == "total"]
    return total
