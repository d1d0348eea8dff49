"""`make up` / `make down` on a second cluster, side by side with the running test cluster."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from localcluster.config import PORT_VARIABLES, PROJECT_ROOT
from localcluster.processes import alive, wait_for
from localcluster.services import procfile_entries
from localcluster.testing import ClusterEnv

pytestmark = pytest.mark.integration
COMPONENTS = ("kafka", "postgres", "redis")


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _probe_env(name: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAY_")}
    env["PAY_CLUSTER"] = name
    env.update(
        zip(PORT_VARIABLES.values(), map(str, _free_ports(len(PORT_VARIABLES))), strict=True)
    )
    return env


def _pids(state_dir: Path) -> dict[str, int]:
    return {
        name: int((state_dir / "run" / f"{name}.pid").read_text().split()[0])
        for name in COMPONENTS
        if (state_dir / "run" / f"{name}.pid").exists()
    }


def _wait_for_service_pids(state_dir: Path) -> dict[str, int]:
    """Every pid file of the cluster once each Procfile process has one."""
    wanted = {f"svc-{name}" for name in procfile_entries()}
    assert wait_for(lambda: wanted <= {p.stem for p in (state_dir / "run").glob("*.pid")}, 30)
    return {p.stem: int(p.read_text().split()[0]) for p in (state_dir / "run").glob("*.pid")}


def _make(target: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-s", "-C", str(PROJECT_ROOT), target],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


@pytest.fixture
def probe(unique: str) -> Iterator[tuple[dict[str, str], Path]]:
    name = f"probe-{unique}"
    env = _probe_env(name)
    state_dir = PROJECT_ROOT / ".local" / name
    try:
        yield env, state_dir
    finally:
        _make("down", env)
        shutil.rmtree(state_dir, ignore_errors=True)


def test_up_twice_is_harmless_and_down_stops_every_process(
    probe: tuple[dict[str, str], Path], cluster: ClusterEnv
) -> None:
    env, state_dir = probe
    first = _make("up", env)
    assert first.returncode == 0, first.stderr
    pids = _pids(state_dir)
    assert set(pids) == set(COMPONENTS) and all(map(alive, pids.values()))

    again = _make("up", env)
    assert again.returncode == 0, again.stderr
    assert _pids(state_dir) == pids
    assert "0 created" in again.stdout

    # the throwaway test cluster kept running beside the probe
    assert redis.Redis.from_url(cluster.redis_url).ping() is True

    every_pid = _wait_for_service_pids(state_dir)
    down = _make("down", env)
    assert down.returncode == 0, down.stderr
    assert not any(map(alive, every_pid.values())), every_pid

    restarted = _make("up", env)
    assert restarted.returncode == 0, restarted.stderr
    new_pids = _pids(state_dir)
    assert all(map(alive, new_pids.values())) and set(new_pids) == set(COMPONENTS)
    status = _make("status", env)
    assert all(f"running (pid {pid})" in status.stdout for pid in new_pids.values())


def _localcluster(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "localcluster", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _assert_one_clear_line(result: subprocess.CompletedProcess[str], expected: str) -> None:
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and expected in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_a_taken_port_gives_one_clear_error_line(unique: str) -> None:
    env = _probe_env(f"taken-{unique}")
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", int(env["PAY_REDIS_PORT"])))
        squatter.listen()
        result = _localcluster(env, "up")
    _assert_one_clear_line(result, f"port {env['PAY_REDIS_PORT']} (redis)")
    assert not (PROJECT_ROOT / ".local" / f"taken-{unique}").exists()


def test_missing_java_gives_one_clear_error_line(unique: str) -> None:
    env = {**_probe_env(f"nojava-{unique}"), "PATH": "/nonexistent"}
    _assert_one_clear_line(_localcluster(env, "up"), "java not found")


def test_a_malformed_port_variable_gives_one_clear_error_line() -> None:
    env = {**_probe_env("dev"), "PAY_KAFKA_PORT": "not-a-port"}
    _assert_one_clear_line(_localcluster(env, "up"), "PAY_KAFKA_PORT='not-a-port'")
