"""A service owned separately (the ledger) runs as a login role that owns nothing of its schema.

Provisioning gives its database to ``<name>_owner``, which runs the migrations; the login role
gets only what the service's ``runtime_privileges.sql`` grants.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from localcluster.migrations import owned_separately
from localcluster.postgres import owner_role, provision_databases
from localcluster.testing import ClusterEnv

pytestmark = pytest.mark.integration


@pytest.fixture
def ledger_owner_url() -> str:
    url = os.environ.get("LEDGER_OWNER_DATABASE_URL")
    assert url, "cluster.env names the ledger's owner (LEDGER_OWNER_DATABASE_URL)"
    return url


def test_the_ledgers_schema_belongs_to_its_owner_not_to_the_role_it_runs_as(
    cluster: ClusterEnv,
) -> None:
    with psycopg.connect(cluster.database_urls["ledger"]) as conn:
        owners = conn.execute(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
        database_owner = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
        ).fetchone()
    assert owners == [("ledger_owner",)]
    assert database_owner == ("ledger_owner",)


def test_the_ledgers_login_role_cannot_create_change_or_truncate(
    cluster: ClusterEnv, unique: str
) -> None:
    with psycopg.connect(cluster.database_urls["ledger"], autocommit=True) as conn:
        for statement in (
            f"CREATE TABLE probe_{unique} (id bigint)",
            "UPDATE ledger_entries SET amount = amount WHERE false",
            "DELETE FROM ledger_transactions WHERE false",
            "TRUNCATE ledger_entries",
            "ALTER TABLE ledger_entries DISABLE TRIGGER ALL",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_the_ledgers_login_role_may_change_only_the_kits_runtime_tables(
    cluster: ClusterEnv,
) -> None:
    with psycopg.connect(cluster.database_urls["ledger"]) as conn:
        rows = conn.execute(
            "SELECT table_name, privilege_type FROM information_schema.role_table_grants"
            " WHERE grantee = current_user AND privilege_type IN ('UPDATE', 'DELETE')"
            " ORDER BY 1, 2"
        ).fetchall()
    assert rows == [
        ("consumer_parks", "UPDATE"),
        ("inbox", "DELETE"),
        ("outbox", "DELETE"),
        ("outbox", "UPDATE"),
    ]


def test_the_ledgers_owner_creates_tables_in_its_database(
    ledger_owner_url: str, unique: str
) -> None:
    with psycopg.connect(ledger_owner_url) as conn:
        conn.execute(f"CREATE TABLE probe_{unique} (id bigint PRIMARY KEY)")
        conn.rollback()


@pytest.fixture
def old_style_service(cluster: ClusterEnv, unique: str) -> Iterator[tuple[str, str]]:
    """A service database provisioned before the split: its login role owns it and a table."""
    name, password = f"svc_{unique}", secrets.token_urlsafe(16)
    provision_databases(cluster.admin_url, {name: password})
    url = make_conninfo(cluster.admin_url, user=name, password=password, dbname=name)
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE facts (id bigint PRIMARY KEY)")
    yield name, password
    with psycopg.connect(cluster.admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        for role in (owner_role(name), name):
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_provisioning_twice_hands_an_existing_database_to_its_new_owner(
    cluster: ClusterEnv, old_style_service: tuple[str, str]
) -> None:
    name, password = old_style_service
    for _ in range(2):  # idempotent: the second run finds both roles and changes nothing
        provision_databases(cluster.admin_url, {name: password}, {name: "owner-secret"})
    login = make_conninfo(cluster.admin_url, user=name, password=password, dbname=name)
    with psycopg.connect(login) as conn:
        assert conn.execute(
            "SELECT tableowner FROM pg_tables WHERE tablename = 'facts'"
        ).fetchone() == (owner_role(name),)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="must be owner"):
            conn.execute("DROP TABLE facts")
    owner = make_conninfo(login, user=owner_role(name), password="owner-secret")
    with psycopg.connect(owner) as conn:
        conn.execute("DROP TABLE facts")


def test_only_the_ledger_is_owned_separately_for_now() -> None:
    assert owned_separately() == ("ledger",)
