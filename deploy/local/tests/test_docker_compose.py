"""docker-compose.yml and the images, checked against what they must agree with.

No Docker engine runs here, so these read the files: every Procfile process runs in compose
with the Procfile's command; each process's environment loads its service's settings with no
missing variable, under the names cluster.env uses; every container has a healthcheck and
waits for what it needs; the images come from the one recipe and run as a non-root user.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import pytest
import yaml

from localcluster.cli import write_env_file
from localcluster.config import PROJECT_ROOT, SERVICES, load_config
from localcluster.containers import (
    BOOTSTRAP_IMAGE,
    DOCKERFILE_TEMPLATE,
    DOCKERIGNORE_TEMPLATE,
    RENDER_SCRIPT,
    Process,
    processes,
    service_dockerfile,
)
from localcluster.kafka import kafka_version
from localcluster.migrations import owned_separately
from localcluster.postgres import PostgresServer
from localcluster.redis_server import RedisServer

ProcessSettings = dict[str, tuple[Callable[[Mapping[str, str]], object], ...]]

INFRASTRUCTURE = ("kafka", "postgres", "redis")
MIGRATE = "migrate"
# cluster.env names no container is given, and why.
HOST_ONLY = {
    "PAY_CLUSTER": "names a local cluster",
    "PAY_PG_ADMIN_URL": "no process needs the administrator; the init script has it",
    "AUTH_SIGNING_KEY_PATH": "the gateway makes its own first key in its database",
    "AUTH_SIGNING_KEY_ID": "the same",
    "PAYKIT_HEALTH_DIR": "the image sets it",
}
HOST_ONLY_PATTERN = re.compile(r"^[A-Z]+_HTTP_PORT$")  # containers listen on 8080
# Names a container has that cluster.env does not.
CONTAINER_ONLY = {"WEBHOOK_RELAY_LIVENESS_FILE"}
_VARIABLE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}")


@cache
def _compose() -> dict[str, Any]:
    """Read once: the tests only look (the 2-core machine makes every parse count)."""
    loaded: dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    return loaded


def _services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = _compose()["services"]
    return services


def _interpolated(value: str) -> str:
    """What compose makes of ``${NAME:-default}`` with nothing set in the environment."""

    def default(match: re.Match[str]) -> str:
        if match.group(2) is None:
            raise AssertionError(f"{match.group(0)} has no default: compose up would need it")
        return match.group(2)

    return _VARIABLE.sub(default, value)


def _environment(name: str) -> dict[str, str]:
    return {k: _interpolated(str(v)) for k, v in _services()[name]["environment"].items()}


def _image_environment() -> dict[str, str]:
    """The ENV of the runtime stage of the one recipe (every service image's)."""
    text = DOCKERFILE_TEMPLATE.read_text().replace("\\\n", " ")
    runtime = text[text.rindex("\nFROM ") :]
    found: dict[str, str] = {}
    for line in runtime.splitlines():
        if line.startswith("ENV "):
            for item in shlex.split(line[4:]):
                key, _, value = item.partition("=")
                found[key] = value
    return found


def _container_environment(process: Process) -> dict[str, str]:
    return {**_image_environment(), **_environment(process.name)}


def _cluster_env_names(tmp_path: Path) -> set[str]:
    """The names `make up` writes to cluster.env, from the function that writes it."""

    class Postgres:
        def provision(self) -> dict[str, str]:
            return {s: f"postgresql://{s}@127.0.0.1/{s}" for s in SERVICES}

        def migration_urls(self) -> dict[str, str]:
            return self.provision()

        def url(self, role: str) -> str:
            return f"postgresql://{role}@127.0.0.1/postgres"

    class Redis:
        url = "redis://127.0.0.1:1/0"

    config = load_config({"PAY_CLUSTER": "dev", "PAY_STATE_DIR": str(tmp_path)})
    write_env_file(config, cast(PostgresServer, Postgres()), cast(RedisServer, Redis()))
    return {line.split("=", 1)[0] for line in config.env_file.read_text().splitlines()}


def test_compose_runs_the_same_kafka_version_as_the_local_cluster() -> None:
    assert _services()["kafka"]["image"] == f"apache/kafka:{kafka_version()}"


def test_kafka_runs_in_kraft_mode_as_broker_and_controller() -> None:
    env = _services()["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "CONTROLLER" in env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert "ZOOKEEPER" not in " ".join(env).upper()


def test_every_procfile_process_runs_in_compose_with_the_procfiles_command() -> None:
    services = _services()
    for name, process in processes().items():
        assert name in services, f"{name} is in the Procfile but not in docker-compose.yml"
        service = services[name]
        assert tuple(service["command"]) == process.command, name
        assert service["image"] == process.service.image, name
        assert service["build"]["dockerfile"] == process.service.dockerfile, name


def test_compose_runs_nothing_the_procfile_does_not_name_except_infrastructure() -> None:
    extra = set(_services()) - set(processes()) - {*INFRASTRUCTURE, MIGRATE}
    assert extra == set()


def test_every_process_has_its_settings_named_in_conftest(
    process_settings: ProcessSettings,
) -> None:
    assert set(processes()) - set(process_settings) == set()


@pytest.mark.parametrize("name", sorted(processes()))
def test_each_process_starts_with_the_configuration_compose_gives_it(
    name: str, process_settings: ProcessSettings
) -> None:
    """Every variable its settings require is given, and every given value is accepted."""
    environment = _container_environment(processes()[name])
    for load in process_settings[name]:
        load(environment)  # a ConfigError names every missing or malformed variable


def test_compose_uses_the_configuration_names_of_the_local_cluster(tmp_path: Path) -> None:
    cluster_env = _cluster_env_names(tmp_path)
    given = {name for service in _services().values() for name in service.get("environment", {})}
    platform = {name for p in processes() for name in _services()[p]["environment"]}
    assert platform - cluster_env <= CONTAINER_ONLY, "names make up does not use"
    missing = {
        name
        for name in cluster_env - given
        if name not in HOST_ONLY and not HOST_ONLY_PATTERN.match(name)
    }
    assert missing == set(), "cluster.env names no container gets: add them or say why not"


def test_each_process_gets_its_own_services_database_and_no_other() -> None:
    for name, process in processes().items():
        urls = {k for k in _environment(name) if k.endswith("_DATABASE_URL")}
        own = process.service.folder.upper()
        assert urls <= {f"{own}_DATABASE_URL"}, name


def test_the_ledgers_processes_log_in_as_its_runtime_role_not_its_owner() -> None:
    ledger = [name for name, p in processes().items() if p.service.folder == "ledger"]
    assert ledger
    for name in ledger:
        assert urlsplit(_environment(name)["LEDGER_DATABASE_URL"]).username == "ledger", name


def test_only_the_processes_that_seal_with_a_key_hold_it(
    sealing_key_holders: dict[str, frozenset[str]],
) -> None:
    for key, expected in sealing_key_holders.items():
        holders = {name for name, s in _services().items() if key in s.get("environment", {})}
        assert holders == expected, key


def test_postgres_init_creates_every_services_database_and_roles() -> None:
    postgres = _services()["postgres"]
    env = postgres["environment"]
    assert env["SERVICE_DATABASES"].split() == list(SERVICES)
    assert env["SEPARATE_SCHEMA_OWNERS"].split() == list(owned_separately())
    assert "./deploy/compose/postgres:/docker-entrypoint-initdb.d:ro" in postgres["volumes"]
    assert (PROJECT_ROOT / "deploy/compose/postgres/10-service-databases.sh").stat().st_mode & 0o111
    roles = [*SERVICES, *(f"{s}_owner" for s in owned_separately())]
    for role in roles:
        assert f"{role.upper()}_DB_PASSWORD" in env, role


def test_every_database_url_logs_in_with_the_password_the_init_script_sets() -> None:
    init_env = _environment("postgres")
    urls = {k: v for k, v in _environment(MIGRATE).items() if k.endswith("_DATABASE_URL")}
    assert set(urls) == {f"{s.upper()}_DATABASE_URL" for s in SERVICES} | {
        f"{s.upper()}_OWNER_DATABASE_URL" for s in owned_separately()
    }
    for name in processes():
        urls.update((k, v) for k, v in _environment(name).items() if k.endswith("_DATABASE_URL"))
    for variable, url in urls.items():
        parts = urlsplit(url)
        assert parts.hostname == "postgres", variable
        assert parts.password == init_env[f"{parts.username}_DB_PASSWORD".upper()], variable


def test_migrate_runs_the_release_step_from_the_bootstrap_image() -> None:
    migrate = _services()[MIGRATE]
    assert migrate["image"] == BOOTSTRAP_IMAGE
    assert migrate["build"]["dockerfile"] == "deploy/docker/python.Dockerfile"
    assert migrate["build"]["args"] == {"SERVICE": "localcluster"}
    assert migrate["command"] == ["python", "-m", "localcluster.release", "--topics"]
    assert migrate["restart"] == "no"


def test_every_process_waits_for_migrations_and_infrastructure_for_health() -> None:
    services = _services()
    for name in processes():
        depends = services[name]["depends_on"]
        assert depends[MIGRATE] == {"condition": "service_completed_successfully"}, name
    assert services[MIGRATE]["depends_on"] == {
        "kafka": {"condition": "service_healthy"},
        "postgres": {"condition": "service_healthy"},
    }
    for name, service in services.items():
        for target, condition in service.get("depends_on", {}).items():
            if condition["condition"] == "service_healthy":
                assert "test" in services[target]["healthcheck"], f"{name} -> {target}"


def test_every_long_running_container_has_a_healthcheck() -> None:
    for name, service in _services().items():
        if name != MIGRATE:
            assert service["healthcheck"]["test"][0] in {"CMD", "CMD-SHELL"}, name


def test_web_processes_are_ready_when_readyz_answers() -> None:
    for name, process in processes().items():
        probe = " ".join(_services()[name]["healthcheck"]["test"])
        if process.is_web:
            assert "http://127.0.0.1:8080/readyz" in probe, name


def test_every_worker_is_checked_on_the_health_file_it_writes() -> None:
    """The file is named after the worker's client id, which is its name (or set explicitly)."""
    image_env = _image_environment()
    for name, process in processes().items():
        if process.is_web:
            continue
        probe = _services()[name]["healthcheck"]["test"]
        assert probe[:4] == ["CMD", "python", "-m", "paykit.health"], name
        assert probe[4] == process.health_file, name
        assert Path(probe[4]).parent == Path(image_env["PAYKIT_HEALTH_DIR"])
        overridden = process.health_file in _environment(name).values()
        source = PROJECT_ROOT / "services" / process.service.folder / "src"
        named = any(f'"{name}"' in path.read_text() for path in source.rglob("*.py"))
        assert overridden or named, f"{name}: no client id {name!r}, no health file set"


def test_no_container_runs_as_root() -> None:
    for name, service in _services().items():
        assert str(service.get("user", "")) not in {"0", "root", "0:0"}, name


def test_published_ports_bind_to_loopback_only() -> None:
    for name, service in _services().items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), name


def test_every_build_points_at_an_existing_dockerfile() -> None:
    for name, service in _services().items():
        if "build" in service:
            assert (PROJECT_ROOT / service["build"]["dockerfile"]).is_file(), name


def test_each_services_dockerfile_is_the_one_recipe_with_its_package_and_command() -> None:
    for service in {process.service for process in processes().values()}:
        dockerfile = PROJECT_ROOT / service.dockerfile
        ignore = dockerfile.with_name("Dockerfile.dockerignore")
        hint = f"{service.dockerfile} differs from the recipe: run {RENDER_SCRIPT}"
        assert dockerfile.read_text() == service_dockerfile(service), hint
        assert ignore.read_text() == DOCKERIGNORE_TEMPLATE.read_text(), hint


def test_the_recipe_is_multi_stage_locked_non_root_and_health_checked() -> None:
    recipe = DOCKERFILE_TEMPLATE.read_text()
    runtime = recipe[recipe.rindex("\nFROM ") :]
    assert len(re.findall(r"^FROM ", recipe, re.MULTILINE)) >= 2
    assert "uv sync --locked --no-dev --no-editable" in recipe
    assert "COPY --from=build /app/.venv /app/.venv" in runtime
    users = re.findall(r"^USER (\S+)", runtime, re.MULTILINE)
    assert users and users[-1].split(":")[0].isdigit() and int(users[-1].split(":")[0]) > 0
    assert "\nHEALTHCHECK " in runtime
    assert "pip install" not in runtime, "build tools stay in the build stage"


def test_the_bootstrap_image_finds_every_services_migrations() -> None:
    recipe = DOCKERFILE_TEMPLATE.read_text()
    assert "PAY_PROJECT_ROOT=/app" in recipe
    assert "-path '*/src/*/migrations/*.sql' -o -name runtime_privileges.sql" in recipe
    assert "COPY --from=build /extra /app/" in recipe


def test_an_installed_localcluster_is_told_where_the_sources_are(tmp_path: Path) -> None:
    migrations = tmp_path / "services" / "ledger" / "src" / "ledger_service" / "migrations"
    migrations.mkdir(parents=True)
    probe = (
        "from localcluster.migrations import migration_sources;"
        "print(migration_sources('ledger')['ledger'])"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "PAY_PROJECT_ROOT": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert found.stdout.strip() == str(migrations)
