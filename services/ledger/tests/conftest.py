"""Fixtures for the ledger's tests: ledgers of their own, owned by the service's role.

Each ledger database is created owned by the ledger's login role and migrated as that role,
exactly as the local cluster does for the service's own database, so every refusal a test shows
is a refusal of the role the service runs as, the tables' owner.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from ledger_service.entrypoints.cli import migration_sources
from localcluster.testing import ClusterEnv
from payevents import Envelope, new_event
from paykit.migrations import migrate


@contextmanager
def owned_ledger(cluster: ClusterEnv) -> Iterator[str]:
    """A new, migrated ledger database owned by the ledger role; dropped afterwards."""
    name = f"ledger_tests_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(cluster.admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} OWNER ledger").format(sql.Identifier(name)))
    url = make_conninfo(cluster.database_urls["ledger"], dbname=name)
    try:
        migrate(url, migration_sources())
        yield url
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
        dbname = psycopg.conninfo.conninfo_to_dict(ledger)["dbname"]
        return make_conninfo(cluster.admin_url, dbname=str(dbname))

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
