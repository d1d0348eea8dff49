"""The supervisor brings a stopped process back: at once when it was killed or had been running
a while, with growing back-off only while it keeps failing at start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from localcluster.processes import ManagedProcess, wait_for
from localcluster.supervisor import FIRST_BACKOFF, MAX_BACKOFF, STABLE_AFTER, restart_delay

Supervise = Callable[[str], Path]


@pytest.fixture
def supervise(tmp_path: Path) -> Iterator[Supervise]:
    """Runs the supervisor on the Procfile text given; returns the supervisor's own log."""
    running: list[subprocess.Popen[bytes]] = []

    def start(procfile_text: str) -> Path:
        procfile, env_file, log = (tmp_path / n for n in ("Procfile", "cluster.env", "out.log"))
        procfile.write_text(procfile_text)
        env_file.write_text("")
        (tmp_path / "logs").mkdir()
        command = [sys.executable, "-m", "localcluster.supervisor", str(procfile), str(env_file)]
        with open(log, "ab") as out:
            running.append(
                subprocess.Popen([*command, str(tmp_path)], stdout=out, stderr=subprocess.STDOUT)
            )
        return log

    yield start
    for process in running:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def _said(log: Path, text: str) -> bool:
    return text in log.read_text()


def _stamp_of(log: Path, text: str) -> datetime:
    """The supervisor's own timestamp on the last line that says ``text``."""
    [*_, line] = (line for line in log.read_text().splitlines() if text in line)
    return datetime.fromisoformat(line.split(" ", 1)[0])


def test_a_process_killed_by_a_signal_is_started_again_at_once(
    supervise: Supervise, tmp_path: Path
) -> None:
    log = supervise("sleeper: sleep 300\n")
    sleeper = ManagedProcess("svc-sleeper", tmp_path / "run")
    assert wait_for(sleeper.running, 10)
    first = sleeper.pid()
    assert first is not None

    os.kill(first, signal.SIGKILL)

    assert wait_for(lambda: sleeper.pid() not in (None, first), 10)
    assert _said(log, "sleeper was killed by SIGKILL"), log.read_text()
    assert _said(log, "starting it again now"), log.read_text()
    gap = _stamp_of(log, "started sleeper") - _stamp_of(log, "killed by SIGKILL")
    assert timedelta(0) <= gap < timedelta(seconds=FIRST_BACKOFF / 2)


def test_a_process_failing_at_start_waits_longer_before_each_new_start(
    supervise: Supervise,
) -> None:
    log = supervise("failing: sh -c 'exit 3'\n")

    assert wait_for(lambda: _said(log, "starting it again in 2.0s"), 15), log.read_text()
    lines = [line for line in log.read_text().splitlines() if "failing exited" in line]
    assert "exited with 3" in lines[0] and lines[0].endswith("starting it again in 1.0s")
    assert lines[1].endswith("starting it again in 2.0s")


def test_back_off_grows_for_quick_failures_up_to_its_cap() -> None:
    delays = [restart_delay(exit_code=1, lived=0.3, quick_failures=n) for n in range(1, 10)]
    assert delays[:3] == [1.0, 2.0, 4.0]
    assert delays == sorted(delays) and delays[-1] == MAX_BACKOFF


def test_a_process_that_ran_a_while_has_no_back_off_whatever_its_history() -> None:
    assert restart_delay(exit_code=1, lived=STABLE_AFTER, quick_failures=6) == 0.0


def test_an_outside_stop_has_no_back_off_but_a_crash_by_signal_does() -> None:
    for stopped in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):
        assert restart_delay(exit_code=-stopped, lived=0.5, quick_failures=3) == 0.0
    assert restart_delay(exit_code=-signal.SIGSEGV, lived=0.5, quick_failures=1) == 1.0
