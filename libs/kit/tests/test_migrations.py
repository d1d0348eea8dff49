"""The migration runner against the real PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

from localcluster.testing import ClusterEnv
from paykit.migrations import MigrationError, load, migrate
from paykit.testing import scratch_database

pytestmark = pytest.mark.integration


def _folder(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "migrations"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {row[0] for row in rows}


def test_migrations_apply_in_order_once(cluster: ClusterEnv, tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        {
            "0001_accounts.sql": "CREATE TABLE accounts (id bigint PRIMARY KEY);",
            "0002_entries.sql": "CREATE TABLE entries (account bigint REFERENCES accounts);",
        },
    )
    with scratch_database(cluster.admin_url, {}) as url:
        assert migrate(url, {"svc": folder}) == ["svc/0001_accounts", "svc/0002_entries"]
        assert migrate(url, {"svc": folder}) == []
        assert {"accounts", "entries", "schema_migrations"} <= _tables(url)


def test_a_failing_migration_leaves_nothing_half_applied(
    cluster: ClusterEnv, tmp_path: Path
) -> None:
    folder = _folder(
        tmp_path,
        {
            "0001_good.sql": "CREATE TABLE good (id int);",
            "0002_bad.sql": "CREATE TABLE half (id int); SELECT no_such_function();",
        },
    )
    with scratch_database(cluster.admin_url, {}) as url:
        with pytest.raises(psycopg.errors.UndefinedFunction):
            migrate(url, {"svc": folder})
        assert "half" not in _tables(url) and "good" in _tables(url)


def test_an_edited_migration_is_refused(cluster: ClusterEnv, tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"0001_t.sql": "CREATE TABLE t (id int);"})
    with scratch_database(cluster.admin_url, {}) as url:
        migrate(url, {"svc": folder})
        (folder / "0001_t.sql").write_text("CREATE TABLE t (id bigint);")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            migrate(url, {"svc": folder})


def test_runners_started_together_apply_each_migration_once(
    cluster: ClusterEnv, tmp_path: Path
) -> None:
    folder = _folder(tmp_path, {"0001_t.sql": "CREATE TABLE t (id int); SELECT pg_sleep(0.3);"})
    with scratch_database(cluster.admin_url, {}) as url:
        results: list[list[str]] = []
        threads = [
            threading.Thread(target=lambda: results.append(migrate(url, {"svc": folder})))
            for _ in range(3)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(map(len, results)) == [0, 0, 1]


@pytest.mark.parametrize("name", ["1_short.sql", "0001-dash.sql", "0001_Upper.sql"])
def test_a_badly_named_file_is_refused(tmp_path: Path, name: str) -> None:
    folder = _folder(tmp_path, {name: "SELECT 1;"})
    with pytest.raises(MigrationError, match=r"NNNN_name\.sql"):
        load("svc", folder)


def test_two_files_with_one_version_are_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"0001_a.sql": "SELECT 1;", "0001_b.sql": "SELECT 1;"})
    with pytest.raises(MigrationError, match="share a version"):
        load("svc", folder)
