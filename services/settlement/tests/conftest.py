"""Fixtures for the settlement service's tests: databases of their own, ids, event builders."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest

from localcluster.migrations import migration_sources
from localcluster.testing import ClusterEnv
from paykit.testing import scratch_database


@pytest.fixture
def fresh_database(cluster: ClusterEnv) -> Iterator[Callable[[], str]]:
    """Migrated settlement databases of the test's own: runs see only the test's items."""
    sources = migration_sources("settlement")
    assert sources is not None
    with ExitStack() as stack:
        yield lambda: stack.enter_context(
            scratch_database(cluster.admin_url, sources, prefix="settlement_tests")
        )


@pytest.fixture
def merchant() -> str:
    return f"MER_{uuid.uuid4().hex[:12]}"
