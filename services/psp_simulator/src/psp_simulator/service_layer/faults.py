"""Injected faults: stored centrally so every web worker applies the same ones at once."""

from dataclasses import dataclass

from psp_simulator.domain.faults import Faults, Verdict, verdict
from psp_simulator.service_layer.simulator import Simulator


@dataclass(frozen=True, slots=True)
class FaultSettings:
    faults: Faults
    # "runtime" when set through the admin API, "default" when from the process settings.
    source: str


@dataclass(frozen=True, slots=True)
class HangState:
    left: int  # of the hang budget
    hanging: int  # calls held right now


def current_faults(simulator: Simulator) -> FaultSettings:
    stored = simulator.faults.get()
    if stored is None:
        return FaultSettings(simulator.default_faults, "default")
    return FaultSettings(stored, "runtime")


def set_faults(simulator: Simulator, faults: Faults) -> FaultSettings:
    simulator.faults.put(faults)
    return FaultSettings(faults, "runtime")


def clear_faults(simulator: Simulator) -> FaultSettings:
    """Back to the defaults the process started with."""
    simulator.faults.clear()
    return FaultSettings(simulator.default_faults, "default")


def admit_call(simulator: Simulator) -> Verdict:
    """Apply the latency fault, then say whether the call is served or refused."""
    faults = current_faults(simulator).faults
    if faults.latency_ms:
        simulator.pause(faults.latency_seconds)
    return verdict(faults, error_roll=simulator.roll(), kind_roll=simulator.roll())


def hold_if_hung(simulator: Simulator, payment_method: str | None) -> None:
    """A charge (with its token) or refund (None) request the hang fault matches, taken from the
    hang budget if there is one, waits before it does anything."""
    faults = current_faults(simulator).faults
    if not faults.hangs(payment_method):
        return
    if faults.hang_calls and not simulator.faults.take_hang():
        return
    simulator.faults.hang_started()
    try:
        simulator.pause(faults.hang_seconds)
    finally:
        simulator.faults.hang_ended()


def sends_webhooks(simulator: Simulator) -> bool:
    return not current_faults(simulator).faults.silent


def hang_state(simulator: Simulator) -> HangState:
    left, hanging = simulator.faults.hang_counts()
    return HangState(left, hanging)
