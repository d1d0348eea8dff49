"""What a test needs to reach a running cluster, read from the variables ``cluster.env`` sets."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from localcluster.config import SERVICES


@dataclass(frozen=True)
class ClusterEnv:
    name: str
    bootstrap_servers: str
    redis_url: str
    admin_url: str
    database_urls: dict[str, str]

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ClusterEnv | None:
        env = os.environ if environ is None else environ
        if "KAFKA_BOOTSTRAP_SERVERS" not in env:
            return None
        return cls(
            name=env["PAY_CLUSTER"],
            bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"],
            redis_url=env["REDIS_URL"],
            admin_url=env["PAY_PG_ADMIN_URL"],
            database_urls={s: env[f"{s.upper()}_DATABASE_URL"] for s in SERVICES},
        )
