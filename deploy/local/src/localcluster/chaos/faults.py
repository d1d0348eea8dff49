"""How each fault is done: SIGKILL or SIGSTOP of processes, the broker killed and started
again, PostgreSQL shut down immediately, Redis stopped, the PSP answering 503.

A process is killed with its whole process group (the supervisor starts each in a session of
its own), as a container runtime would kill it: a gunicorn master's workers go with it. Each
fault returns the wall-clock moment it was over: the kill itself (the supervisor starts the
process again at once), the SIGCONT, or the moment the infrastructure answered again.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import signal
import time

from localcluster import cli
from localcluster.chaos.api import PlatformApi
from localcluster.chaos.schedule import BROKER, KILL, PAUSE, POSTGRES, PSP, REDIS, Fault
from localcluster.config import ClusterConfig
from localcluster.errors import ClusterError
from localcluster.kafka import KafkaBroker
from localcluster.postgres import PostgresServer
from localcluster.processes import ManagedProcess, alive, signal_group, wait_for
from localcluster.redis_server import RedisServer

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


def inject(fault: Fault, config: ClusterConfig, api: PlatformApi) -> float:
    """Do ``fault``; return the wall-clock moment it was over."""
    if fault.kind == KILL:
        for pid in service_pids(config, fault.targets).values():
            signal_group(pid, signal.SIGKILL)
        return time.time()
    if fault.kind == PAUSE:
        return pause_services(config, fault.targets, fault.seconds)
    if fault.kind == BROKER:
        died = kill_broker(config)
        keep_broker_log(config, f"kafka-until-{time.strftime('%H%M%S', time.localtime(died))}.log")
        KafkaBroker(config).start()  # its topics and data are on disk: nothing to provision
        return time.time()
    if fault.kind == POSTGRES:
        postgres = PostgresServer(config)
        postgres.stop(mode="immediate")
        _stay_down(fault.seconds)
        postgres.start()
        return time.time()
    if fault.kind == REDIS:
        redis = RedisServer(config)
        redis.stop()
        _stay_down(fault.seconds)
        redis.start()
        return time.time()
    if fault.kind == PSP:
        api.set_psp_down(True)
        try:
            _stay_down(fault.seconds)
        finally:
            api.set_psp_down(False)
        return time.time()
    raise ClusterError(f"no such fault: {fault.kind}")


def pause_services(config: ClusterConfig, names: tuple[str, ...], seconds: float) -> float:
    """SIGSTOP the processes' groups for ``seconds``, then SIGCONT them, whatever happens."""
    pids = service_pids(config, names)
    try:
        for pid in pids.values():
            signal_group(pid, signal.SIGSTOP)
        _stay_down(seconds)
    finally:
        for pid in pids.values():
            signal_group(pid, signal.SIGCONT)
    return time.time()


def _stay_down(seconds: float) -> None:
    """The fault's length is the fault itself, not a wait for a condition: a plain sleep."""
    time.sleep(seconds)
