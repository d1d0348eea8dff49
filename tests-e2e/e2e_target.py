"""Which running cluster the journeys talk to, how they reach it and how they disturb it.

``PAY_E2E_TARGET`` chooses: ``local`` (the default, what ``make test`` runs: the cluster
``localcluster up`` started, whose addresses ``cluster.env`` exports) or ``compose`` (the
containers of ``docker compose up``, found through the Docker engine with the ``docker`` SDK,
reached on the ports compose published). The journeys see only a ``Target``: the public
addresses, Kafka, the PSP's webhook secret, an operator's token, the settings a process runs
with, and ``Processes`` to kill or restart one. A target that cannot be reached raises
``TargetUnavailable`` with the reason; the suite skips every journey with it.

The compose target is ``e2e_compose.py``.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Protocol

from localcluster.processes import alive
from paykit.auth.audiences import OPERATOR_SCOPES
from paykit.auth.jwt import SigningKey

RESTART_TIMEOUT = 60.0
OPERATOR_TOKEN_MINUTES = 120  # one token serves the whole session, however long the suite runs


class TargetUnavailable(Exception):
    """The chosen cluster cannot be reached; the message says why and what to do."""


@dataclass(frozen=True)
class Endpoints:
    """Base URLs. ``gateway`` and ``webhook`` are public; ``ledger`` and ``settlement`` serve
    the operators' admin APIs payctl drives; ``payment`` is internal (for checks of internals);
    ``psp`` is the outside world, with its test controls."""

    gateway: str
    payment: str
    webhook: str
    ledger: str
    settlement: str
    psp: str

    @property
    def psp_webhook(self) -> str:
        return f"{self.webhook}/webhooks/psp"


class Processes(Protocol):
    """Disturbs one process of the platform by its Procfile (and compose service) name."""

    def instance(self, name: str) -> str:
        """What tells one run of the process from the next (a pid, a container start)."""
        ...

    def kill(self, name: str) -> None:
        """SIGKILL it; return once a new instance runs."""
        ...

    def restart(self, name: str) -> None:
        """Stop it gracefully (SIGTERM); return once a new instance runs."""
        ...

    def log_mark(self, name: str) -> str:
        """A mark in the process's log, for ``logs_since``."""
        ...

    def logs_since(self, name: str, mark: str) -> str:
        """What the process logged after ``mark``."""
        ...


@dataclass(frozen=True)
class Target:
    kind: str
    endpoints: Endpoints
    kafka_bootstrap_servers: str
    webhook_secret: str
    issuer: str
    audience: str
    admin_audience: str
    processes: Processes
    operator_token: Callable[[], str]
    settings: Callable[[str, str], str | None]  # (process, variable) -> its value
    # The development key the gateway imported as its first signing key (local only): with it
    # a journey can name a merchant id, as the bank-account settings of some journeys need.
    development_key: SigningKey | None = None
    metrics_port_base: int | None = None  # METRICS_HTTP_PORT (local only)


def select_target(environ: Mapping[str, str] = os.environ) -> Target:
    kind = environ.get("PAY_E2E_TARGET", "local")
    if kind == "local":
        return local_target(environ)
    if kind == "compose":
        from e2e_compose import compose_target  # it builds on this module

        return compose_target(environ)
    raise TargetUnavailable(f"PAY_E2E_TARGET is {kind!r}: choose local or compose")


# --- the local cluster -------------------------------------------------------------------


def local_target(environ: Mapping[str, str]) -> Target:
    if "GATEWAY_URL" not in environ:
        raise TargetUnavailable(
            "no local cluster: run the journeys with `make test`, or load a cluster's "
            "cluster.env (`set -a; . .local/<cluster>/cluster.env; set +a`)"
        )
    key = SigningKey(
        Path(environ["AUTH_SIGNING_KEY_PATH"]).read_bytes(), environ["AUTH_SIGNING_KEY_ID"]
    )
    issuer, admin_audience = environ["AUTH_ISSUER"], environ["AUTH_ADMIN_AUDIENCE"]

    def operator_token() -> str:
        return key.issue(
            issuer=issuer,
            audience=admin_audience,
            subject="ops_e2e",
            ttl=timedelta(minutes=OPERATOR_TOKEN_MINUTES),
            scopes=OPERATOR_SCOPES,
        )

    return Target(
        kind="local",
        endpoints=Endpoints(
            gateway=environ["GATEWAY_URL"],
            payment=environ["PAYMENT_URL"],
            webhook=environ["WEBHOOK_URL"],
            ledger=environ["LEDGER_URL"],
            settlement=environ["SETTLEMENT_URL"],
            psp=environ["PSP_URL"],
        ),
        kafka_bootstrap_servers=environ["KAFKA_BOOTSTRAP_SERVERS"],
        webhook_secret=environ["PSP_WEBHOOK_SECRETS"].split(",")[0].strip(),
        issuer=issuer,
        audience=environ["AUTH_AUDIENCE"],
        admin_audience=admin_audience,
        # make test exports the services' settings before it starts them and the tests
        processes=SupervisedProcesses(Path(environ["AUTH_JWKS_PATH"]).parents[1]),
        operator_token=operator_token,
        settings=lambda _process, variable: environ.get(variable),
        development_key=key,
        metrics_port_base=int(environ["METRICS_HTTP_PORT"]),
    )


def wait_for(condition: Callable[[], bool], what: str, timeout: float = RESTART_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout:.0f}s waiting for {what}")
        time.sleep(0.1)


class SupervisedProcesses:
    """The local supervisor's processes: pid files in ``<state>/run``, logs in ``<state>/logs``;
    the supervisor restarts whatever exits."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir

    def _pid(self, name: str) -> int | None:
        try:
            return int((self.state_dir / "run" / f"svc-{name}.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def instance(self, name: str) -> str:
        return str(self._pid(name))

    def _signal_and_await_restart(self, name: str, sent: signal.Signals) -> None:
        old = self._pid(name)
        if old is None:
            raise LookupError(f"{name} does not run on this cluster")
        os.kill(old, sent)

        def replaced() -> bool:
            new = self._pid(name)
            return new is not None and new != old and alive(new)

        wait_for(replaced, f"the supervisor to restart {name} after {sent.name}")

    def kill(self, name: str) -> None:
        self._signal_and_await_restart(name, signal.SIGKILL)

    def restart(self, name: str) -> None:
        self._signal_and_await_restart(name, signal.SIGTERM)

    def _log(self, name: str) -> Path:
        return self.state_dir / "logs" / f"svc-{name}.log"

    def log_mark(self, name: str) -> str:
        return str(self._log(name).stat().st_size)

    def logs_since(self, name: str, mark: str) -> str:
        with self._log(name).open(errors="replace") as log:
            log.seek(int(mark))
            return log.read()
