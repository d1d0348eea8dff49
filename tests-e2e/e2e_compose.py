"""The docker compose cluster as an end-to-end target, through the ``docker`` SDK: the
compose project's running containers give the addresses (the ports compose published), the
settings each process runs with (its container's environment) and an operator's token (``gateway
admin-token`` run in the gateway's container); killing and restarting a process is the SDK's
``kill``/``stop`` and ``start`` of its container.

Run: ``docker compose up -d``, then ``PAY_E2E_TARGET=compose uv run pytest tests-e2e``
(``PAY_COMPOSE_PROJECT`` if the project is not ``payments``). Kafka is read from the host at the
port compose publishes for it; a broker that advertises only its in-network name needs a
listener the host can use, named by ``PAY_E2E_KAFKA_BOOTSTRAP_SERVERS``.
"""

from __future__ import annotations

import gc
import time
import warnings
from collections.abc import Mapping
from typing import Any

from e2e_target import (
    OPERATOR_TOKEN_MINUTES,
    RESTART_TIMEOUT,
    Endpoints,
    Target,
    TargetUnavailable,
    wait_for,
)

COMPOSE_PROJECT = "payments"  # docker-compose.yml's `name:`
# The compose service (and Procfile name) of each address; every web process listens on 8080.
_WEB_PROCESSES = {
    "gateway": "gateway-web",
    "payment": "payment-api",
    "webhook": "webhook-web",
    "ledger": "ledger-web",
    "settlement": "settlement-web",
    "psp": "psp-web",
}


def compose_target(environ: Mapping[str, str], client: Any = None) -> Target:
    """The compose project's running containers (``PAY_COMPOSE_PROJECT``, default ``payments``);
    ``client`` is a ``docker.DockerClient`` (from the environment: ``DOCKER_HOST``...)."""
    project = environ.get("PAY_COMPOSE_PROJECT", COMPOSE_PROJECT)
    if client is None:
        client = _docker_client()
    containers = ComposeContainers(client, project)
    web = {role: containers.published_url(name, 8080) for role, name in _WEB_PROCESSES.items()}
    gateway_env, webhook_env = containers.env("gateway-web"), containers.env("webhook-web")
    kafka = environ.get("PAY_E2E_KAFKA_BOOTSTRAP_SERVERS") or containers.published_address(
        "kafka", 9092
    )

    def operator_token() -> str:
        minutes = str(OPERATOR_TOKEN_MINUTES)
        return containers.run("gateway-web", ["gateway", "admin-token", "--minutes", minutes])

    return Target(
        kind="compose",
        endpoints=Endpoints(**web),
        kafka_bootstrap_servers=kafka,
        webhook_secret=webhook_env["PSP_WEBHOOK_SECRETS"].split(",")[0].strip(),
        issuer=gateway_env.get("AUTH_ISSUER", "payments-gateway"),
        audience=gateway_env.get("AUTH_AUDIENCE", "payments-api"),
        admin_audience=gateway_env.get("AUTH_ADMIN_AUDIENCE", "payments-admin"),
        processes=containers,
        operator_token=operator_token,
        settings=lambda process, variable: containers.env(process).get(variable),
    )


def _docker_client() -> Any:
    import docker  # type: ignore[import-untyped]  # needed only for this target
    from docker.errors import DockerException  # type: ignore[import-untyped]

    with warnings.catch_warnings():
        # the SDK leaves the socket of a connection that failed to the garbage collector
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            client = docker.from_env(timeout=5)
            client.ping()
            return client
        except (DockerException, OSError) as error:  # requests' errors are OSErrors
            reason = " ".join(str(error).split())
        gc.collect()
    raise TargetUnavailable(f"no Docker engine answered: {reason}")


class ComposeContainers:
    """One compose project's containers, by service name (its ``com.docker.compose.*`` labels)."""

    def __init__(self, client: Any, project: str) -> None:
        self.client, self.project = client, project
        if not self._running():
            raise TargetUnavailable(
                f"no container of compose project {project!r} runs: `docker compose up -d`"
            )

    def _running(self) -> list[Any]:
        label = f"com.docker.compose.project={self.project}"
        return list(self.client.containers.list(filters={"label": label}))

    def container(self, service: str) -> Any:
        found = [
            c for c in self._running() if c.labels.get("com.docker.compose.service") == service
        ]
        if not found:
            raise TargetUnavailable(f"compose project {self.project!r} runs no {service}")
        return found[0]

    def published_address(self, service: str, port: int) -> str:
        bindings = self.container(service).ports.get(f"{port}/tcp") or []
        if not bindings:
            raise TargetUnavailable(f"{service} publishes no port for {port}/tcp")
        host = bindings[0]["HostIp"]
        return f"{'127.0.0.1' if host in ('', '0.0.0.0') else host}:{bindings[0]['HostPort']}"  # noqa: S104

    def published_url(self, service: str, port: int) -> str:
        return f"http://{self.published_address(service, port)}"

    def env(self, service: str) -> dict[str, str]:
        pairs = self.container(service).attrs["Config"]["Env"] or []
        return dict(pair.split("=", 1) for pair in pairs if "=" in pair)

    def run(self, service: str, command: list[str]) -> str:
        exit_code, output = self.container(service).exec_run(command)
        if exit_code != 0:
            raise RuntimeError(f"{' '.join(command)} in {service} exited {exit_code}: {output!r}")
        return str(output.decode().strip())

    def instance(self, service: str) -> str:
        attrs = self.container(service).attrs
        return f"{attrs['Id']}@{attrs['State']['StartedAt']}"

    def _await_new_instance(self, service: str, old: str) -> None:
        def replaced() -> bool:
            try:
                return self.instance(service) != old
            except TargetUnavailable:
                return False

        wait_for(replaced, f"{service} to run again")

    def kill(self, service: str) -> None:
        """``docker kill`` counts as a manual stop, so no restart policy brings it back: start
        it again, as the local supervisor would."""
        container, old = self.container(service), self.instance(service)
        container.kill(signal="SIGKILL")
        container.wait(timeout=RESTART_TIMEOUT)
        container.start()
        self._await_new_instance(service, old)

    def restart(self, service: str) -> None:
        container, old = self.container(service), self.instance(service)
        container.stop(timeout=30)
        container.start()
        self._await_new_instance(service, old)

    def log_mark(self, service: str) -> str:
        return str(int(time.time()))

    def logs_since(self, service: str, mark: str) -> str:
        logs: bytes = self.container(service).logs(since=int(mark))
        return logs.decode(errors="replace")
