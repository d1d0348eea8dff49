"""PostgreSQL on its own data folder and port, run as an unprivileged user.

One database and one login role per service, which cannot connect to any other database. A
service's login role owns its database (so it can create tables), unless the service is owned
separately (``localcluster.migrations.owned_separately``, the ledger): then ``<name>_owner``
owns the database and its schema and runs the migrations, and the login role the processes use
gets only the privileges the service's ``runtime_privileges.sql`` grants.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Mapping
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from localcluster.config import HOST, SERVICES, ClusterConfig
from localcluster.errors import ClusterError
from localcluster.migrations import owned_separately
from localcluster.processes import ManagedProcess, require_free_port, tail
from localcluster.system import give_to, postgres_bindir, unprivileged_user

ADMIN_ROLE = "cluster_admin"


class PostgresServer:
    def __init__(self, config: ClusterConfig) -> None:
        self.config = config
        self.home = config.state_dir / "postgres"
        self.data_dir = self.home / "data"
        self.socket_dir = self.home / "run"
        self.log_file = config.log_dir / "postgres.log"
        self.secrets_file = config.state_dir / "secrets" / "postgres.json"
        self.process = ManagedProcess("postgres", config.run_dir)

    def _passwords(self) -> dict[str, str]:
        """Every role's password, made once and kept; a role new since then gets one added."""
        roles = (ADMIN_ROLE, *SERVICES, *(owner_role(s) for s in owned_separately()))
        stored: dict[str, str] = {}
        if self.secrets_file.exists():
            stored = json.loads(self.secrets_file.read_text())
            if all(role in stored for role in roles):
                return stored
        self.secrets_file.parent.mkdir(parents=True, exist_ok=True)
        self.secrets_file.parent.chmod(0o700)
        passwords = {role: stored.get(role) or secrets.token_urlsafe(24) for role in roles}
        self.secrets_file.touch(mode=0o600)
        self.secrets_file.write_text(json.dumps({**stored, **passwords}, indent=2))
        return passwords

    def _run(self, argv: list[str], user: str | None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(argv, capture_output=True, text=True, check=False, user=user)

    def check_environment(self) -> None:
        postgres_bindir()
        if not self.process.running():
            require_free_port(self.config.postgres_port, "postgres")

    def _initdb(self, bindir: Path, user: str | None) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.home.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        pwfile = self.home / "initdb.pw"
        pwfile.touch(mode=0o600)
        pwfile.write_text(self._passwords()[ADMIN_ROLE] + "\n")
        give_to(self.home, user)
        try:
            result = self._run(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    ADMIN_ROLE,
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--no-locale",
                ],
                user,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            last = result.stderr.strip().splitlines()[-1:] or ["no output"]
            raise ClusterError(f"initdb failed: {last[0]}")

    def start(self) -> None:
        if self.process.running():
            return
        bindir = postgres_bindir()
        user = unprivileged_user()
        self._initdb(bindir, user)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.touch()
        give_to(self.home, user)
        give_to(self.log_file, user)
        options = (
            f"-c port={self.config.postgres_port} -c listen_addresses={HOST} "
            f"-c unix_socket_directories={self.socket_dir} -c max_connections=200"
        )
        result = self._run(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ],
            user,
        )
        if result.returncode != 0:
            raise ClusterError(
                f"PostgreSQL did not start: {tail(self.log_file, 1) or result.stderr.strip()}"
            )
        pid = int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
        self.process.record(pid)

    def stop(self, mode: str = "fast") -> bool:
        """``pg_ctl stop -m <mode>``: ``fast`` for ``down``; ``immediate`` is a crash (every
        process quits without a checkpoint, the next start recovers from the WAL), for chaos."""
        if not self.process.running():
            return self.process.stop()
        self._run(
            [
                str(postgres_bindir() / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-m",
                mode,
                "-w",
                "-t",
                "30",
                "stop",
            ],
            unprivileged_user(),
        )
        self.process.stop(timeout=10)  # forgets the pid; kills what pg_ctl could not stop
        return True

    def url(self, role: str, database: str | None = None) -> str:
        password = self._passwords()[role]
        db = database or (role if role != ADMIN_ROLE else "postgres")
        return f"postgresql://{role}:{password}@{HOST}:{self.config.postgres_port}/{db}"

    def provision(self) -> dict[str, str]:
        """Create each service's roles and database (idempotent); return the login roles' URLs."""
        passwords = self._passwords()
        provision_databases(
            self.url(ADMIN_ROLE),
            {s: passwords[s] for s in SERVICES},
            {s: passwords[owner_role(s)] for s in owned_separately()},
        )
        return {service: self.url(service) for service in SERVICES}

    def migration_urls(self) -> dict[str, str]:
        """Per service, the URL its migrations run as: its owner's, or its login role's."""
        owned = owned_separately()
        return {s: self.url(owner_role(s), s) if s in owned else self.url(s) for s in SERVICES}


def owner_role(service: str) -> str:
    return f"{service}_owner"


def provision_databases(
    admin_url: str, passwords: Mapping[str, str], owner_passwords: Mapping[str, str] | None = None
) -> None:
    """One login role and one database per service; only its roles may connect to it.

    A service in ``owner_passwords`` gets an owner role as well, which owns its database and
    schema. Idempotent: an existing role gets its password reset to the given one, an existing
    database is kept, and one its login role owned until now (tables included) passes to the
    owner.
    """
    owners = owner_passwords or {}
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("REVOKE CONNECT ON DATABASE postgres FROM PUBLIC")
        for service, password in passwords.items():
            _ensure_login_role(conn, service, password)
            owner = service
            if service in owners:
                owner = owner_role(service)
                _ensure_login_role(conn, owner, owners[service])
            database = sql.Identifier(service)
            if not conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (service,)
            ).fetchone():
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(database, sql.Identifier(owner))
                )
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(database))
            conn.execute(
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                    database, sql.SQL(", ").join(map(sql.Identifier, {service, owner}))
                )
            )
            if owner != service:
                _hand_database_to_owner(admin_url, service, login_role=service, owner=owner)


def _ensure_login_role(
    conn: psycopg.Connection[tuple[object, ...]], role: str, password: str
) -> None:
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    conn.execute(
        sql.SQL("{} {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
            sql.SQL("ALTER ROLE" if exists else "CREATE ROLE"),
            sql.Identifier(role),
            sql.Literal(password),
        )
    )


def _hand_database_to_owner(admin_url: str, database: str, *, login_role: str, owner: str) -> None:
    """The owner owns the database, its schema and whatever the login role created in it.

    The login role owned them before the split; REASSIGN moves its tables, sequences and
    functions (a no-op once done), so it keeps no DDL on them.
    """
    with psycopg.connect(make_conninfo(admin_url, dbname=database), autocommit=True) as conn:
        owner_id = sql.Identifier(owner)
        conn.execute(
            sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(database), owner_id)
        )
        conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(owner_id))
        conn.execute(
            sql.SQL("REASSIGN OWNED BY {} TO {}").format(sql.Identifier(login_role), owner_id)
        )
