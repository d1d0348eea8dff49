"""The faults of one round: SIGKILL of the workers that carry a payment, then of the broker.

A process is killed with its whole process group (the supervisor starts each in a session of
its own), as a container runtime would kill it: a gunicorn master's workers go with it.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import signal
import time

from localcluster import cli
from localcluster.config import ClusterConfig
from localcluster.errors import ClusterError
from localcluster.kafka import KafkaBroker
from localcluster.processes import ManagedProcess, alive, signal_group, wait_for

# Every process on a payment's path that talks to Kafka or to the PSP's webhook queue.
KILLED_SERVICES = (
    "payment-charger",
    "payment-status-applier",
    "payment-relay",
    "webhook-relay",
    "webhook-web",
    "psp-webhook-sender",
)


def service_pids(config: ClusterConfig, names: tuple[str, ...] = KILLED_SERVICES) -> dict[str, int]:
    pids = {name: ManagedProcess(f"svc-{name}", config.run_dir).pid() for name in names}
    missing = [name for name, pid in pids.items() if pid is None]
    if missing:
        raise ClusterError(f"not running: {', '.join(missing)}")
    return {name: pid for name, pid in pids.items() if pid is not None}


def wait_services_running(config: ClusterConfig, timeout: float) -> None:
    def all_running() -> bool:
        try:
            service_pids(config)
        except ClusterError:
            return False
        return True

    if not wait_for(all_running, timeout, interval=0.2):
        service_pids(config)  # raises, naming what is missing


def kill_services(config: ClusterConfig) -> dict[str, int]:
    pids = service_pids(config)
    for pid in pids.values():
        signal_group(pid, signal.SIGKILL)
    return pids


def kill_broker(config: ClusterConfig) -> float:
    """SIGKILL the broker; return the wall-clock moment it was gone."""
    pid = KafkaBroker(config).process.pid()
    if pid is None:
        raise ClusterError("the Kafka broker is not running")
    signal_group(pid, signal.SIGKILL)
    if not wait_for(lambda: not alive(pid), 30, interval=0.05):
        raise ClusterError(f"the Kafka broker (pid {pid}) survived SIGKILL for 30s")
    return time.time()


def keep_broker_log(config: ClusterConfig, name: str) -> None:
    """Copy the broker's log aside: the next start begins ``kafka.log`` afresh."""
    log_file = KafkaBroker(config).log_file
    shutil.copyfile(log_file, log_file.with_name(name))


def restart_broker(config: ClusterConfig) -> float:
    """Start the broker as ``make up`` does; return the wall-clock moment it was ready.

    Ready is what ``make up`` waits for: the start line logged and a metadata request answered.
    The rest of ``make up`` (topics, migrations, services already running) follows, as it would.
    """
    KafkaBroker(config).start()
    ready = time.time()
    with contextlib.redirect_stdout(io.StringIO()):
        cli.up(config, with_services=True)
    return ready
