"""PostgreSQL's own ceiling for single-row inserts on this machine: pgbench, one INSERT a
transaction, 16 clients, no Python anywhere.

``pgbench`` comes from the same PostgreSQL binaries the local cluster runs
(``localcluster.system.postgres_bindir``). The connection goes through libpq's ``PG*``
variables, so the password never appears in a process list.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from localcluster.system import postgres_bindir

_LIBPQ_VARIABLES = {
    "host": "PGHOST",
    "port": "PGPORT",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "dbname": "PGDATABASE",
}


@dataclass(frozen=True)
class PgbenchResult:
    transactions: int
    failed: int
    tps: float
    latency_average_ms: float


def _figure(pattern: str, output: str) -> str:
    found = re.search(pattern, output, re.MULTILINE)
    if found is None:
        raise ValueError(f"pgbench printed no line matching {pattern!r}:\n{output}")
    return found.group(1)


def parse_pgbench(output: str) -> PgbenchResult:
    """The figures of a pgbench run from what it prints (PostgreSQL 15 and later). ``tps`` is
    pgbench's own, without the initial connection time; ``failed`` is 0 when it says nothing."""
    failed = re.search(r"^number of failed transactions: (\d+)", output, re.MULTILINE)
    return PgbenchResult(
        transactions=int(_figure(r"^number of transactions actually processed: (\d+)", output)),
        failed=int(failed.group(1)) if failed else 0,
        tps=float(_figure(r"^tps = ([\d.]+)", output)),
        latency_average_ms=float(_figure(r"^latency average = ([\d.]+) ms", output)),
    )


def insert_script(table: str) -> str:
    return (
        f"INSERT INTO {table} (id, amount, currency, payment_method)"
        " VALUES (gen_random_uuid(), 1500, 'EUR', 'pm_card_visa');\n"
    )


def run_pgbench(
    database_url: str, table: str, *, seconds: float, clients: int = 16, threads: int = 2
) -> PgbenchResult:
    """``pgbench -n -c clients -j threads -T seconds`` of single-row inserts into ``table``."""
    pgbench = postgres_bindir() / "pgbench"
    connection = {
        variable: str(value)
        for key, variable in _LIBPQ_VARIABLES.items()
        if (value := conninfo_to_dict(database_url).get(key)) is not None
    }
    duration = max(1, round(seconds))
    with tempfile.TemporaryDirectory(prefix="pgbench-") as scratch:
        script = Path(scratch) / "insert.sql"
        script.write_text(insert_script(table))
        options = ["-n", "-c", str(clients), "-j", str(threads), "-T", str(duration)]
        ran = subprocess.run(
            [str(pgbench), *options, "-f", str(script)],
            env={"PATH": "/usr/bin:/bin", **connection},
            capture_output=True,
            text=True,
            timeout=duration + 60,
            check=False,
        )
    if ran.returncode != 0:
        raise RuntimeError(f"pgbench failed ({ran.returncode}): {ran.stderr.strip()}")
    return parse_pgbench(ran.stdout)
