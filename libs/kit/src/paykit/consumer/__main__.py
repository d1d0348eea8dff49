"""See and lift the parks of a service's consumer groups.

    python -m paykit.consumer [--database-url URL] parks
    python -m paykit.consumer [--database-url URL] resume GROUP [--by NAME]

The URL is the service's own database (default: $DATABASE_URL). A parked consumer notices the
resume within seconds and starts again from the record that tripped its DLQ limit.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

import psycopg

from paykit.consumer import parking


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="paykit.consumer", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None, help="default: $DATABASE_URL")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("parks", help="every park, newest first")
    resume = sub.add_parser("resume", help="resume a parked consumer group")
    resume.add_argument("group")
    resume.add_argument("--by", default=None, help="who resumes it (default: the OS user)")
    args = parser.parse_args(argv)
    url = args.database_url or os.environ.get("DATABASE_URL")
    if not url:
        print("error: give --database-url or set DATABASE_URL", file=sys.stderr)
        return 2
    try:
        with psycopg.connect(url, connect_timeout=10, autocommit=True) as conn:
            if args.command == "resume":
                lifted = parking.resume(conn, args.group, args.by or getpass.getuser())
                if lifted is None:
                    print(f"error: consumer group {args.group} is not parked", file=sys.stderr)
                    return 1
                print(f"resumed {args.group} (parked since {lifted.parked_at:%Y-%m-%d %H:%M:%S%z})")
                return 0
            rows = parking.parks(conn)
    except psycopg.Error as error:
        print(f"error: {str(error).strip().splitlines()[0]}", file=sys.stderr)
        return 2
    for group, reason, parked_at, resumed_at, resumed_by in rows:
        state = (
            f"resumed {resumed_at:%Y-%m-%d %H:%M:%S} by {resumed_by}" if resumed_at else "PARKED"
        )
        print(f"{group}  {state}  since {parked_at:%Y-%m-%d %H:%M:%S}  {reason}")
    print(f"{sum(1 for row in rows if row[3] is None)} parked, {len(rows)} park(s) recorded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
