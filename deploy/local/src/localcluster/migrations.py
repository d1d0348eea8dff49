"""Runs each service's migrations (the kit's tables first, then its own) on ``up``.

A service has migrations when ``services/<name>/src/<name>_service/migrations/`` exists.
"""

from __future__ import annotations

from pathlib import Path

from localcluster.config import PROJECT_ROOT, SERVICES
from paykit.migrations import KIT_MIGRATIONS, migrate


def migration_sources(service: str, root: Path = PROJECT_ROOT) -> dict[str, Path] | None:
    folder = root / "services" / service / "src" / f"{service}_service" / "migrations"
    if not folder.is_dir():
        return None
    return {"kit": KIT_MIGRATIONS, service: folder}


def migrate_services(database_urls: dict[str, str]) -> dict[str, int]:
    """Apply pending migrations per service; return how many each applied now."""
    applied: dict[str, int] = {}
    for service in SERVICES:
        sources = migration_sources(service)
        if sources is not None:
            applied[service] = len(migrate(database_urls[service], sources))
    return applied
