"""docker-compose.yml cannot be run here (no Docker engine); these checks keep it consistent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from localcluster.config import PROJECT_ROOT, SERVICES
from localcluster.kafka import kafka_version
from localcluster.migrations import owned_separately
from localcluster.services import procfile_entries


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    return loaded


def test_compose_runs_the_same_kafka_version_as_the_local_cluster() -> None:
    assert _compose()["services"]["kafka"]["image"] == f"apache/kafka:{kafka_version()}"


def test_every_build_points_at_an_existing_dockerfile() -> None:
    for name, service in _compose()["services"].items():
        if "build" in service:
            assert (PROJECT_ROOT / service["build"]["dockerfile"]).is_file(), name


def test_bootstrap_gets_a_database_password_for_every_service() -> None:
    env = _compose()["services"]["bootstrap"]["environment"]
    assert {f"{s.upper()}_DB_PASSWORD" for s in SERVICES} <= set(env)
    assert {"PAY_PG_ADMIN_URL", "KAFKA_BOOTSTRAP_SERVERS"} <= set(env)


def test_bootstrap_gets_the_schema_owners_password_of_every_service_owned_separately() -> None:
    env = _compose()["services"]["bootstrap"]["environment"]
    assert "ledger" in owned_separately()
    assert {f"{s.upper()}_OWNER_DB_PASSWORD" for s in owned_separately()} <= set(env)


def test_the_ledgers_processes_log_in_as_its_runtime_role_not_its_owner() -> None:
    for name in procfile_entries():
        url = _compose()["services"][name]["environment"].get("LEDGER_DATABASE_URL", "")
        assert url.startswith("postgresql://ledger:"), name


def test_published_ports_bind_to_loopback_only() -> None:
    for name, service in _compose()["services"].items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), name


def test_every_procfile_process_runs_in_compose_too() -> None:
    services = _compose()["services"]
    missing = [name for name in procfile_entries() if name not in services]
    assert missing == []


def test_compose_services_wait_for_bootstrap_and_share_the_jwks() -> None:
    for name in procfile_entries():
        service = _compose()["services"][name]
        assert service["depends_on"]["bootstrap"]["condition"] == "service_completed_successfully"
        assert service["environment"]["AUTH_JWKS_PATH"].startswith("/secrets/")
        assert "secrets:/secrets:ro" in service["volumes"]


def test_the_bootstrap_image_finds_every_services_migrations() -> None:
    bootstrap = _compose()["services"]["bootstrap"]
    assert bootstrap["environment"]["PAY_PROJECT_ROOT"] == "/app"
    dockerfile = (PROJECT_ROOT / bootstrap["build"]["dockerfile"]).read_text()
    assert "COPY --from=build /app/services /app/services" in dockerfile


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
