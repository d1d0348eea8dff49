"""``python -m localcluster.release``: migrations and topics on infrastructure run elsewhere.

docker compose's PostgreSQL init script, or CloudNativePG, creates each service's database and
roles; this step then needs no administrator. Each service's migrations run as the role that
owns its schema: its login role (``<NAME>_DATABASE_URL``), or for a service owned separately
(the ledger) ``<NAME>_OWNER_DATABASE_URL``, which afterwards grants the login role named in
``<NAME>_DATABASE_URL`` its runtime privileges. The same names as the local cluster's
cluster.env. ``--topics`` also creates the catalogue's topics at ``KAFKA_BOOTSTRAP_SERVERS``.

    python -m localcluster.release [--topics] [SERVICE ...]    # every service by default

Idempotent, and safe beside a second run: the migration runner holds an advisory lock.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from psycopg.conninfo import conninfo_to_dict

from localcluster.config import SERVICES
from localcluster.migrations import migrate_service, migration_sources, owned_separately
from localcluster.topics import ensure_topics
from paykit.settings import ConfigError, Env, load_settings


@dataclass(frozen=True)
class MigrationLogin:
    """Where a service's migrations run and which login role its processes use."""

    service: str
    url: str
    runtime_role: str


def migration_logins(
    services: Sequence[str], environ: Mapping[str, str] | None = None
) -> list[MigrationLogin]:
    """Every named service with migrations; every missing variable reported at once."""
    owned = owned_separately()

    def build(env: Env) -> list[MigrationLogin]:
        logins = []
        for service in services:
            if migration_sources(service) is None:
                continue
            runtime_url = env.secret(f"{service.upper()}_DATABASE_URL").reveal()
            owner_url = (
                env.secret(f"{service.upper()}_OWNER_DATABASE_URL").reveal()
                if service in owned
                else runtime_url
            )
            role = str(conninfo_to_dict(runtime_url).get("user") or service) if runtime_url else ""
            logins.append(MigrationLogin(service, owner_url, role))
        return logins

    return load_settings(build, environ)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localcluster.release", description=__doc__)
    parser.add_argument("services", nargs="*", metavar="SERVICE", help=", ".join(SERVICES))
    parser.add_argument("--topics", action="store_true", help="create the catalogue's topics")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.services) - set(SERVICES))
    if unknown:
        parser.error(f"no service {', '.join(unknown)}; choose from {', '.join(SERVICES)}")
    try:
        logins = migration_logins(args.services or SERVICES)
        servers = (
            load_settings(lambda env: env.str("KAFKA_BOOTSTRAP_SERVERS")) if args.topics else ""
        )
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for login in logins:
        applied = migrate_service(login.service, login.url, login.runtime_role)
        print(f"{login.service}: {applied} migration(s) applied", flush=True)
    if servers:
        report = ensure_topics(servers)
        print(f"topics: {len(report.created)} created, {len(report.unchanged)} unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
