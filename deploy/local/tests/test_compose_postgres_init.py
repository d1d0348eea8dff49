"""The compose PostgreSQL init script and the release step, run on the test cluster's server.

The script runs as the postgres image runs it (psql as the administrator), for services named
with a unique prefix so the cluster's own roles are left alone; then ``localcluster.release``
migrates them as compose's ``migrate`` does. What `make up` provisions must hold here too.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from localcluster.config import PROJECT_ROOT, SERVICES
from localcluster.migrations import owned_separately
from localcluster.release import main as release
from localcluster.testing import ClusterEnv

pytestmark = pytest.mark.integration

INIT_SCRIPT = PROJECT_ROOT / "deploy" / "compose" / "postgres" / "10-service-databases.sh"


def _run_init_script(admin_url: str, names: dict[str, str]) -> subprocess.CompletedProcess[str]:
    admin = urlsplit(admin_url)
    passwords = {f"{name.upper()}_DB_PASSWORD": f"pw '{name}" for name in names.values()}
    passwords |= {
        f"{names[s].upper()}_OWNER_DB_PASSWORD": f"owner pw {s}" for s in owned_separately()
    }
    env = {
        "PATH": os.environ["PATH"],
        "PGHOST": admin.hostname or "",
        "PGPORT": str(admin.port),
        "PGPASSWORD": unquote(admin.password or ""),
        "POSTGRES_USER": admin.username or "",
        "POSTGRES_DB": "postgres",
        "SERVICE_DATABASES": " ".join(names.values()),
        "SEPARATE_SCHEMA_OWNERS": " ".join(names[s] for s in owned_separately()),
        **passwords,
    }
    return subprocess.run(["bash", str(INIT_SCRIPT)], env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def provisioned(cluster: ClusterEnv) -> Iterator[dict[str, str]]:
    """Per service, the login URL of a database the init script created (twice).

    One set for the module: creating five databases twice takes seconds on a shared disk.
    """
    prefix = f"c{uuid.uuid4().hex[:12]}"
    names = {s: f"{prefix}_{s}" for s in SERVICES}
    try:
        for _ in range(2):  # a second run changes nothing
            result = _run_init_script(cluster.admin_url, names)
            assert result.returncode == 0, result.stderr
        yield {
            s: make_conninfo(cluster.admin_url, user=n, password=f"pw '{n}", dbname=n)
            for s, n in names.items()
        }
    finally:
        with psycopg.connect(cluster.admin_url, autocommit=True) as admin:
            for name in names.values():
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
                for role in (name, f"{name}_owner"):
                    admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def _part(conninfo: str, key: str) -> str:
    return str(conninfo_to_dict(conninfo)[key])


def _release_environment(urls: dict[str, str]) -> dict[str, str]:
    env = {f"{s.upper()}_DATABASE_URL": url for s, url in urls.items()}
    for service in owned_separately():
        login = _part(urls[service], "user")
        env[f"{service.upper()}_OWNER_DATABASE_URL"] = make_conninfo(
            urls[service], user=f"{login}_owner", password=f"owner pw {service}"
        )
    return env


def test_each_login_role_reaches_its_own_database_and_no_other(
    provisioned: dict[str, str],
) -> None:
    for service, url in provisioned.items():
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == (_part(url, "dbname"),)
        for other, other_url in provisioned.items():
            if other != service:
                elsewhere = make_conninfo(url, dbname=_part(other_url, "dbname"))
                with pytest.raises(psycopg.OperationalError, match="CONNECT privilege"):
                    psycopg.connect(elsewhere).close()


def test_the_release_migrates_every_service_as_its_schemas_owner(
    provisioned: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable, value in _release_environment(provisioned).items():
        monkeypatch.setenv(variable, value)
    assert release([]) == 0
    assert release([]) == 0  # nothing left to apply the second time
    for service, url in provisioned.items():
        with psycopg.connect(url) as conn:
            applied = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()
            owners = conn.execute(
                "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        assert applied is not None and applied[0] > 0, service
        expected_owner = _part(url, "user")
        if service in owned_separately():
            expected_owner = f"{expected_owner}_owner"
        assert owners == [(expected_owner,)], service


def test_the_ledgers_login_role_may_only_read_and_append_after_the_release(
    provisioned: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable, value in _release_environment(provisioned).items():
        monkeypatch.setenv(variable, value)
    assert release(["ledger"]) == 0
    with psycopg.connect(provisioned["ledger"], autocommit=True) as conn:
        conn.execute("SELECT count(*) FROM ledger_entries")
        for statement in (
            "CREATE TABLE probe (id bigint)",
            "UPDATE ledger_entries SET amount = amount WHERE false",
            "TRUNCATE ledger_entries",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_the_release_names_every_variable_it_misses(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for service in SERVICES:
        monkeypatch.delenv(f"{service.upper()}_DATABASE_URL", raising=False)
    monkeypatch.delenv("LEDGER_OWNER_DATABASE_URL", raising=False)
    assert release(["payment", "ledger"]) == 2
    error = capsys.readouterr().err
    for variable in ("PAYMENT_DATABASE_URL", "LEDGER_DATABASE_URL", "LEDGER_OWNER_DATABASE_URL"):
        assert variable in error
