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
    # The broker-loss journey (three brokers: 30092, 30102, 30112; controllers 30093, 30103, 30113)
    "broker-loss": {
        "kafka": 30092,
        "controller": 30093,
        "postgres": 30432,
        "redis": 30379,
        "http_base": 30500,
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
# PAY_KAFKA_BROKERS=3 runs three combined broker+controller nodes instead of one. Broker n
# (1, 2, 3) listens on the cluster's kafka port + BROKER_PORT_STEP * (n - 1) and its controller on
# the controller port + the same: dev's are 19092, 19102, 19112 (controllers 19093, 19103, 19113),
# test's 29092, 29102, 29112, chaos's 23092, 23102, 23112, bench's 31092, 31102, 31112, all below
# 32768. A step of ten clears the controller port (kafka + 1) and leaves the ports between free.
BROKER_PORT_STEP = 10
BROKER_COUNTS = (1, 3)
SERVICES = ("gateway", "payment", "webhook", "ledger", "settlement")
# HTTP ports of the platform's own processes, as offsets from the cluster's http_base port.
HTTP_OFFSETS = {
    "gateway": 0,
    "payment": 1,
    "webhook": 2,
    "ledger": 3,
    "settlement": 4,
    "psp": 5,
    "dashboard": 6,
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
    kafka_brokers: int = 1

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
    def kafka_ports(self) -> tuple[int, ...]:
        """Broker n's client port at index n - 1 (``BROKER_PORT_STEP`` apart)."""
        return tuple(self.kafka_port + BROKER_PORT_STEP * n for n in range(self.kafka_brokers))

    @property
    def controller_ports(self) -> tuple[int, ...]:
        return tuple(self.controller_port + BROKER_PORT_STEP * n for n in range(self.kafka_brokers))

    @property
    def bootstrap_servers(self) -> str:
        """Every broker, so a client starting while one is down still finds the cluster."""
        return ",".join(f"{HOST}:{port}" for port in self.kafka_ports)

    @property
    def replication_factor(self) -> int:
        return replication_for(self.kafka_brokers)[0]

    @property
    def min_insync_replicas(self) -> int:
        return replication_for(self.kafka_brokers)[1]

    def ports(self) -> dict[str, int]:
        """Infrastructure ports by component; brokers after the first are ``kafka-<n>``."""
        brokers: dict[str, int] = {}
        for n, (kafka, controller) in enumerate(
            zip(self.kafka_ports, self.controller_ports, strict=True), start=1
        ):
            suffix = "" if n == 1 else f"-{n}"
            brokers |= {f"kafka{suffix}": kafka, f"controller{suffix}": controller}
        return {**brokers, "postgres": self.postgres_port, "redis": self.redis_port}

    def http_port(self, process: str) -> int:
        return self.http_base + HTTP_OFFSETS[process]


def replication_for(brokers: int) -> tuple[int, int]:
    """Replicas per partition and ``min.insync.replicas`` on ``brokers`` brokers: three and two
    from three brokers, so an acks=all write survives one broker lost and is on two; else one."""
    return (3, 2) if brokers >= 3 else (1, 1)


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
    brokers = env.get("PAY_KAFKA_BROKERS") or "1"
    if brokers not in {str(count) for count in BROKER_COUNTS}:
        raise ClusterError(f"PAY_KAFKA_BROKERS={brokers!r}: use 1 or 3")
    if ports["http_base"] + max(HTTP_OFFSETS.values()) + 10 > 65535:  # metrics use a block
        raise ClusterError(f"PAY_HTTP_PORT_BASE={ports['http_base']} leaves no room for ports")
    state_root = Path(env.get("PAY_STATE_DIR", str(PROJECT_ROOT / ".local")))
    heap = env.get("PAY_KAFKA_HEAP_MB") or ("512" if brokers == "1" else "256")  # per broker
    if not heap.isdigit() or int(heap) < 128:
        raise ClusterError(f"PAY_KAFKA_HEAP_MB={heap!r} must be a whole number of at least 128")
    config = ClusterConfig(
        name=name,
        state_dir=(state_root / name).resolve(),
        kafka_port=ports["kafka"],
        controller_port=ports["controller"],
        postgres_port=ports["postgres"],
        redis_port=ports["redis"],
        http_base=ports["http_base"],
        kafka_heap_mb=int(heap),
        kafka_brokers=int(brokers),
    )
    infra = list(config.ports().values())
    if max(infra) > 65535:
        raise ClusterError(f"PAY_KAFKA_PORT leaves no room for {brokers} brokers' ports")
    http_ports = {config.http_port(process) for process in HTTP_OFFSETS}
    if len(set(infra)) != len(infra) or http_ports & set(infra):
        raise ClusterError(f"cluster {name!r} uses one port twice: {config.ports()}")
    return config
