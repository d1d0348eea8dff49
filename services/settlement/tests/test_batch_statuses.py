"""The batch statuses the API shows are the batch lifecycle's."""

from __future__ import annotations

from payevents import statuses
from settlement_service.domain.batches import TRANSITIONS, BatchStatus


def test_the_public_batch_statuses_are_the_lifecycles() -> None:
    assert tuple(BatchStatus) == statuses.BATCH_STATUSES
    left_open = {target for source, target in TRANSITIONS if source is BatchStatus.OPEN}
    assert left_open == {BatchStatus.CLOSED}
    assert set(BatchStatus) - {BatchStatus.OPEN} == statuses.CLOSED_BATCH_STATUSES
    assert all(target is not BatchStatus.OPEN for _, target in TRANSITIONS)  # closed stays so
