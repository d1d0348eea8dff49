"""PostgreSQL on its own data folder and port, run as an unprivileged user.

One database and one login role per service; a role owns its database (so it can create tables)
and cannot connect to any other database.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from pathlib import Path

import psycopg
from psycopg import sql

from localcluster.config import HOST, SERVICES, ClusterConfig
from localcluster.errors import ClusterError
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
        if self.secrets_file.exists():
            stored: dict[str, str] = json.loads(self.secrets_file.read_text())
            return stored
        self.secrets_file.parent.mkdir(parents=True, exist_ok=True)
        self.secrets_file.parent.chmod(0o700)
        passwords = {role: secrets.token_urlsafe(24) for role in (ADMIN_ROLE, *SERVICES)}
        self.secrets_file.touch(mode=0o600)
        self.secrets_file.write_text(json.dumps(passwords, indent=2))
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

    def stop(self) -> bool:
        if not self.process.running():
            return self.process.stop()
        self._run(
            [
                str(postgres_bindir() / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-m",
                "fast",
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
        """Create each service's role and database (idempotent); return their URLs."""
        passwords = self._passwords()
        provision_databases(self.url(ADMIN_ROLE), {s: passwords[s] for s in SERVICES})
        return {service: self.url(service) for service in SERVICES}


def provision_databases(admin_url: str, passwords: dict[str, str]) -> None:
    """One login role and one database per service; only that role may connect to it.

    Idempotent: an existing role gets its password reset to the given one, an existing
    database is kept.
    """
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("REVOKE CONNECT ON DATABASE postgres FROM PUBLIC")
        for service, password in passwords.items():
            role = sql.Identifier(service)
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (service,))
            verb = sql.SQL("ALTER ROLE" if exists.fetchone() else "CREATE ROLE")
            conn.execute(
                sql.SQL("{} {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                    verb, role, sql.Literal(password)
                )
            )
            if not conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (service,)
            ).fetchone():
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(role, role))
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(role))
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(role, role))
