"""``ledger verify`` and ``ledger rebuild --into <empty database>``.

Both read ``LEDGER_DATABASE_URL`` (or ``--database-url``). Exit status: 0 when the ledger holds
(or the rebuild is identical), 1 when it does not, 2 for a wrong command line.

The rebuild migrates its target first, as the ``--into`` URL's role, unless every migration is
applied there already: a bare database is given by its owner's URL, one provisioned like the
service's own (migrated by ``ledger_owner``) may be given by the service's login role.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import psycopg

from ledger_service.service_layer.rebuild import RebuildError, rebuild
from ledger_service.service_layer.verification import verify
from paykit.migrations import KIT_MIGRATIONS, load, migrate

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


def migration_sources() -> dict[str, Path]:
    return {"kit": KIT_MIGRATIONS, "ledger": MIGRATIONS}


def _database_url(given: str | None) -> str:
    url = given or os.environ.get("LEDGER_DATABASE_URL")
    if not url:
        print("error: give --database-url or set LEDGER_DATABASE_URL", file=sys.stderr)
        raise SystemExit(2)
    return url


def run_verify(database_url: str) -> int:
    with psycopg.connect(database_url) as conn, conn.transaction():
        result = verify(conn)
    print(f"transactions sealed: {result.transactions}; head hash: {result.head_hash.hex()}")
    for problem in result.guard_breaks:
        print(f"guard: {problem}")
    if result.first_break:
        print(f"first break: {result.first_break}")
    for problem in result.balance_breaks:
        print(f"balance: {problem}")
    print("ledger verified" if result.ok else "ledger does NOT verify")
    return 0 if result.ok else 1


def _fully_migrated(url: str) -> bool:
    """Every migration on disk is recorded there, unchanged: nothing for an owner to do."""
    wanted = {
        (m.id, m.checksum)
        for source, folder in migration_sources().items()
        for m in load(source, folder)
    }
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
        if row is None or not row[0]:
            return False
        recorded = set(conn.execute("SELECT id, checksum FROM schema_migrations").fetchall())
    return wanted <= recorded


def run_rebuild(database_url: str, into: str) -> int:
    if not _fully_migrated(into):
        migrate(into, migration_sources())
    with (
        psycopg.connect(database_url, autocommit=True) as source,
        psycopg.connect(into, autocommit=True) as target,
    ):
        try:
            result = rebuild(source, target)
        except RebuildError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    for side, head in (("source", result.source_head), ("rebuilt", result.rebuilt_head)):
        shown = f"seal {head[0]} {head[1].hex()}" if head else "no seals"
        print(f"{side}: {shown}")
    for difference in result.differences:
        print(f"balance differs: {difference}")
    verdict = "identical" if result.identical else "DIFFERENT"
    print(f"replayed {result.replayed} events: {verdict}")
    return 0 if result.identical else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ledger", description=__doc__)
    parser.add_argument("--database-url", help="the ledger's database (LEDGER_DATABASE_URL)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("verify", help="recompute the seal chain and every balance")
    rebuild_parser = commands.add_parser("rebuild", help="replay the ledger into an empty database")
    rebuild_parser.add_argument("--into", required=True, help="URL of an empty database")
    args = parser.parse_args(argv)
    url = _database_url(args.database_url)
    if args.command == "verify":
        return run_verify(url)
    return run_rebuild(url, args.into)


if __name__ == "__main__":
    sys.exit(main())
