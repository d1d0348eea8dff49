"""The cluster a run drives: one already running is used as it is, else one is started.

A cluster started here gets the gateway's per-merchant write limit raised (the default 300 a
minute would turn a benchmark into a count of 429s) and the simulated PSP's decision delay set
to zero (``BENCH_SETTINGS``; what the caller's environment sets wins), and is stopped again
after the run, since
a whole platform left running costs a shared machine its CPU. One already running is never
restarted or reconfigured: its owner chose its settings.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import httpx

from localcluster.config import PROJECT_ROOT
from localcluster.supervisor import read_env_file
from paykit.testing import wait_until

# A cluster started for a run: the gateway's write limit out of the way, and the simulated
# PSP deciding a charge at once (its default 0.2 s stands for a real provider's own time, which
# is not the platform's to measure; the hop table shows whatever the PSP takes on its own row).
BENCH_SETTINGS = {
    "GATEWAY_WRITES_PER_MINUTE": "1000000",
    "GATEWAY_WRITES_BURST": "100000",
    "PSP_OUTCOME_DELAY_SECONDS": "0",
}
READY_TIMEOUT = 120.0


def cluster_name() -> str:
    return os.environ.get("PAY_CLUSTER", "dev")


def env_file() -> Path:
    root = Path(os.environ.get("PAY_STATE_DIR") or PROJECT_ROOT / ".local")
    return root / cluster_name() / "cluster.env"


def load_cluster_env() -> bool:
    """Fill the environment from the cluster's env file (what the caller set wins); False when
    the cluster has never written one."""
    path = env_file()
    if not path.exists():
        return False
    for name, value in read_env_file(path).items():
        os.environ.setdefault(name, value)
    return True


def gateway_ready(gateway_url: str) -> bool:
    try:
        return httpx.get(f"{gateway_url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _localcluster(*args: str, extra_env: dict[str, str] | None = None) -> None:
    command = shutil.which("localcluster")
    if command is None:
        raise RuntimeError("localcluster is not on PATH: run with uv run --frozen")
    subprocess.run([command, *args], check=True, env={**os.environ, **(extra_env or {})})


def ensure_cluster() -> bool:
    """Make sure the named cluster answers; True when it had to be started here."""
    if "GATEWAY_URL" in os.environ and gateway_ready(os.environ["GATEWAY_URL"]):
        return False
    if load_cluster_env() and gateway_ready(os.environ["GATEWAY_URL"]):
        return False
    print(f"cluster {cluster_name()!r} is not running: starting it", flush=True)
    settings = {name: os.environ.get(name, value) for name, value in BENCH_SETTINGS.items()}
    _localcluster("up", extra_env=settings)
    load_cluster_env()
    if not wait_until(lambda: gateway_ready(os.environ["GATEWAY_URL"]), timeout=READY_TIMEOUT):
        raise RuntimeError(f"the gateway at {os.environ['GATEWAY_URL']} did not become ready")
    return True


def stop_cluster() -> None:
    _localcluster("down")
