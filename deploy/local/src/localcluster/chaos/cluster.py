"""The chaos run's own cluster: started (from an empty state folder, as a fresh clone would),
handed over healthy, and stopped however the run ends."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from localcluster import cli
from localcluster.chaos.api import PlatformApi
from localcluster.chaos.observe import BurstObserver
from localcluster.chaos.rounds import wait_healthy
from localcluster.config import ClusterConfig
from localcluster.supervisor import read_env_file


@dataclass(frozen=True)
class RunningCluster:
    config: ClusterConfig
    env: Mapping[str, str]  # cluster.env: every URL and setting the services were given
    api: PlatformApi
    observer: BurstObserver


@contextlib.contextmanager
def chaos_cluster(
    config: ClusterConfig,
    *,
    fresh: bool,
    keep_running: bool,
    service_settings: Mapping[str, str],
) -> Iterator[RunningCluster]:
    """Up with every service, healthy (one payment all the way through); down afterwards.

    ``service_settings`` reach the services through the supervisor's environment; a variable
    exported before the run wins.
    """
    if fresh:
        with contextlib.redirect_stdout(io.StringIO()):
            cli.down(config)
        shutil.rmtree(config.state_dir, ignore_errors=True)
    for variable, value in service_settings.items():
        os.environ.setdefault(variable, value)
    try:
        cli.up(config, with_services=True)
        env = read_env_file(config.env_file)
        running = RunningCluster(config, env, PlatformApi(config), BurstObserver(env))
        wait_healthy(running.api, running.observer, config)
        yield running
    finally:
        if not keep_running:
            cli.down(config)
