"""How long the delivery log keeps what it refused, and the prune that enforces it.

Rejected deliveries come from the open internet and matter for days (a broken rotation, a
probe), not for ever; accepted and duplicate ones are the record of what the PSP told us and
are kept. The prune deletes in chunks, one transaction each, and at most ``max_chunks`` a
pass, so a large backlog is worked off over several passes without long transactions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from psycopg_pool import ConnectionPool

from paykit.db import transaction
from paykit.logging import get_logger
from webhook_service.adapters.message_repository import MessageRepository
from webhook_service.service_layer.handlers import Clock, utc_now
from webhook_service.service_layer.ports import UnitOfWork

DEFAULT_REJECTED_RETENTION: Final = timedelta(hours=72)
# Outbound messages and their attempts: longer than any retry horizon, and long enough for a
# merchant to redeliver what a month-long outage missed.
DEFAULT_MESSAGE_RETENTION: Final = timedelta(days=30)

_log = get_logger(__name__)


@dataclass(frozen=True)
class RetentionPolicy:
    rejected_for: timedelta = DEFAULT_REJECTED_RETENTION
    chunk_size: int = 5000
    max_chunks: int = 100

    def __post_init__(self) -> None:
        if self.rejected_for <= timedelta(0) or self.chunk_size < 1 or self.max_chunks < 1:
            raise ValueError("a retention, a chunk size and a chunk count must be positive")


def prune_rejected_deliveries(
    policy: RetentionPolicy,
    *,
    unit_of_work: Callable[[], UnitOfWork],
    clock: Clock = utc_now,
) -> int:
    """Delete rejected deliveries older than the policy allows; return how many went."""
    received_before = clock() - policy.rejected_for
    removed = 0
    for _ in range(policy.max_chunks):
        with unit_of_work() as uow:
            chunk = uow.deliveries.remove_rejected(received_before, limit=policy.chunk_size)
            uow.commit()
        removed += chunk
        if chunk < policy.chunk_size:
            break
    if removed:
        _log.info(
            "rejected_deliveries_pruned",
            removed=removed,
            received_before=received_before.isoformat(),
        )
    return removed


def prune_finished_messages(
    retention: timedelta,
    pool: ConnectionPool,
    *,
    chunk_size: int = 5000,
    max_chunks: int = 100,
    clock: Clock = utc_now,
) -> int:
    """Delete outbound messages (and their log) finished longer ago than ``retention``."""
    created_before = clock() - retention
    removed = 0
    for _ in range(max_chunks):
        with transaction(pool) as conn:
            chunk = MessageRepository(conn).remove_finished(created_before, limit=chunk_size)
        removed += chunk
        if chunk < chunk_size:
            break
    if removed:
        _log.info("webhook_messages_pruned", removed=removed, before=created_before.isoformat())
    return removed
