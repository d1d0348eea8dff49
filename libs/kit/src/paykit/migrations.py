"""A minimal SQL migration runner.

Why not alembic or yoyo: migrations here are plain SQL files with psycopg 3, no ORM, and the
rules fit in one page: files ``NNNN_name.sql`` applied in order, each in its own transaction,
recorded with a checksum so an edited migration is refused, and a PostgreSQL advisory lock so
two processes starting at once do not race.
Each service lists its sources: the kit's own tables (outbox, inbox) first, then its own.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

KIT_MIGRATIONS = Path(__file__).with_name("migrations_sql")
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x6D6967726174  # "migrat": one lock id shared by every runner


class MigrationError(Exception):
    """A migration folder or the database's record of it is inconsistent."""


@dataclass(frozen=True)
class Migration:
    source: str
    version: int
    name: str
    sql: str

    @property
    def id(self) -> str:
        return f"{self.source}/{self.version:04d}_{self.name}"

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load(source: str, folder: Path) -> list[Migration]:
    migrations = []
    for path in sorted(folder.glob("*.sql")):
        match = _FILE.match(path.name)
        if match is None:
            raise MigrationError(f"{path}: migration files are named NNNN_name.sql")
        migrations.append(Migration(source, int(match[1]), match[2], path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{folder}: two migrations share a version number")
    return migrations


def migrate(url: str, sources: dict[str, Path]) -> list[str]:
    """Apply every migration not yet applied; return the ids applied now."""
    pending = [m for source, folder in sources.items() for m in load(source, folder)]
    applied_now: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " id text PRIMARY KEY, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done: dict[str, str] = dict(
                conn.execute("SELECT id, checksum FROM schema_migrations").fetchall()
            )
            for migration in pending:
                recorded = done.get(migration.id)
                if recorded is not None:
                    if recorded != migration.checksum:
                        raise MigrationError(
                            f"{migration.id} changed after it was applied: add a new migration"
                        )
                    continue
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (id, checksum) VALUES (%s, %s)",
                        (migration.id, migration.checksum),
                    )
                applied_now.append(migration.id)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now
