"""Quarantined outbox rows, for the operator who fixed what Kafka refused.

    python -m paykit.outbox list-quarantined
    python -m paykit.outbox requeue 42 43     # these rows, then the rows they held, in order
    python -m paykit.outbox requeue --all

The database comes from ``--database-url`` or ``$DATABASE_URL``. Every error is one line on
stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import os
import sys

import psycopg

from paykit.db import Connection
from paykit.outbox import store

EXIT_USAGE = 2
EXIT_FAILED = 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    url = args.database_url or os.environ.get("DATABASE_URL")
    if not url:
        return _fail("give --database-url or set DATABASE_URL", EXIT_USAGE)
    if args.command == "requeue" and bool(args.ids) == args.all:
        return _fail("requeue takes row ids or --all, not both or neither", EXIT_USAGE)
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            if args.command == "list-quarantined":
                return _list(conn)
            return _requeue(conn, None if args.all else args.ids)
    except psycopg.Error as error:
        return _fail(f"database: {str(error).strip().splitlines()[0]}", EXIT_FAILED)


def _list(conn: Connection) -> int:
    rows = store.quarantined(conn)
    for row in rows:
        print(
            f"{row.id}  {row.quarantined_at:%Y-%m-%dT%H:%M:%SZ}  {row.topic}"
            f"  key={row.key.decode(errors='replace')}  holds={row.held}  {row.error}"
        )
    print(f"{len(rows)} quarantined row(s)")
    return 0


def _requeue(conn: Connection, ids: list[int] | None) -> int:
    released = store.requeue(conn, ids)
    missing = sorted(set(ids or ()) - set(released))
    if released:
        print(f"requeued {len(released)} row(s): {' '.join(map(str, released))}")
    if missing:
        return _fail(f"not quarantined: {' '.join(map(str, missing))}", EXIT_FAILED)
    if not released:
        print("no quarantined rows")
    return 0


def _fail(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="paykit.outbox", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None, help="default: $DATABASE_URL")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list-quarantined", help="rows set aside, with their error")
    requeue = sub.add_parser("requeue", help="publish quarantined rows again")
    requeue.add_argument("ids", nargs="*", type=int, metavar="ID")
    requeue.add_argument("--all", action="store_true", help="every quarantined row")
    return parser


if __name__ == "__main__":
    sys.exit(main())
