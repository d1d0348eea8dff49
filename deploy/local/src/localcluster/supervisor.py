"""Runs the Procfile's processes and keeps them running.

Why not honcho: it stops every process as soon as one exits, so one crashed worker takes the
whole platform down, and a test cannot kill a worker to prove nothing is lost. This supervisor
restarts a process that exits (see ``restart_delay``), gives each its own log file and pid file
(``<state>/run/svc-<name>.pid``), logs every start and exit with a timestamp, and on SIGTERM
stops them all gracefully.

    python -m localcluster.supervisor <procfile> <env file> <state dir>
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from localcluster.config import PROJECT_ROOT
from localcluster.processes import ManagedProcess, signal_group, wait_for

FIRST_BACKOFF = 1.0
MAX_BACKOFF = 30.0
STABLE_AFTER = 10.0  # a process that ran this long did not fail at start
OUTSIDE_STOPS = frozenset({signal.SIGKILL, signal.SIGTERM, signal.SIGINT})


def restart_delay(exit_code: int, lived: float, quick_failures: int) -> float:
    """Seconds to wait before starting again a process that exited after ``lived`` seconds.

    Back-off is for a crash loop only: a process failing at start, ``quick_failures`` times in
    a row, waits 1, 2, 4 ... up to 30 s so it does not spin. One stopped from outside (SIGKILL,
    SIGTERM, SIGINT: an operator, the OOM killer, a chaos run) or one that ran a while is not in
    such a loop and comes back at once: every second it is away, its work waits.
    """
    killed_from_outside = exit_code < 0 and -exit_code in OUTSIDE_STOPS
    if killed_from_outside or lived >= STABLE_AFTER:
        return 0.0
    doublings = min(max(quick_failures - 1, 0), 5)
    return min(MAX_BACKOFF, FIRST_BACKOFF * 2.0**doublings)


def describe_exit(exit_code: int) -> str:
    if exit_code < 0:
        try:
            return f"was killed by {signal.Signals(-exit_code).name}"
        except ValueError:
            return f"was killed by signal {-exit_code}"
    return f"exited with {exit_code}"


def say(message: str) -> None:
    """One line of the supervisor's log, stamped so it lines up with the services' logs."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    print(f"{now} {message}", flush=True)


@dataclass
class Child:
    name: str
    command: str
    process: subprocess.Popen[bytes] | None = None
    quick_failures: int = 0
    next_start: float = 0.0
    started_at: float = field(default_factory=time.monotonic)


def parse_procfile(path: Path) -> list[tuple[str, str]]:
    entries = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#") or ":" not in line:
            continue
        name, command = line.split(":", 1)
        entries.append((name.strip(), command.strip()))
    return entries


def read_env_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            env[key.strip()] = value.strip()
    return env


class Supervisor:
    def __init__(self, procfile: Path, env_file: Path, state_dir: Path) -> None:
        self.children = [Child(name, command) for name, command in parse_procfile(procfile)]
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        self.env = {**os.environ, **read_env_file(env_file), "PYTHONUNBUFFERED": "1", "PATH": path}
        self.log_dir = state_dir / "logs"
        self.run_dir = state_dir / "run"
        self.stopping = False

    def _start(self, child: Child) -> None:
        log = open(self.log_dir / f"svc-{child.name}.log", "ab")  # noqa: SIM115
        child.process = subprocess.Popen(
            ["/bin/sh", "-c", f"exec {child.command}"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=PROJECT_ROOT,
        )
        log.close()
        child.started_at = time.monotonic()
        ManagedProcess(f"svc-{child.name}", self.run_dir).record(child.process.pid)
        say(f"started {child.name} (pid {child.process.pid})")

    def run(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: self._request_stop())
        signal.signal(signal.SIGINT, lambda *_: self._request_stop())
        for child in self.children:
            self._start(child)
        while not self.stopping:
            for child in self.children:
                self._watch(child)
            time.sleep(0.2)
        self._stop_all()

    def _request_stop(self) -> None:
        self.stopping = True

    def _watch(self, child: Child) -> None:
        if child.process is None:
            if time.monotonic() >= child.next_start:
                self._start(child)
            return
        code = child.process.poll()
        if code is None:
            return
        lived = time.monotonic() - child.started_at
        delay = restart_delay(code, lived, child.quick_failures + 1)
        child.quick_failures = child.quick_failures + 1 if delay else 0
        when = f"in {delay:.1f}s" if delay else "now"
        say(f"{child.name} {describe_exit(code)} after {lived:.1f}s; starting it again {when}")
        child.process = None
        child.next_start = time.monotonic() + delay
        if not delay:
            self._start(child)

    def _stop_all(self) -> None:
        running = [c.process for c in self.children if c.process and c.process.poll() is None]
        for process in running:
            signal_group(process.pid, signal.SIGTERM)
        if not wait_for(lambda: all(p.poll() is not None for p in running), 25):
            for process in running:
                signal_group(process.pid, signal.SIGKILL)
        for child in self.children:
            (self.run_dir / f"svc-{child.name}.pid").unlink(missing_ok=True)
        say("all services stopped")


def main() -> int:
    procfile, env_file, state_dir = map(Path, sys.argv[1:4])
    Supervisor(procfile, env_file, state_dir).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
