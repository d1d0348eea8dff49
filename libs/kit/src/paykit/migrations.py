"""A minimal SQL migration runner.

Why not alembic or yoyo: migrations here are plain SQL files with psycopg 3, no ORM, and the
rules fit in one page: files ``NNNN_name.sql`` applied in order, each in its own transaction,
recorded with a checksum so an edited migration is refused, and a PostgreSQL advisory lock so
two processes starting at once do not race.
Each service lists its sources: the kit's own tables (outbox, inbox) first, then its own.

A migration is its source and version; the name is a label. A file renamed with its content
unchanged is the same migration (its record takes the new name); anything else that would make
the database's history differ from the folder's is refused before anything runs: an applied
migration edited or gone, or a new one numbered below one already applied.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

KIT_MIGRATIONS = Path(__file__).with_name("migrations_sql")
LOCK_KEY = 0x6D6967726174  # "migrat": one lock id shared by every runner
DEFAULT_LOCK_TIMEOUT = 60.0
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_RECORD = re.compile(r"^(.+)/(\d{4})_[a-z0-9_]+$")


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


@dataclass(frozen=True)
class Applied:
    """A row of ``schema_migrations``: the id it was applied as, and the checksum then."""

    id: str
    source: str
    version: int
    checksum: str


Key = tuple[str, int]  # (source, version): what identifies a migration


@dataclass(frozen=True)
class Plan:
    pending: list[Migration]
    renamed: dict[str, str]  # recorded id -> the file's id now


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


def _applied_by_version(rows: list[tuple[str, str]], sources: set[str]) -> dict[Key, Applied]:
    """The recorded migrations of ``sources``; other sources' rows are not this run's to judge."""
    applied: dict[Key, Applied] = {}
    for recorded_id, checksum in rows:
        match = _RECORD.match(recorded_id)
        if match is None:
            raise MigrationError(f"schema_migrations holds {recorded_id!r}, not SOURCE/NNNN_name")
        record = Applied(recorded_id, match[1], int(match[2]), checksum)
        if record.source in sources:
            applied[(record.source, record.version)] = record
    return applied


def plan(on_disk: list[Migration], applied: dict[Key, Applied]) -> Plan:
    """What to apply and which records to rename, or why the folders and the database disagree."""
    files = {(m.source, m.version): m for m in on_disk}
    new = [m for key, m in files.items() if key not in applied]
    _refuse_gone(applied, files, new)
    _refuse_edited(applied, files)
    _refuse_out_of_order(applied, new)
    renamed = {r.id: files[key].id for key, r in applied.items() if r.id != files[key].id}
    return Plan(new, renamed)


def _refuse_gone(
    applied: dict[Key, Applied], files: dict[Key, Migration], new: list[Migration]
) -> None:
    gone = [record for key, record in applied.items() if key not in files]
    if not gone:
        return
    renumbered = {m.checksum: m.id for m in new}
    problems = [
        f"{r.id} was applied but its file is gone"
        + (f" (renumbered as {renumbered[r.checksum]}?)" if r.checksum in renumbered else "")
        for r in gone
    ]
    raise MigrationError(f"{'; '.join(problems)}: an applied migration stays, with its number")


def _refuse_edited(applied: dict[Key, Applied], files: dict[Key, Migration]) -> None:
    edited = [
        m.id if applied[key].id == m.id else f"{m.id} (applied as {applied[key].id})"
        for key, m in files.items()
        if key in applied and applied[key].checksum != m.checksum
    ]
    if edited:
        raise MigrationError(f"{', '.join(edited)} changed after it was applied: add a new one")


def _refuse_out_of_order(applied: dict[Key, Applied], new: list[Migration]) -> None:
    """A file numbered below an applied one would run after it here, before it elsewhere."""
    highest = {r.source: r for r in sorted(applied.values(), key=lambda r: r.version)}
    early = [
        f"{m.id} is numbered below {highest[m.source].id}, applied already"
        for m in new
        if m.source in highest and m.version < highest[m.source].version
    ]
    if early:
        raise MigrationError(f"{'; '.join(early)}: number new migrations above it")


def _lock(conn: psycopg.Connection[tuple[object, ...]], timeout: float) -> None:
    """Take the migration lock, waiting at most ``timeout`` seconds for whoever holds it."""
    conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{int(timeout * 1000)}ms",))
    try:
        conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
    except psycopg.errors.LockNotAvailable:
        holder = conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND classid = %s AND objid = %s AND objsubid = 1",
            (LOCK_KEY >> 32, LOCK_KEY & 0xFFFFFFFF),
        ).fetchone()
        pid = holder[0] if holder else "gone"
        raise MigrationError(
            f"database {conn.info.dbname}: another migration run (pid {pid}) holds the"
            f" migration lock; gave up after {timeout:g} s"
        ) from None
    finally:
        conn.execute("RESET lock_timeout")


def migrate(
    url: str, sources: dict[str, Path], *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT
) -> list[str]:
    """Apply every migration not yet applied; return the ids applied now.

    Nothing runs unless the folders agree with what the database recorded (see ``plan``).
    ``lock_timeout`` bounds the wait for another runner, which a stuck process could make
    endless.
    """
    if lock_timeout <= 0:
        raise ValueError("lock_timeout must be positive")
    on_disk = [m for source, folder in sources.items() for m in load(source, folder)]
    applied_now: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        _lock(conn, lock_timeout)
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " id text PRIMARY KEY, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            rows = conn.execute("SELECT id, checksum FROM schema_migrations").fetchall()
            try:
                steps = plan(on_disk, _applied_by_version(rows, set(sources)))
            except MigrationError as error:
                raise MigrationError(f"database {conn.info.dbname}: {error}") from None
            with conn.transaction():
                for old, new in steps.renamed.items():
                    conn.execute("UPDATE schema_migrations SET id = %s WHERE id = %s", (new, old))
            for migration in steps.pending:
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (id, checksum) VALUES (%s, %s)",
                        (migration.id, migration.checksum),
                    )
                applied_now.append(migration.id)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    return applied_now
