"""CPU seconds and peak memory of each platform process over a rate.

The processes are found the way ``localcluster`` tracks them: a pid file per process in the
cluster's run folder (``svc-<Procfile name>.pid`` for each service, ``kafka.pid``,
``postgres.pid``, ``redis.pid``), each checked against its kernel start time so a recycled pid
is never measured. Each is measured with its descendants (gunicorn's workers, PostgreSQL's
backends): CPU is what the tree used between the first and the last sample, including children
that started or were reaped in between; memory is the largest resident total of any sample
(summed over the tree, so pages shared between processes, PostgreSQL's shared buffers above
all, count once per process that touched them).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from localcluster.config import PROJECT_ROOT
from localcluster.processes import ManagedProcess

SUPERVISOR = "services"  # its children are the services, measured on their own


def run_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The cluster's pid files, where ``localcluster`` keeps them (``PAY_STATE_DIR``/name/run).

    Read from the name alone, as the cluster's env file gives it, without the ports that
    ``localcluster.config.load_config`` would want for a cluster of another name.
    """
    env = os.environ if environ is None else environ
    root = Path(env.get("PAY_STATE_DIR") or PROJECT_ROOT / ".local")
    return root / env.get("PAY_CLUSTER", "dev") / "run"


def platform_processes(folder: Path) -> dict[str, int]:
    """Live processes by name (the Procfile's for services), from the pid files in ``folder``."""
    found = {}
    for pid_file in sorted(folder.glob("*.pid")):
        name = pid_file.stem.removeprefix("svc-")
        pid = ManagedProcess(pid_file.stem, folder).pid()
        if name != SUPERVISOR and pid is not None:
            found[name] = pid
    return found


@dataclass(frozen=True)
class TreeSample:
    """One look at a process tree: per live process, the CPU seconds it and its reaped children
    used, and the resident memory of the whole tree."""

    cpu_by_process: dict[tuple[int, float], float]
    rss_bytes: int


def cpu_between(first: TreeSample, last: TreeSample) -> float:
    """CPU seconds a tree used from ``first`` to ``last``.

    Each process's figure includes its reaped children's, and a child that ends is reaped by a
    parent in the tree, so its time moves into the parent's figure: the tree's total only grows,
    and the difference of the totals counts every process once, those that started or ended in
    between included.
    """
    return max(sum(last.cpu_by_process.values()) - sum(first.cpu_by_process.values()), 0.0)


def children_by_parent() -> dict[int, list[int]]:
    """Every process's children, from one pass over the process table (asking each root for
    its children would walk the whole table once per root)."""
    children: dict[int, list[int]] = {}
    for process in psutil.process_iter(["ppid"]):
        children.setdefault(int(process.info["ppid"] or 0), []).append(int(process.pid))
    return children


def descendants(pid: int, children: Mapping[int, list[int]]) -> list[int]:
    """``pid`` and everything below it in ``children``."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(children.get(current, ()))
    return found


def sample_tree(pid: int, children: Mapping[int, list[int]]) -> TreeSample | None:
    """The tree under ``pid`` now, or None when its root is gone."""
    cpu: dict[tuple[int, float], float] = {}
    rss = 0
    for member_pid in descendants(pid, children):
        try:
            member = psutil.Process(member_pid)
            with member.oneshot():
                times = member.cpu_times()
                used = times.user + times.system + times.children_user + times.children_system
                cpu[(member_pid, float(member.create_time()))] = float(used)
                rss += int(member.memory_info().rss)
        except psutil.Error:
            if member_pid == pid:
                return None
            continue  # it ended between the listing and the look
    return TreeSample(cpu, rss)


@dataclass(frozen=True)
class ProcessUsage:
    name: str
    cpu_seconds: float
    peak_rss_mb: float


@dataclass
class UsageTracker:
    """Samples every platform process when asked; ``usage`` gives each one's figures so far."""

    processes: dict[str, int]
    first: dict[str, TreeSample] = field(default_factory=dict)
    last: dict[str, TreeSample] = field(default_factory=dict)
    peak_rss: dict[str, int] = field(default_factory=dict)

    def sample(self) -> None:
        children = children_by_parent()
        for name, pid in self.processes.items():
            tree = sample_tree(pid, children)
            if tree is None:
                continue
            self.first.setdefault(name, tree)
            self.last[name] = tree
            self.peak_rss[name] = max(self.peak_rss.get(name, 0), tree.rss_bytes)

    def usage(self) -> list[ProcessUsage]:
        """Every process sampled, the busiest first."""
        figures = [
            ProcessUsage(
                name,
                round(cpu_between(self.first[name], self.last[name]), 2),
                round(self.peak_rss[name] / 2**20, 1),
            )
            for name in self.last
        ]
        return sorted(figures, key=lambda usage: usage.cpu_seconds, reverse=True)
