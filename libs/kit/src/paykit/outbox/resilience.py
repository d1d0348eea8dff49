"""How the relay outlives a database or broker that goes away: a connection that notices,
waits that back off, and a health signal that says the loop is alive meanwhile."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import psycopg
from psycopg.conninfo import make_conninfo

from paykit.db import Connection

# Notice a dead database within about 25 s even while idle, instead of waiting on a socket
# the kernel would keep for hours; give up connecting after 5 s. The name shows the relay's
# session in pg_stat_activity.
CONNECTION_SETTINGS: dict[str, str | int] = {
    "application_name": "outbox-relay",
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 25_000,
    "options": "-c statement_timeout=30000",
}


class Health(Protocol):
    """What the relay tells a liveness/readiness probe (``paykit.health.HealthFile`` fits)."""

    def beat(self) -> None: ...

    def report(self, *, ready: bool, reason: str = "") -> None: ...


class SilentHealth:
    """For a relay nobody probes: a test, a one-off drain."""

    def beat(self) -> None:
        pass

    def report(self, *, ready: bool, reason: str = "") -> None:
        pass


@dataclass
class Backoff:
    """Waits that double from ``first`` up to ``longest``, until ``reset``."""

    first: float = 0.5
    longest: float = 30.0
    _next: float = field(default=0.0, init=False)

    def next(self) -> float:
        self._next = min(self.longest, self._next * 2) if self._next else self.first
        return self._next

    def reset(self) -> None:
        self._next = 0.0


def connect(database_url: str) -> Connection:
    """An autocommit connection that notices a dead database (see ``CONNECTION_SETTINGS``)."""
    return psycopg.connect(make_conninfo(database_url, **CONNECTION_SETTINGS), autocommit=True)
