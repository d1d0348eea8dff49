"""The suite's choice of cluster: without a Docker engine the compose target says why (and the
suite skips with that reason); with one, its addresses, settings and process control come from
the compose project's containers; and the settlement run a journey waits for is the cluster's
next scheduled one. Needs no cluster: the engine is a stand-in here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from e2e_compose import ComposeContainers, compose_target
from e2e_settlement import seconds_to_next_run
from e2e_target import TargetUnavailable, select_target


def test_the_compose_target_without_a_docker_engine_says_why() -> None:
    environ = {"PAY_E2E_TARGET": "compose", "DOCKER_HOST": "unix:///nonexistent/docker.sock"}

    with pytest.raises(TargetUnavailable, match="no Docker engine"):
        select_target(environ)


def test_an_unknown_target_is_refused_naming_the_choices() -> None:
    with pytest.raises(TargetUnavailable, match="choose local or compose"):
        select_target({"PAY_E2E_TARGET": "kubernetes"})


@dataclass
class StandInContainer:
    """What the SDK's ``Container`` offers that the target uses, recording what was done."""

    service: str
    port: int | None
    env: dict[str, str]
    project: str = "payments"
    started: int = 0
    done: list[str] = field(default_factory=list)

    @property
    def labels(self) -> dict[str, str]:
        return {
            "com.docker.compose.project": self.project,
            "com.docker.compose.service": self.service,
        }

    @property
    def ports(self) -> dict[str, list[dict[str, str]]]:
        inside = 9092 if self.service == "kafka" else 8080
        published = [{"HostIp": "127.0.0.1", "HostPort": str(self.port)}] if self.port else []
        return {f"{inside}/tcp": published}

    @property
    def attrs(self) -> dict[str, Any]:
        return {
            "Id": self.service,
            "State": {"StartedAt": f"start-{self.started}"},
            "Config": {"Env": [f"{k}={v}" for k, v in self.env.items()]},
        }

    def exec_run(self, command: list[str]) -> tuple[int, bytes]:
        self.done.append(" ".join(command))
        return 0, b"operator-token\n"

    def kill(self, signal: str) -> None:
        self.done.append(f"kill {signal}")

    def wait(self, timeout: float) -> None:
        self.done.append("wait")

    def start(self) -> None:
        self.started += 1
        self.done.append("start")


class StandInEngine:
    def __init__(self, containers: list[StandInContainer]) -> None:
        self.all = containers
        self.containers = self

    def list(self, filters: dict[str, str]) -> list[StandInContainer]:
        wanted = filters["label"].split("=", 1)[1]
        return [c for c in self.all if c.project == wanted]


def _project() -> list[StandInContainer]:
    web = {
        "gateway-web": 18000,
        "payment-api": 18001,
        "webhook-web": 18002,
        "ledger-web": 18003,
        "settlement-web": 18004,
        "psp-web": 18005,
    }
    made = [
        StandInContainer(name, port, {"PSP_WEBHOOK_SECRETS": "whsec_first, whsec_second"})
        for name, port in web.items()
    ]
    made.append(StandInContainer("kafka", 19092, {}))
    made.append(
        StandInContainer("settlement-scheduler", None, {"SETTLEMENT_SCHEDULE": "* * * * *"})
    )
    made.append(StandInContainer("gateway-web", 28000, {}, project="another"))
    return made


def test_the_compose_target_is_read_from_its_projects_containers() -> None:
    containers = _project()

    target = compose_target({}, client=StandInEngine(containers))

    assert target.kind == "compose"
    assert (target.endpoints.gateway, target.endpoints.psp_webhook) == (
        "http://127.0.0.1:18000",
        "http://127.0.0.1:18002/webhooks/psp",
    )
    assert target.endpoints.settlement == "http://127.0.0.1:18004"
    assert target.kafka_bootstrap_servers == "127.0.0.1:19092"
    assert target.webhook_secret == "whsec_first"
    assert target.settings("settlement-scheduler", "SETTLEMENT_SCHEDULE") == "* * * * *"
    assert target.operator_token() == "operator-token"
    assert (target.development_key, target.metrics_port_base) == (None, None)


def test_a_killed_container_is_started_again_as_the_supervisor_would() -> None:
    containers = _project()
    charger = StandInContainer("payment-charger", None, {})

    ComposeContainers(StandInEngine([*containers, charger]), "payments").kill("payment-charger")

    assert charger.done == ["kill SIGKILL", "wait", "start"]


def test_a_project_with_no_running_container_is_unavailable() -> None:
    with pytest.raises(TargetUnavailable, match="docker compose up"):
        compose_target({"PAY_COMPOSE_PROJECT": "nothing"}, client=StandInEngine(_project()))


def test_the_scheduled_run_waited_for_is_the_clusters_next_fire_time() -> None:
    now = datetime(2026, 12, 1, 1, 59, 30, tzinfo=UTC)

    assert seconds_to_next_run("* * * * *", now) == 30
    assert seconds_to_next_run("", now) == 30  # the default: 02:00 UTC every day
    assert seconds_to_next_run("0 3 * * *", now) == 3630
