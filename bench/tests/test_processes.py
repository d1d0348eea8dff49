import os
import subprocess
import sys
from pathlib import Path

from bench.processes import (
    TreeSample,
    UsageTracker,
    children_by_parent,
    cpu_between,
    descendants,
    platform_processes,
)
from localcluster.processes import ManagedProcess


def test_cpu_over_a_window_counts_processes_that_started_or_ended_in_it_once() -> None:
    root, ended, started = (10, 1.0), (11, 1.5), (12, 9.0)
    first = TreeSample({root: 5.0, ended: 2.0}, rss_bytes=0)
    # 11 used 0.5 s more, then ended: its 2.5 s moved into its parent's reaped children's time
    last = TreeSample({root: 6.5 + 2.5, started: 0.25}, rss_bytes=0)

    assert cpu_between(first, last) == 1.5 + 0.5 + 0.25


def test_a_tree_is_its_root_and_everything_below_it() -> None:
    children = {1: [2, 3], 2: [4], 4: [5], 9: [10]}

    assert sorted(descendants(1, children)) == [1, 2, 3, 4, 5]
    assert descendants(7, children) == [7]


def test_platform_processes_are_named_by_their_pid_files_and_dead_or_supervisor_ones_left_out(
    tmp_path: Path,
) -> None:
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as sleeper:
        ManagedProcess("svc-payment-api", tmp_path).record(sleeper.pid)
        ManagedProcess("postgres", tmp_path).record(os.getpid())
        ManagedProcess("services", tmp_path).record(os.getpid())
        (tmp_path / "svc-gone.pid").write_text("999999999 1\n")

        found = platform_processes(tmp_path)

        assert found == {"payment-api": sleeper.pid, "postgres": os.getpid()}
        assert sleeper.pid in descendants(os.getpid(), children_by_parent())
        sleeper.kill()


BURN_THEN_WAIT = """
import sys, time
while time.process_time() < 0.3:
    pass
print("burnt", flush=True)
sys.stdin.read()
"""


def test_usage_counts_the_cpu_a_process_used_between_two_samples_and_its_memory() -> None:
    with subprocess.Popen(
        [sys.executable, "-c", BURN_THEN_WAIT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdin is not None and child.stdout is not None
        tracker = UsageTracker({"burner": child.pid})
        tracker.sample()
        assert child.stdout.readline() == "burnt\n"
        tracker.sample()
        child.stdin.close()

    [usage] = tracker.usage()
    assert usage.name == "burner"
    assert 0.15 <= usage.cpu_seconds < 5
    assert usage.peak_rss_mb > 1
