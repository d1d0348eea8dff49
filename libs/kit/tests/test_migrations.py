"""The migration runner against the real PostgreSQL."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest

from localcluster.testing import ClusterEnv
from paykit.migrations import LOCK_KEY, MigrationError, load, migrate
from paykit.testing import scratch_database

pytestmark = pytest.mark.integration


def _folder(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "migrations"
    folder.mkdir(parents=True, exist_ok=True)
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


def _recorded(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM schema_migrations ORDER BY id")]


def test_a_renamed_applied_migration_is_recorded_under_its_new_name_not_applied_again(
    cluster: ClusterEnv, tmp_path: Path
) -> None:
    folder = _folder(tmp_path, {"0001_t.sql": "CREATE TABLE t (id int);"})
    with scratch_database(cluster.admin_url, {}) as url:
        migrate(url, {"svc": folder})
        (folder / "0001_t.sql").rename(folder / "0001_create_t.sql")
        assert migrate(url, {"svc": folder}) == []
        assert _recorded(url) == ["svc/0001_create_t"]


def test_a_renamed_and_edited_migration_is_refused(cluster: ClusterEnv, tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"0001_t.sql": "CREATE TABLE t (id int);"})
    with scratch_database(cluster.admin_url, {}) as url:
        migrate(url, {"svc": folder})
        (folder / "0001_t.sql").unlink()
        (folder / "0001_u.sql").write_text("CREATE TABLE u (id int);")
        with pytest.raises(
            MigrationError, match=r"svc/0001_u \(applied as svc/0001_t\) changed after it was"
        ):
            migrate(url, {"svc": folder})
        assert "u" not in _tables(url)


@pytest.mark.parametrize(
    ("renumbered_to", "expected"),
    [
        (None, r"svc/0002_b was applied but its file is gone: an applied migration stays"),
        ("0003_b.sql", r"svc/0002_b was applied but its file is gone \(renumbered as svc/0003_b\?"),
    ],
)
def test_an_applied_migration_missing_from_disk_is_refused_not_applied_again(
    cluster: ClusterEnv, tmp_path: Path, renumbered_to: str | None, expected: str
) -> None:
    folder = _folder(
        tmp_path, {"0001_a.sql": "CREATE TABLE a (id int);", "0002_b.sql": "CREATE TABLE b ();"}
    )
    with scratch_database(cluster.admin_url, {}) as url:
        migrate(url, {"svc": folder})
        applied = folder / "0002_b.sql"
        if renumbered_to:
            applied.rename(folder / renumbered_to)
        else:
            applied.unlink()
        with pytest.raises(MigrationError, match=expected):
            migrate(url, {"svc": folder})
        assert _recorded(url) == ["svc/0001_a", "svc/0002_b"]


def test_a_new_migration_numbered_below_the_highest_applied_of_its_source_is_refused(
    cluster: ClusterEnv, tmp_path: Path
) -> None:
    kit = _folder(tmp_path / "kit", {"0001_k.sql": "CREATE TABLE k (id int);"})
    svc = _folder(
        tmp_path / "svc", {"0001_a.sql": "CREATE TABLE a ();", "0003_c.sql": "CREATE TABLE c ();"}
    )
    with scratch_database(cluster.admin_url, {}) as url:
        migrate(url, {"kit": kit, "svc": svc})
        (svc / "0002_b.sql").write_text("CREATE TABLE b ();")
        (kit / "0002_l.sql").write_text("CREATE TABLE l ();")  # below svc's 0003: its own order
        with pytest.raises(
            MigrationError, match=r"svc/0002_b is numbered below svc/0003_c, applied already"
        ):
            migrate(url, {"kit": kit, "svc": svc})
        assert not {"b", "l"} & _tables(url)
        (svc / "0002_b.sql").unlink()
        assert migrate(url, {"kit": kit, "svc": svc}) == ["kit/0002_l"]


@pytest.mark.timeout(30)
def test_a_runner_waits_for_the_lock_only_as_long_as_it_is_told(
    cluster: ClusterEnv, tmp_path: Path
) -> None:
    folder = _folder(tmp_path, {"0001_t.sql": "CREATE TABLE t (id int);"})
    with scratch_database(cluster.admin_url, {}) as url, psycopg.connect(url) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        started = time.monotonic()
        with pytest.raises(MigrationError, match=r"another migration run \(pid \d+\) holds"):
            migrate(url, {"svc": folder}, lock_timeout=1.0)
        assert 1.0 <= time.monotonic() - started < 5.0
        assert "t" not in _tables(url)
        holder.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
        assert migrate(url, {"svc": folder}, lock_timeout=1.0) == ["svc/0001_t"]


@pytest.mark.parametrize("name", ["1_short.sql", "0001-dash.sql", "0001_Upper.sql"])
def test_a_badly_named_file_is_refused(tmp_path: Path, name: str) -> None:
    folder = _folder(tmp_path, {name: "SELECT 1;"})
    with pytest.raises(MigrationError, match=r"NNNN_name\.sql"):
        load("svc", folder)


def test_two_files_with_one_version_are_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"0001_a.sql": "SELECT 1;", "0001_b.sql": "SELECT 1;"})
    with pytest.raises(MigrationError, match="share a version"):
        load("svc", folder)
