"""Runs each service's migrations (the kit's tables first, then its own) on ``up``.

A service has migrations when ``services/<name>/src/<name>_service/migrations/`` exists. A
service whose package also holds ``runtime_privileges.sql`` does not own its schema: its
migrations run as ``<name>_owner``, which then grants the service's login role what that file
says (see ``localcluster.postgres``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import psycopg
from psycopg import sql

from localcluster.config import PROJECT_ROOT, SERVICES
from paykit.migrations import KIT_MIGRATIONS, migrate

RUNTIME_PRIVILEGES = "runtime_privileges.sql"


def _package(service: str, root: Path) -> Path:
    return root / "services" / service / "src" / f"{service}_service"


def migration_sources(service: str, root: Path = PROJECT_ROOT) -> dict[str, Path] | None:
    folder = _package(service, root) / "migrations"
    if not folder.is_dir():
        return None
    return {"kit": KIT_MIGRATIONS, service: folder}


def runtime_privileges(service: str, root: Path = PROJECT_ROOT) -> Path | None:
    """The grants of a service that runs as a role other than its schema's owner, if it does."""
    path = _package(service, root) / RUNTIME_PRIVILEGES
    return path if path.is_file() else None


def owned_separately(root: Path = PROJECT_ROOT) -> tuple[str, ...]:
    """The services whose schema is owned by ``<name>_owner``, not by their login role."""
    return tuple(s for s in SERVICES if runtime_privileges(s, root) is not None)


def grant_runtime_privileges(owner_url: str, runtime_role: str, privileges: Path) -> None:
    """Run a service's privileges file as its schema's owner, for ``runtime_role``.

    Idempotent: every statement grants or revokes to the same end state.
    """
    statements = sql.SQL(privileges.read_text()).format(
        runtime=sql.Identifier(runtime_role), runtime_name=sql.Literal(runtime_role)
    )
    with psycopg.connect(owner_url) as conn:
        conn.execute(statements)


def migrate_service(service: str, url: str, runtime_role: str | None = None) -> int:
    """Apply a service's pending migrations as ``url``'s role; return how many.

    For a service owned separately, ``url`` is its owner's and ``runtime_role`` the login role
    its processes use, granted its privileges afterwards (also when nothing was pending, so a
    database provisioned before the split gets them).
    """
    sources = migration_sources(service)
    if sources is None:
        return 0
    applied = len(migrate(url, sources))
    privileges = runtime_privileges(service)
    if privileges is not None:
        grant_runtime_privileges(url, runtime_role or service, privileges)
    return applied


def migrate_services(migration_urls: Mapping[str, str]) -> dict[str, int]:
    """Apply pending migrations per service; return how many each applied now.

    ``migration_urls`` holds, per service, the URL migrations run as: its owner's for a
    service owned separately, its login role's otherwise.
    """
    return {
        service: migrate_service(service, migration_urls[service])
        for service in SERVICES
        if migration_sources(service) is not None
    }
