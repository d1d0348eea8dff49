"""Fixtures for the ledger's tests: ledgers of their own, set up as the service's own.

Each ledger database is owned by ``ledger_owner``, migrated as that role and its privileges
granted to the ledger's login role, exactly as the local cluster sets up the service's
database (``localcluster.migrations.migrate_service``). The URLs handed out are the login
role's, so every test runs as the role the service runs as, which does not own the schema.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from localcluster.migrations import migrate_service
from localcluster.testing import ClusterEnv
from payevents import Envelope, new_event


def ledger_owner_url() -> str:
    """The schema owner's URL on the cluster's ledger database (``cluster.env`` has it)."""
    url = os.environ.get("LEDGER_OWNER_DATABASE_URL")
    if not url:
        pytest.fail("LEDGER_OWNER_DATABASE_URL is not set: run `localcluster up` again")
    return url


def database_of(url: str) -> str:
    return str(conninfo_to_dict(url)["dbname"])


@contextmanager
def owned_ledger(cluster: ClusterEnv) -> Iterator[str]:
    """A new, migrated ledger database; the login role's URL to it. Dropped afterwards."""
    name = f"ledger_tests_{uuid.uuid4().hex[:10]}"
    owner_url = make_conninfo(ledger_owner_url(), dbname=name)
    runtime_url = make_conninfo(cluster.database_urls["ledger"], dbname=name)
    with psycopg.connect(cluster.admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(str(conninfo_to_dict(owner_url)["user"]))
            )
        )
    try:
        migrate_service(
            "ledger", owner_url, runtime_role=str(conninfo_to_dict(runtime_url)["user"])
        )
        yield runtime_url
    finally:
        with psycopg.connect(cluster.admin_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="session")
def ledger_url(cluster: ClusterEnv) -> Iterator[str]:
    """One ledger for the tests that only add to it."""
    with owned_ledger(cluster) as url:
        yield url


@pytest.fixture
def fresh_ledger(cluster: ClusterEnv) -> Iterator[Callable[[], str]]:
    """Ledgers of the test's own, for tests that tamper with one or need it empty."""
    with ExitStack() as stack:
        yield lambda: stack.enter_context(owned_ledger(cluster))


@pytest.fixture
def admin_on(cluster: ClusterEnv) -> Callable[[str], str]:
    """The database superuser's URL for a ledger database: to edit behind the ledger's back."""

    def url(ledger: str) -> str:
        return make_conninfo(cluster.admin_url, dbname=database_of(ledger))

    return url


@pytest.fixture
def owner_on() -> Callable[[str], str]:
    """The schema owner's URL for a ledger database: what DDL (a disabled trigger) needs."""

    def url(ledger: str) -> str:
        return make_conninfo(ledger_owner_url(), dbname=database_of(ledger))

    return url


@pytest.fixture
def merchant() -> str:
    return f"MER_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def event() -> Callable[..., Envelope]:
    """A platform event as the producing service would publish it."""

    def build(event_type: str, data: dict[str, Any], *, at: datetime | None = None) -> Envelope:
        subject = data.get("payment_id") or data["merchant_id"]
        envelope = new_event(event_type, data, source="tests", subject=subject)
        if at is not None:
            envelope = replace(envelope, occurred_at=at.astimezone(UTC))
        return envelope

    return build


@pytest.fixture
def payment_facts(merchant: str) -> Callable[..., dict[str, Any]]:
    def facts(amount: int = 10_000, currency: str = "EUR", **extra: Any) -> dict[str, Any]:
        return {
            "payment_id": f"PAY_{uuid.uuid4().hex[:16]}",
            "merchant_id": merchant,
            "amount": amount,
            "currency": currency,
            **extra,
        }

    return facts
