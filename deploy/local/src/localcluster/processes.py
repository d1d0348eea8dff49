"""Detached processes tracked by pid files, so ``down`` stops exactly what ``up`` started."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from localcluster.config import HOST
from localcluster.errors import ClusterError


def port_in_use(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def require_free_port(port: int, what: str) -> None:
    if port_in_use(port):
        raise ClusterError(
            f"port {port} ({what}) on {HOST} is already in use: stop whatever holds it "
            f"or choose another port through the environment"
        )


def _start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (clock ticks since boot): with the pid, a unique id."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[19]


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


class ManagedProcess:
    """A process recorded in ``<run_dir>/<name>.pid`` as its pid and kernel start time.

    The start time guards against a recycled pid: a live pid that started at another time is
    not ours and is never signalled.
    """

    def __init__(self, name: str, run_dir: Path) -> None:
        self.name = name
        self.pid_file = run_dir / f"{name}.pid"

    def pid(self) -> int | None:
        try:
            raw_pid, started = self.pid_file.read_text().split()
            pid = int(raw_pid)
        except (OSError, ValueError):
            return None
        if alive(pid) and _start_time(pid) == started:
            return pid
        return None

    def running(self) -> bool:
        return self.pid() is not None

    def start(
        self,
        argv: Sequence[str],
        log_file: Path,
        *,
        env: dict[str, str] | None = None,
        user: str | None = None,
        cwd: Path | None = None,
    ) -> int:
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(log_file, "ab") as log, open(os.devnull, "rb") as devnull:
            proc = subprocess.Popen(
                list(argv),
                stdin=devnull,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                user=user,
                start_new_session=True,
            )
        self.record(proc.pid)
        return proc.pid

    def record(self, pid: int) -> None:
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.write_text(f"{pid} {_start_time(pid)}\n")

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM the process group, escalate to SIGKILL after ``timeout``; True if it ran."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        signal_group(pid, signal.SIGTERM)
        if not wait_for(lambda: not alive(pid), timeout):
            signal_group(pid, signal.SIGKILL)
            wait_for(lambda: not alive(pid), 10.0)
        self.pid_file.unlink(missing_ok=True)
        return True


def signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def wait_for(condition: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
