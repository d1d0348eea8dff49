"""Decisions are never made on a mix of older and newer data, deterministically interleaved."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
import redis

from psp_simulator.bootstrap import build_simulator
from psp_simulator.domain.charges import Charge
from psp_simulator.service_layer.charges import create_charge
from psp_simulator.service_layer.commands import CreateCharge, CreateRefund
from psp_simulator.service_layer.ports import Transaction, UnitOfWork
from psp_simulator.service_layer.refunds import create_refund
from psp_simulator.service_layer.simulator import Simulator
from psp_simulator.settings import SimulatorSettings

pytestmark = pytest.mark.integration


class _InterruptedTransaction:
    """Runs `interruption` just before the first charge read of the wrapped transaction."""

    def __init__(self, inner: Transaction, interruption: Callable[[], None] | None) -> None:
        self._inner = inner
        self._interruption = interruption

    def charge(self, charge_id: str) -> Charge | None:
        if self._interruption is not None:
            interruption, self._interruption = self._interruption, None
            interruption()
        return self._inner.charge(charge_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _InterruptedUnitOfWork:
    def __init__(self, inner: UnitOfWork, interruption: Callable[[], None]) -> None:
        self._inner = inner
        self._interruption: Callable[[], None] | None = interruption

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        interruption, self._interruption = self._interruption, None
        with self._inner.transaction() as inner:
            yield _InterruptedTransaction(inner, interruption)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.fixture
def simulator(settings: SimulatorSettings, redis_client: redis.Redis) -> Simulator:
    return build_simulator(settings, client=redis_client, clock=lambda: 2_000_000_000.0)


def test_identical_refund_committed_between_two_reads_is_replayed_not_refused(
    simulator: Simulator, unique: str
) -> None:
    charge = create_charge(
        simulator, CreateCharge(unique, 3000, "EUR", "pm_card_visa", f"PAY_{unique}")
    ).charge
    settled = replace(simulator, clock=lambda: 2_000_000_001.0)
    command = CreateRefund(f"refund-{unique}", charge.id, 3000, f"RFD_{unique}")
    concurrent: list[str] = []

    def identical_request_commits() -> None:
        concurrent.append(create_refund(settled, command).refund.id)

    interleaved = replace(
        settled, uow=_InterruptedUnitOfWork(settled.uow, identical_request_commits)
    )
    receipt = create_refund(interleaved, command)

    assert not receipt.created
    assert [receipt.refund.id] == concurrent
