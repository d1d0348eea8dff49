"""A commit the coordinator never answers ends within the publisher's end-of-transaction bound."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest

from paykit.outbox.publisher import (
    END_TRANSACTION_TIMEOUT,
    PublishFailed,
    TransactionalPublisher,
)


class _NeverAnswered:
    def __init__(self, waits: list[float]) -> None:
        self.waits = waits

    def wait(self, timeout_ms: float) -> bool:
        self.waits.append(timeout_ms / 1000)
        time.sleep(timeout_ms / 1000)
        return False


def _producer_whose_coordinator_died(waits: list[float]) -> Any:
    """kafka-python's state after the coordinator died mid-commit: the request is gone."""
    manager = SimpleNamespace(
        begin_commit=lambda: _NeverAnswered(waits), begin_abort=lambda: _NeverAnswered(waits)
    )
    sender = SimpleNamespace(wakeup=lambda: None, force_close=lambda: None)
    return SimpleNamespace(
        _transaction_manager=manager,
        _sender=sender,
        init_transactions=lambda: None,
        begin_transaction=lambda: None,
        close=lambda timeout: None,
    )


def test_a_commit_never_answered_fails_the_batch_within_the_bound_not_the_ack_timeout() -> None:
    waits: list[float] = []
    publisher = TransactionalPublisher(
        lambda _id: _producer_whose_coordinator_died(waits), "relay-test", end_timeout=0.2
    )

    started = time.monotonic()
    with pytest.raises(PublishFailed):
        publisher.publish([])

    assert waits == [0.2, 0.2]  # the commit, then the abort of the abandoned attempt
    assert time.monotonic() - started < 2
    assert publisher.timeout == 30.0


def test_the_bound_is_ten_seconds_by_default() -> None:
    publisher = TransactionalPublisher(lambda _id: None, "relay-test")  # type: ignore[arg-type,return-value]

    assert publisher.end_timeout == END_TRANSACTION_TIMEOUT == 10.0
