"""The baselines' scratch database on the cluster's PostgreSQL, and its single-row insert tables.

Its own database (``bench_baseline``), so nothing the baselines write lands beside a service's
rows. Each run starts its tables afresh, so every run inserts into an empty table of the same
shape; they are left in place afterwards, so a run's rows can be counted.
"""

from __future__ import annotations

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

BASELINE_DATABASE = "bench_baseline"
BARE_TABLE = "bare_inserts"
PGBENCH_TABLE = "pgbench_inserts"


def baseline_database(admin_url: str) -> str:
    """The URL of the scratch database, created when the cluster does not have it yet."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (BASELINE_DATABASE,)
        ).fetchone()
        if exists is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BASELINE_DATABASE)))
    return make_conninfo(admin_url, dbname=BASELINE_DATABASE)


def fresh_insert_table(database_url: str, table: str) -> None:
    """An empty table shaped like a small payment row: a uuid key, amount, currency, method."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} (id uuid PRIMARY KEY, amount bigint NOT NULL,"
                " currency text NOT NULL, payment_method text NOT NULL,"
                " created_at timestamptz NOT NULL DEFAULT now())"
            ).format(sql.Identifier(table))
        )


def count_rows(database_url: str, table: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
        counted = row.fetchone()
    return int(counted[0]) if counted else 0
