"""Where a named local cluster lives and which ports it listens on.

Each cluster has a name (``dev`` for ``make up``, ``test`` for ``make test``) and its own state
folder and port set, so several can run side by side. Every port can be overridden from the
environment; a name without default ports must be given all of them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from localcluster.errors import ClusterError

HOST = "127.0.0.1"
# The checkout; an installed copy (the compose bootstrap image) is told where the services'
# sources are, since its own file then sits in a virtualenv, not in deploy/local.
PROJECT_ROOT = Path(os.environ.get("PAY_PROJECT_ROOT") or Path(__file__).resolve().parents[4])

DEFAULT_PORTS: dict[str, dict[str, int]] = {
    "dev": {
        "kafka": 19092,
        "controller": 19093,
        "postgres": 15432,
        "redis": 16379,
        "http_base": 18000,
    },
    "test": {
        "kafka": 29092,
        "controller": 29093,
        "postgres": 25432,
        "redis": 26379,
        "http_base": 28000,
    },
    "bench": {
        "kafka": 31092,
        "controller": 31093,
        "postgres": 31432,
        "redis": 31379,
        "http_base": 31500,
    },
    "chaos": {
        "kafka": 23092,
        "controller": 23093,
        "postgres": 23432,
        "redis": 23379,
        "http_base": 23500,
    },
}
# Every default stays below the kernel's ephemeral range (32768 and up on Linux), where an
# outgoing connection's local port, or its TIME_WAIT, could hold a listener's port.
EPHEMERAL_START = 32768
PORT_VARIABLES = {
    "kafka": "PAY_KAFKA_PORT",
    "controller": "PAY_KAFKA_CONTROLLER_PORT",
    "postgres": "PAY_PG_PORT",
    "redis": "PAY_REDIS_PORT",
    "http_base": "PAY_HTTP_PORT_BASE",
}
SERVICES = ("gateway", "payment", "webhook", "ledger", "settlement")
# HTTP ports of the platform's own processes, as offsets from the cluster's http_base port.
HTTP_OFFSETS = {
    "gateway": 0,
    "payment": 1,
    "webhook": 2,
    "ledger": 3,
    "settlement": 4,
    "psp": 5,
    "metrics": 10,
}


@dataclass(frozen=True)
class ClusterConfig:
    name: str
    state_dir: Path
    kafka_port: int
    controller_port: int
    postgres_port: int
    redis_port: int
    http_base: int
    kafka_heap_mb: int

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def env_file(self) -> Path:
        return self.state_dir / "cluster.env"

    @property
    def bootstrap_servers(self) -> str:
        return f"{HOST}:{self.kafka_port}"

    def ports(self) -> dict[str, int]:
        return {
            "kafka": self.kafka_port,
            "controller": self.controller_port,
            "postgres": self.postgres_port,
            "redis": self.redis_port,
        }

    def http_port(self, process: str) -> int:
        return self.http_base + HTTP_OFFSETS[process]


def _port(environ: Mapping[str, str], variable: str, default: int | None, name: str) -> int:
    raw = environ.get(variable)
    if raw is None or raw == "":
        if default is None:
            raise ClusterError(f"cluster {name!r} has no default ports: set {variable}")
        return default
    if not raw.isdigit() or not 1024 <= int(raw) <= 65535:
        raise ClusterError(f"{variable}={raw!r} is not a port between 1024 and 65535")
    return int(raw)


def load_config(environ: Mapping[str, str] | None = None) -> ClusterConfig:
    env = os.environ if environ is None else environ
    name = env.get("PAY_CLUSTER", "dev")
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,30}", name):
        raise ClusterError(f"PAY_CLUSTER={name!r}: use lower-case letters, digits and dashes")
    defaults = DEFAULT_PORTS.get(name, {})
    ports = {
        key: _port(env, variable, defaults.get(key), name)
        for key, variable in PORT_VARIABLES.items()
    }
    http_ports = {ports["http_base"] + offset for offset in HTTP_OFFSETS.values()}
    if ports["http_base"] + max(HTTP_OFFSETS.values()) + 10 > 65535:  # metrics use a block
        raise ClusterError(f"PAY_HTTP_PORT_BASE={ports['http_base']} leaves no room for ports")
    infra = [port for key, port in ports.items() if key != "http_base"]
    if len(set(infra)) != len(infra) or http_ports & set(infra):
        raise ClusterError(f"cluster {name!r} uses one port twice: {ports}")
    state_root = Path(env.get("PAY_STATE_DIR", str(PROJECT_ROOT / ".local")))
    heap = env.get("PAY_KAFKA_HEAP_MB", "512")
    if not heap.isdigit() or int(heap) < 128:
        raise ClusterError(f"PAY_KAFKA_HEAP_MB={heap!r} must be a whole number of at least 128")
    return ClusterConfig(
        name=name,
        state_dir=(state_root / name).resolve(),
        kafka_port=ports["kafka"],
        controller_port=ports["controller"],
        postgres_port=ports["postgres"],
        redis_port=ports["redis"],
        http_base=ports["http_base"],
        kafka_heap_mb=int(heap),
    )
