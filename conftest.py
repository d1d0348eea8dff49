"""Fixtures shared by every suite.

`make test` starts a throwaway cluster and exports its addresses; integration tests reach it
through the ``cluster`` fixture, which fails with a clear message when run outside it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest

from localcluster.migrations import migration_sources
from localcluster.testing import ClusterEnv
from paykit.testing import scratch_database


@pytest.fixture(scope="session")
def cluster() -> ClusterEnv:
    env = ClusterEnv.from_environ()
    if env is None:
        pytest.fail("integration tests need the test cluster: run them with `make test`")
    return env


@pytest.fixture(scope="session")
def isolated_database(cluster: ClusterEnv) -> Iterator[Callable[[str], str]]:
    """A private, migrated copy of a service's database, one per service per test session.

    The cluster's own services run beside the tests and work on their databases; tests that
    inspect or arrange rows directly use these copies so no running worker races them.
    """
    with ExitStack() as stack:
        made: dict[str, str] = {}

        def database(service: str) -> str:
            if service not in made:
                sources = migration_sources(service)
                if sources is None:
                    raise LookupError(f"service {service!r} has no migrations")
                made[service] = stack.enter_context(
                    scratch_database(cluster.admin_url, sources, prefix=f"{service}_tests")
                )
            return made[service]

        yield database


@pytest.fixture
def unique() -> str:
    """A short id that keeps one test's names (topics, groups, rows) apart from every other's."""
    return uuid.uuid4().hex[:12]
