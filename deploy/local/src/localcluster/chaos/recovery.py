"""When the platform is whole again after a fault: every process back and ready, and a payment
made after the fault travelling all the way (final, posted in the ledger, itemised); and when
the payments the fault caught in flight were all final.

A probe payment is the measure because a process can run and say it is ready while the work
still does not flow (a consumer not yet rejoined, a relay backing off): the probe only arrives
once every hop of the journey works again. Processes off the probe's path (janitors, the
scheduler, settlement's payout side) count as recovered once they run and report ready.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path

import psycopg

from localcluster.chaos.api import PlatformApi, answers_ready
from localcluster.chaos.faults import service_pids
from localcluster.chaos.observe import FINAL_STATUSES, BurstObserver
from localcluster.chaos.schedule import Fault
from localcluster.config import ClusterConfig
from localcluster.errors import ClusterError
from localcluster.processes import ManagedProcess, tail
from localcluster.services import ServiceGroup, procfile_entries
from paykit.testing import wait_until

HEALTH_FRESH_SECONDS = 10.0  # a worker refreshes its health file every second or so
# The supervisor's line for a process that ended by itself (not "was killed by").
_EXITED = re.compile(r"^\S+ (?P<name>\S+) (?P<how>exited with -?\d+) after ")


@dataclass(frozen=True)
class Recovery:
    """The seconds from the fault being over to the platform whole again, and the probe."""

    seconds: float | None  # None: not whole again within the timeout
    probe: str | None
    waiting_for: str = ""  # what was still missing when the timeout ran out
    in_flight: int = 0  # payments created before the fault was over
    drained: float | None = None  # seconds from the fault over to the last of them final
    left_out: bool = False  # the fault was not struck: its processes never ran steadily


def procfile_names() -> tuple[str, ...]:
    """Every process the supervisor runs, in the Procfile's order."""
    return tuple(procfile_entries())


def unsteady_processes(config: ClusterConfig) -> dict[str, str]:
    """Processes that exited on their own since the supervisor started, with the last reason.

    A process that cannot run before any fault (a worker waiting for its consumer group in the
    topic catalogue exits 78 until then) is no part of the platform a fault can strike: it is
    left out of the faults and of the watch, and named, rather than failing every recovery.
    """
    log = ServiceGroup(config).log_file
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    since_start = lines[_last_stop(lines) + 1 :]
    exits = {}
    for line in since_start:
        match = _EXITED.match(line)
        if match:
            exits[match["name"]] = match["how"]
    return {
        name: f"{how}: {tail(config.log_dir / f'svc-{name}.log', 1).strip()}"
        for name, how in exits.items()
    }


def _last_stop(lines: list[str]) -> int:
    stops = [n for n, line in enumerate(lines) if line.endswith("all services stopped")]
    return stops[-1] if stops else -1


def health_files(config: ClusterConfig, names: tuple[str, ...]) -> dict[str, Path]:
    """Per process, the health file it keeps (matched by pid): only workers keep one."""
    running = {name: ManagedProcess(f"svc-{name}", config.run_dir).pid() for name in names}
    pids = {pid: name for name, pid in running.items() if pid is not None}
    found = {}
    for path in sorted((config.run_dir / "health").glob("*.json")):
        pid = (_read_health(path) or {}).get("pid")
        if isinstance(pid, int) and pid in pids:
            found[pids[pid]] = path
    return found


def _read_health(path: Path) -> dict[str, object] | None:
    try:
        content = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return content if isinstance(content, dict) else None


class RecoveryWatch:
    """Knows the cluster's processes, web ports and health files; times each recovery."""

    def __init__(self, config: ClusterConfig, api: PlatformApi, observer: BurstObserver) -> None:
        self.config = config
        self.api = api
        self.observer = observer
        self.unsteady = unsteady_processes(config)
        self.names = tuple(name for name in procfile_names() if name not in self.unsteady)
        self.health = health_files(config, self.names)

    def steady_part(self, fault: Fault) -> Fault | None:
        """The fault on its steady processes only; None when it strikes only unsteady ones."""
        if not fault.targets:
            return fault
        steady = tuple(name for name in fault.targets if name not in self.unsteady)
        return replace(fault, targets=steady) if steady else None

    def missing(self) -> str:
        """What is not whole yet, in words; empty when every process runs and is ready."""
        try:
            pids = service_pids(self.config, self.names)
        except ClusterError as error:
            return str(error)
        for name, path in self.health.items():
            content = _read_health(path)
            if content is None or content.get("pid") != pids[name]:
                return f"{name} has not written its health file since it started"
            if not content.get("ready"):
                return f"{name} is not ready: {content.get('reason')}"
            if time.time() - path.stat().st_mtime > HEALTH_FRESH_SECONDS:
                return f"{name} has not refreshed its health file for {HEALTH_FRESH_SECONDS:.0f}s"
        for url in self.api.web_urls:
            if not answers_ready(url):
                return f"{url}/readyz does not answer 200"
        return ""

    def wait_recovered(self, since: float, timeout: float) -> Recovery:
        """Probe from ``since`` (the fault over) until whole again, for at most ``timeout`` s.

        Whole again at the later of two moments: the probe itemised (settlement's commit time)
        and the first look (every 0.2 s) that found every process running and ready.
        """
        try:
            probe = self.api.create_payment("pm_card_visa")
        except ClusterError as error:
            return Recovery(None, None, str(error))
        ready_at: float | None = None
        arrived_at: float | None = None

        def whole_again() -> bool:
            nonlocal ready_at, arrived_at
            if ready_at is None and not self.missing():
                ready_at = time.time()
            if arrived_at is None:
                arrived_at = self._arrived_at(probe)
            return ready_at is not None and arrived_at is not None

        if not wait_until(whole_again, max(0.0, since + timeout - time.time()), 0.2):
            waiting = self.missing() or f"probe {probe} to be final, posted and itemised"
            return Recovery(None, probe, waiting)
        assert ready_at is not None and arrived_at is not None
        return Recovery(max(ready_at, arrived_at) - since, probe)

    def unfinished(self, payment_ids: list[str]) -> list[str]:
        """The payments not final yet: those a fault caught in flight, asked as it ends."""
        try:
            statuses = self.observer.payment_statuses(payment_ids)
        except psycopg.OperationalError:  # PostgreSQL still starting: every one counts
            return payment_ids
        return [pid for pid in payment_ids if statuses.get(pid) not in FINAL_STATUSES]

    def wait_drained(
        self, recovery: Recovery, in_flight: list[str], since: float, timeout: float
    ) -> Recovery:
        """``recovery`` with the moment every payment of ``in_flight`` was final, if in time."""
        if recovery.seconds is None or not in_flight:
            return replace(recovery, in_flight=len(in_flight))

        drained = None
        if wait_until(
            lambda: not self.unfinished(in_flight), max(0.0, since + timeout - time.time()), 0.2
        ):
            last = self.observer.last_final_at(in_flight)
            drained = max(0.0, last.timestamp() - since) if last else 0.0
        waiting = "" if drained is not None else f"the {len(in_flight)} payments in flight"
        return replace(recovery, in_flight=len(in_flight), drained=drained, waiting_for=waiting)

    def _arrived_at(self, probe: str) -> float | None:
        try:
            if self.observer.payment_statuses([probe]).get(probe) not in FINAL_STATUSES:
                return None
            itemised = self.observer.itemised_at(probe)
        except psycopg.OperationalError:  # PostgreSQL still starting: not there yet
            return None
        return itemised.timestamp() if itemised else None
