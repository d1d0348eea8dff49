"""Injected faults: stored centrally so every web worker applies the same ones at once."""

from dataclasses import dataclass

from psp_simulator.domain.faults import Faults, Verdict, verdict
from psp_simulator.service_layer.simulator import Simulator


@dataclass(frozen=True, slots=True)
class FaultSettings:
    faults: Faults
    # "runtime" when set through the admin API, "default" when from the process settings.
    source: str


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
