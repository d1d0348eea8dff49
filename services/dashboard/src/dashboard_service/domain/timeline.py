"""A payment's way through the platform, as steps a person can follow on one page.

created -> processing -> succeeded -> posted to the ledger -> in a settlement batch -> paid out.
Each step is read from what the public API shows: the payment itself, the ledger entry of its
posting, and the settlement batch that holds it. The public API does not link a payment to its
ledger posting directly: the posting is found through the batch item's ledger transaction, or
through an entry that names the payment, so a payment not yet in a batch may show its posting
as not visible yet (see the README).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from payevents.statuses import PAID_PAYMENT_STATUSES, UNPAID_PAYMENT_STATUSES


class StepState(enum.Enum):
    DONE = "done"
    WAITING = "waiting"
    FAILED = "failed"


@dataclass(frozen=True)
class Step:
    name: str
    state: StepState
    at: str | None = None
    detail: str = ""
    link: str | None = None


@dataclass(frozen=True)
class Journey:
    """What is known of one payment: the batch holding it and the ledger entry of its posting."""

    payment: Mapping[str, Any]
    batch: Mapping[str, Any] | None = None
    posting: Mapping[str, Any] | None = None

    def steps(self) -> list[Step]:
        status = self.payment.get("status")
        steps = [Step("created", StepState.DONE, self.payment.get("created_at"))]
        if status == "created":
            return [*steps, Step("processing", StepState.WAITING, detail="with the card network")]
        steps.append(Step("processing", StepState.DONE))
        if status in UNPAID_PAYMENT_STATUSES:
            reason = self.payment.get("failure_message") or self.payment.get("failure_code") or ""
            return [
                *steps,
                Step(str(status), StepState.FAILED, self.payment.get("updated_at"), reason),
            ]
        if status not in PAID_PAYMENT_STATUSES:
            return [*steps, Step("succeeded", StepState.WAITING, detail="waiting for the outcome")]
        steps.append(Step("succeeded", StepState.DONE))
        steps.append(self._posted())
        steps.extend(self._settled())
        return steps

    def _posted(self) -> Step:
        if self.posting is None:
            return Step(
                "posted to the ledger",
                StepState.WAITING,
                detail="shown once the ledger's entry for it can be found",
            )
        return Step(
            "posted to the ledger",
            StepState.DONE,
            self.posting.get("recorded_at") or self.posting.get("effective_at"),
            f"transaction {self.posting.get('transaction_id')}",
        )

    def _settled(self) -> list[Step]:
        if self.batch is None:
            return [
                Step(
                    "in a settlement batch", StepState.WAITING, detail="at the next settlement run"
                ),
                Step("paid out", StepState.WAITING),
            ]
        batch_id = str(self.batch.get("id"))
        in_batch = Step(
            "in a settlement batch",
            StepState.DONE,
            self.batch.get("created_at"),
            batch_id,
            link=batch_id,
        )
        status = self.batch.get("status")
        if status == "paid":
            return [in_batch, Step("paid out", StepState.DONE, self.batch.get("updated_at"))]
        if status == "failed":
            detail = "the bank refused the payout; the platform's operators retry it"
            return [
                in_batch,
                Step("payout failed", StepState.FAILED, self.batch.get("updated_at"), detail),
            ]
        waiting = "the batch is open until the next run" if status == "open" else f"batch {status}"
        return [in_batch, Step("paid out", StepState.WAITING, detail=waiting)]


def item_for_payment(batch: Mapping[str, Any], payment_id: str) -> Mapping[str, Any] | None:
    """The batch's item that pays ``payment_id`` (not a refund or reversal of it)."""
    items: Sequence[Mapping[str, Any]] = batch.get("items") or ()
    for item in items:
        if item.get("payment_id") == payment_id and item.get("kind") == "payment":
            return item
    return None


def is_posting_of(entry: Mapping[str, Any], payment_id: str, transaction_id: str | None) -> bool:
    """An escrow entry that records the payment's posting: named by the batch item's ledger
    transaction, or by the payment id where the entry carries one."""
    if entry.get("kind") != "payment":
        return False
    if transaction_id is not None and entry.get("transaction_id") == transaction_id:
        return True
    return entry.get("payment_id") == payment_id
