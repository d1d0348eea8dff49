"""What the use cases need from the outside world, so the rules never name Redis or HTTP."""

import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import date
from enum import StrEnum
from typing import Protocol

from psp_simulator.domain.charges import Charge, Refund
from psp_simulator.domain.delivery import (
    AttemptResult,
    ClaimedDelivery,
    DeliveryRecord,
    DeliveryState,
)
from psp_simulator.domain.faults import Faults
from psp_simulator.domain.idempotency import IdempotencyRecord
from psp_simulator.domain.payouts import Payout
from psp_simulator.domain.webhooks import Webhook, WebhookTarget

# Seconds since the epoch, as time.time() gives them.
Clock = Callable[[], float]
# A random number in [0, 1).
Roll = Callable[[], float]


class IdempotencyScope(StrEnum):
    CHARGES = "charges"
    REFUNDS = "refunds"
    PAYOUTS = "payouts"


class Pause(Protocol):
    """Waits, unless the process is stopping: a held-back response must not outlive shutdown."""

    def __call__(self, seconds: float) -> None: ...


class Transaction(Protocol):
    """Optimistic: everything read is watched, writes are staged, and `commit` applies them all
    only if nothing read has changed meanwhile. Reads must all come before the first write."""

    def idempotency_record(self, scope: IdempotencyScope, key: str) -> IdempotencyRecord | None: ...
    def charge(self, charge_id: str) -> Charge | None: ...
    def refund(self, refund_id: str) -> Refund | None: ...
    def payout(self, payout_id: str) -> Payout | None: ...
    def remember(self, scope: IdempotencyScope, key: str, record: IdempotencyRecord) -> None: ...
    def add_charge(self, charge: Charge) -> None: ...
    def add_refund(self, charge: Charge, refund: Refund) -> None:
        """Store `refund` and `charge` as it stands after it."""
        ...

    def add_payout(self, payout: Payout) -> None: ...
    def schedule(self, webhook: Webhook) -> None: ...
    def commit(self) -> bool:
        """False when a read changed under us; nothing was written then, and the caller retries."""
        ...

    def reads_still_hold(self) -> bool:
        """Whether nothing read has changed; for a refusal, which writes nothing but must not
        be based on a mix of older and newer data either. Only before any write."""
        ...


class UnitOfWork(Protocol):
    def transaction(self) -> AbstractContextManager[Transaction]: ...
    def charge(self, charge_id: str) -> Charge | None: ...
    def refund(self, refund_id: str) -> Refund | None: ...
    def charges_with_reference(self, reference: str) -> Sequence[Charge]: ...
    def payout(self, payout_id: str) -> Payout | None: ...
    def payouts_for_batch(self, batch_id: str) -> Sequence[Payout]: ...
    def payouts_on(self, day: date) -> Sequence[Payout]:
        """The payouts the bank received on that UTC day, in the order it received them."""
        ...

    def settled_on(self, day: date) -> tuple[Sequence[Charge], Sequence[Refund]]:
        """The succeeded charges and the refunds whose outcome shows on that UTC day."""
        ...


class FaultStore(Protocol):
    def get(self) -> Faults | None: ...
    def put(self, faults: Faults) -> None:
        """Replaces the faults; the hang budget becomes ``faults.hang_calls``."""

    def clear(self) -> None: ...
    def take_hang(self) -> bool:
        """Takes one call from the hang budget; False when none is left."""

    def hang_started(self) -> None: ...
    def hang_ended(self) -> None: ...
    def hang_counts(self) -> tuple[int, int]:
        """(calls left to hang, calls hanging now)."""


class DeliveryLog(Protocol):
    def for_reference(self, reference: str) -> Sequence[DeliveryRecord]: ...
    def dead(self, limit: int) -> Sequence[DeliveryRecord]: ...


class DeliveryQueue(Protocol):
    def claim(self, *, now: float, lease_until: float) -> ClaimedDelivery | None:
        """The next due delivery, held by this caller until `lease_until`; None when none is due."""
        ...

    def next_due_at(self) -> float | None:
        """When the earliest delivery in the queue may be tried (a claimed one: when its lease
        runs out); None when the queue is empty."""
        ...

    def finish(
        self,
        claimed: ClaimedDelivery,
        *,
        result: AttemptResult,
        state: DeliveryState,
        next_attempt_at: float | None,
        now: float,
    ) -> bool:
        """Record the attempt; False when the claim had expired and another sender took over."""
        ...


class DeliveryNotices(Protocol):
    def listen(
        self,
        stop: threading.Event,
        on_queued: Callable[[], None],
        on_maybe_missed: Callable[[], None],
    ) -> None:
        """Until `stop` is set: `on_queued` for each delivery queued, `on_maybe_missed` whenever
        news may have been lost (on every (re)connection)."""
        ...


class WebhookTransport(Protocol):
    def send(self, body: bytes, target: WebhookTarget) -> AttemptResult: ...
