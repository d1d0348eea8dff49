"""What the handlers need from the outside world, as interfaces the adapters implement.

Tests hand the handlers in-memory versions of these; production wires the PostgreSQL and
Redis adapters in ``bootstrap``.
"""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from payevents import Envelope
from webhook_service.domain.deliveries import Delivery, DeliveryFilters
from webhook_service.domain.rate_limits import Admission


class DeliveryRepository(Protocol):
    def add_accepted(self, delivery: Delivery) -> bool:
        """Store an accepted delivery unless its event id is already accepted; say which.

        Must be one atomic statement guarded by a uniqueness rule, not a look-then-insert:
        concurrent copies of one delivery must yield exactly one accepted row.
        """
        ...

    def add(self, delivery: Delivery) -> None:
        """Store a duplicate or rejected delivery."""
        ...

    def get(self, delivery_id: str, *, for_update: bool = False) -> Delivery | None: ...

    def list(
        self, filters: DeliveryFilters, *, limit: int, after_seq: int | None
    ) -> list[Delivery]:
        """Newest first; ``after_seq`` continues a previous page below that position."""
        ...

    def remove_rejected(self, received_before: datetime, *, limit: int) -> int:
        """Delete up to ``limit`` rejected deliveries received before then; say how many.

        Rows another transaction holds are skipped, not waited for: a prune never blocks.
        """
        ...


class EventOutbox(Protocol):
    def add(self, envelope: Envelope) -> None:
        """Queue the event for publication, in the current transaction."""
        ...

    def requeue(self, envelope: Envelope) -> bool:
        """Queue an already-emitted event again; False when it is still waiting to be sent."""
        ...


class UnitOfWork(Protocol):
    """One database transaction: nothing is kept unless ``commit`` is called inside the block."""

    @property
    def deliveries(self) -> DeliveryRepository: ...

    @property
    def events(self) -> EventOutbox: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...


class ReplayCache(Protocol):
    """A fast, fallible memory of accepted event ids; the database stays the authority.

    ``seen`` may answer False for an id that was accepted (evicted, Redis down) but must never
    answer True for one that was not.
    """

    def seen(self, psp_event_id: str) -> bool: ...

    def remember(self, psp_event_id: str) -> None: ...


class SourceRateLimiter(Protocol):
    """Whether one more unauthenticated request from ``source`` may be recorded.

    Shared by every process (so the limit is per source, not per worker) and atomic (so
    concurrent requests cannot all take the last slot). Answers ``UNAVAILABLE`` rather than
    raising when it cannot decide.
    """

    def admit(self, source: str) -> Admission: ...
