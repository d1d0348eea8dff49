"""The pipeline held still while the web tier is saturated, then let go and drained.

The capacity targets ask what the API takes "with the pipeline idle": on one 2-core box every
create otherwise sets a dozen processes working (relays, charger, PSP, webhooks, ledger,
settlement) on the same cores, and the figure would be the box's, not the API's. So for the
capacity rounds every Procfile process that is not a web server is stopped with SIGSTOP (its
whole process group, as ``localcluster``'s chaos pauses do; the supervisor only acts on exits)
and continued afterwards whatever happens. The creates wait in the outbox meanwhile, nothing
is lost: once continued, the pipeline works through them, and the open-loop rates start only
when every consumer group's lag is back to zero, so that backlog is not charged to them.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.lag import LagProbe
from bench.processes import platform_processes
from localcluster.config import PROJECT_ROOT
from localcluster.processes import signal_group
from localcluster.supervisor import parse_procfile

WEB_PROCESSES = frozenset({"payment-api"})  # and every name ending in -web


def pipeline_process_names(procfile: Path = PROJECT_ROOT / "Procfile") -> list[str]:
    """The Procfile's processes that serve no HTTP API: the ones a create sets working."""
    return [
        name
        for name, _ in parse_procfile(procfile)
        if not name.endswith("-web") and name not in WEB_PROCESSES
    ]


@contextmanager
def pipeline_paused(run_dir: Path) -> Iterator[list[str]]:
    """SIGSTOP the running pipeline processes for the block, SIGCONT them after; yields their
    names."""
    running = platform_processes(run_dir)
    paused = {name: running[name] for name in pipeline_process_names() if name in running}
    try:
        for pid in paused.values():
            signal_group(pid, signal.SIGSTOP)
        yield sorted(paused)
    finally:
        for pid in paused.values():
            signal_group(pid, signal.SIGCONT)


def wait_drained(bootstrap_servers: str, *, timeout: float, quiet_for: float = 3.0) -> float:
    """Seconds until every platform group's lag has read zero for ``quiet_for`` seconds.

    Raises TimeoutError naming the groups still behind when ``timeout`` passes first: a run
    that went on would measure the backlog, not the rates.
    """
    probe = LagProbe(bootstrap_servers)
    started = time.monotonic()
    zero_since: float | None = None
    try:
        while True:
            now = time.monotonic()
            behind = {group: lag for group, lag in probe.sample(time.time()).lag.items() if lag}
            if behind:
                zero_since = None
            elif zero_since is None:
                zero_since = now
            elif now - zero_since >= quiet_for:
                return now - started
            if now - started > timeout:
                raise TimeoutError(f"the pipeline did not drain in {timeout:g} s: {behind}")
            time.sleep(0.5)
    finally:
        probe.close()
