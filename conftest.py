"""Fixtures shared by every suite.

`make test` starts a throwaway cluster and exports its addresses; integration tests reach it
through the ``cluster`` fixture, which fails with a clear message when run outside it.
"""

from __future__ import annotations

import uuid

import pytest

from localcluster.testing import ClusterEnv


@pytest.fixture(scope="session")
def cluster() -> ClusterEnv:
    env = ClusterEnv.from_environ()
    if env is None:
        pytest.fail("integration tests need the test cluster: run them with `make test`")
    return env


@pytest.fixture
def unique() -> str:
    """A short id that keeps one test's names (topics, groups, rows) apart from every other's."""
    return uuid.uuid4().hex[:12]
