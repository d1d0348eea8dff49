"""``payctl payments follow ID``: a payment's way from created to the merchant's bank account.

Each poll reads the payment; once it succeeded, the merchant's settlement batches created since
the payment are searched for the one holding it, and that batch is then read alone. Every step
reached is printed once, as it is seen (steps passed between two polls are printed together,
in order). Exit status: 0 paid out, 1 failed (the payment, or the batch's payout), 124 when
``--timeout`` passes first.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import click

from payctl.errors import TimedOut
from payctl.http_api import Api
from payctl.options import json_option, session
from payctl.output import rows_of
from payevents.statuses import (
    CLOSED_BATCH_STATUSES,
    PAID_PAYMENT_STATUSES,
    UNPAID_PAYMENT_STATUSES,
)


@dataclass(frozen=True)
class Step:
    name: str
    detail: str = ""
    final: bool = False
    failed: bool = False


@dataclass
class Journey:
    """What is known of one payment's journey; ``steps`` says what it has reached so far."""

    api: Api
    payment_id: str
    batch: dict[str, Any] | None = None
    searched_batches: set[str] = field(default_factory=set)

    def steps(self) -> list[Step]:
        payment = self.api.get(f"/v1/payments/{self.payment_id}")
        status = payment.get("status")
        reached = [Step("created", f"{payment.get('amount')} {payment.get('currency')}")]
        if status == "created":
            return reached
        reached.append(Step("processing"))
        if status in UNPAID_PAYMENT_STATUSES:
            reason = payment.get("failure_code") or payment.get("failure_message") or ""
            return [*reached, Step(str(status), str(reason), final=True, failed=True)]
        if status not in PAID_PAYMENT_STATUSES:
            return reached
        reached.append(Step("succeeded"))
        batch = self._batch(payment)
        if batch is None:
            return reached
        return reached + list(_batch_steps(batch))

    def _batch(self, payment: dict[str, Any]) -> dict[str, Any] | None:
        if self.batch is not None:
            self.batch = self.api.get(f"/v1/settlements/{self.batch['id']}")
            return self.batch
        cursor: str | None = None
        while True:
            page = self.api.get(
                "/v1/settlements", {"from": payment.get("created_at"), "cursor": cursor}
            )
            for listed in rows_of(page):
                found = self._holding_payment(str(listed["id"]))
                if found is not None:
                    self.batch = found
                    return found
            cursor = page.get("next_cursor") if isinstance(page, dict) else None
            if not cursor:
                return None

    def _holding_payment(self, batch_id: str) -> dict[str, Any] | None:
        if batch_id in self.searched_batches:
            return None
        batch = self.api.get(f"/v1/settlements/{batch_id}")
        items = batch.get("items") or []
        if any(item.get("payment_id") == self.payment_id for item in items):
            return dict(batch)
        if batch.get("status") != "open":  # a closed batch's items never change
            self.searched_batches.add(batch_id)
        return None


def _batch_steps(batch: dict[str, Any]) -> Iterator[Step]:
    status = batch.get("status")
    net = f"{batch.get('net_amount', '?')} {batch.get('currency', '')}".strip()
    yield Step("in a settlement batch", f"{batch.get('id')} (net {net})")
    if status not in CLOSED_BATCH_STATUSES:
        return
    yield Step("batch closed")
    if status == "paid":
        yield Step("paid out", final=True)
    elif status == "failed":
        yield Step("payout failed", "an operator may retry the batch", final=True, failed=True)


def _show(step: Step, payment_id: str, json_wanted: bool) -> None:
    at = datetime.now(UTC).isoformat(timespec="seconds")
    if json_wanted:
        record = {"payment_id": payment_id, "step": step.name, "detail": step.detail, "at": at}
        click.echo(json.dumps(record))
    else:
        click.echo(f"{at[11:19]}  {step.name}{'  ' + step.detail if step.detail else ''}")


@click.command("follow")
@click.argument("payment_id")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=600.0,
    show_default=True,
    help="Seconds to follow before giving up (exit 124).",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.01),
    default=2.0,
    show_default=True,
    help="Seconds between polls.",
)
@json_option
def follow(payment_id: str, timeout: float, interval: float) -> None:
    """Show a payment's steps as they happen, until it is paid out or fails.

    created -> processing -> succeeded -> in a settlement batch -> batch closed -> paid out.
    Exit 0 when paid out, 1 when it failed, 124 on --timeout. With --json, one JSON object
    a line per step.
    """
    s = session()
    journey = Journey(s.merchant_gateway(), payment_id)
    deadline = time.monotonic() + timeout
    shown = 0
    while True:
        steps = journey.steps()
        for step in steps[shown:]:
            _show(step, payment_id, s.json)
        shown = max(shown, len(steps))
        last = steps[-1]
        if last.final:
            click.get_current_context().exit(1 if last.failed else 0)
        if time.monotonic() >= deadline:
            raise TimedOut(
                f"{payment_id} was not paid out within {timeout:g} s (last step: {last.name})"
            )
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
