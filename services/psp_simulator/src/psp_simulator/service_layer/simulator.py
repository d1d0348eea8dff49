"""Everything the provider's request handlers need, built once by bootstrap and passed in."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TypeVar

from psp_simulator.domain.errors import ConcurrentUpdate, SimulatorError
from psp_simulator.domain.faults import Faults
from psp_simulator.domain.outcomes import Timings
from psp_simulator.domain.webhooks import NewId
from psp_simulator.service_layer.ports import (
    Clock,
    DeliveryLog,
    FaultStore,
    Pause,
    Roll,
    Transaction,
    UnitOfWork,
)

T = TypeVar("T")

# Enough for dozens of simultaneous writers to one charge; each round lets at least one through.
MAX_TRANSACTION_ATTEMPTS: Final = 100
_RETRY_PAUSE_SECONDS: Final = 0.005


@dataclass(frozen=True, slots=True)
class Simulator:
    uow: UnitOfWork
    faults: FaultStore
    deliveries: DeliveryLog
    timings: Timings
    default_faults: Faults
    clock: Clock
    pause: Pause
    roll: Roll
    new_id: NewId
    # The provider's processing fee on a capture in the settlement report, in basis points.
    report_fee_bps: int = 0


def run_optimistically(simulator: Simulator, work: Callable[[Transaction], T]) -> T:
    """Run `work` in a transaction until it commits without a conflicting write.

    `work` reads, decides and stages writes, or refuses by raising a `SimulatorError`. When
    another request changed what it read, its writes (or refusal) are dropped and it runs again
    on fresh data, so no decision is made on a stale view (two refunds each seeing the full
    amount still refundable, say).
    """
    for attempt in range(1, MAX_TRANSACTION_ATTEMPTS + 1):
        with simulator.uow.transaction() as transaction:
            try:
                result = work(transaction)
            except SimulatorError:
                # A refusal is a decision too: made on reads that changed meanwhile (no
                # idempotency record yet, then a charge already refunded by the request that
                # created it), it would be wrong. It stands only if they still hold.
                if transaction.reads_still_hold():
                    raise
            else:
                if transaction.commit():
                    return result
        simulator.pause(_RETRY_PAUSE_SECONDS * simulator.roll() * min(attempt, 10))
    raise ConcurrentUpdate("too many simultaneous changes; try again")
