"""``localcluster up|down|status|logs|topics|broker``: the cluster behind ``make up`` and
``make test``."""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

from psycopg.conninfo import make_conninfo

from localcluster.config import HOST, HTTP_OFFSETS, SERVICES, ClusterConfig, load_config
from localcluster.errors import ClusterError
from localcluster.kafka import KafkaCluster
from localcluster.migrations import migrate_services, owned_separately
from localcluster.postgres import ADMIN_ROLE, PostgresServer, owner_role, provision_databases
from localcluster.processes import ManagedProcess, tail
from localcluster.redis_server import RedisServer
from localcluster.secrets import (
    SIGNING_KEY_ID,
    ensure_auth_keys,
    ensure_endpoint_secrets_key,
    ensure_key_encryption_key,
    ensure_webhook_secret,
)
from localcluster.services import ServiceGroup, procfile_entries
from localcluster.topics import Replication, ensure_topics
from paykit.auth.audiences import ADMIN_AUDIENCE, OPERATOR_SCOPES, PAYMENTS_API_AUDIENCE
from paykit.auth.jwt import SigningKey


def write_env_file(
    config: ClusterConfig, postgres: PostgresServer, redis: RedisServer
) -> dict[str, str]:
    urls = postgres.provision()
    migration_urls = postgres.migration_urls()
    secrets_dir = config.state_dir / "secrets"
    signing_key, jwks = ensure_auth_keys(secrets_dir)
    http = {name: config.http_port(name) for name in HTTP_OFFSETS}
    lines = {
        "PAY_CLUSTER": config.name,
        "KAFKA_BOOTSTRAP_SERVERS": config.bootstrap_servers,
        "REDIS_URL": redis.url,
        "PAY_PG_ADMIN_URL": postgres.url(ADMIN_ROLE),
        **{f"{service.upper()}_DATABASE_URL": url for service, url in urls.items()},
        **{
            f"{service.upper()}_OWNER_DATABASE_URL": migration_urls[service]
            for service in owned_separately()
        },
        **{f"{name.upper()}_HTTP_PORT": str(port) for name, port in http.items()},
        "GATEWAY_URL": f"http://{HOST}:{http['gateway']}",
        "PAYMENT_URL": f"http://{HOST}:{http['payment']}",
        "WEBHOOK_URL": f"http://{HOST}:{http['webhook']}",
        "LEDGER_URL": f"http://{HOST}:{http['ledger']}",
        "SETTLEMENT_URL": f"http://{HOST}:{http['settlement']}",
        "PSP_URL": f"http://{HOST}:{http['psp']}",
        "PSP_WEBHOOK_URL": f"http://{HOST}:{http['webhook']}/webhooks/psp",
        "PSP_WEBHOOK_SECRETS": ensure_webhook_secret(secrets_dir),
        "AUTH_ISSUER": "payments-gateway",
        "AUTH_AUDIENCE": "payments-api",
        "AUTH_ADMIN_AUDIENCE": ADMIN_AUDIENCE,
        # The gateway's JWKS, trusted as soon as it answers; the file until then (make up
        # starts the gateway beside the services, not before them).
        "AUTH_JWKS_URL": f"http://{HOST}:{http['gateway']}/.well-known/jwks.json",
        "AUTH_JWKS_PATH": str(jwks),
        # The gateway's first signing key, imported into its database on its first start.
        "AUTH_SIGNING_KEY_PATH": str(signing_key),
        "AUTH_SIGNING_KEY_ID": SIGNING_KEY_ID,
        "GATEWAY_KEY_ENCRYPTION_KEY": ensure_key_encryption_key(secrets_dir),
        "WEBHOOK_ENDPOINT_SECRETS_KEY": ensure_endpoint_secrets_key(secrets_dir),
        "PAYKIT_HEALTH_DIR": str(config.run_dir / "health"),
    }
    config.env_file.touch(mode=0o600)
    config.env_file.write_text("".join(f"{key}={value}\n" for key, value in lines.items()))
    return urls


def up(config: ClusterConfig, with_services: bool) -> None:
    started = time.monotonic()
    kafka, postgres, redis = KafkaCluster(config), PostgresServer(config), RedisServer(config)
    for component in (kafka, postgres, redis):
        component.check_environment()
    config.state_dir.mkdir(parents=True, exist_ok=True)
    redis.start()
    postgres.start()
    kafka_seconds = kafka.start()
    write_env_file(config, postgres, redis)
    report = ensure_topics(config.bootstrap_servers, replication=replication(config))
    migrated = migrate_services(postgres.migration_urls())
    services = ServiceGroup(config).start() if with_services else []
    print(f"cluster {config.name!r} is up in {time.monotonic() - started:.1f}s")
    if kafka_seconds:
        print(f"  kafka ready {kafka_seconds:.1f}s after launch")
    for broker in kafka.brokers:
        print(f"  {broker.name:11} {broker.address} (controller {HOST}:{broker.controller_port})")
    print(f"  postgres    {HOST}:{config.postgres_port}")
    print(f"  redis       {HOST}:{config.redis_port}")
    print(f"  topics      {len(report.created)} created, {len(report.unchanged)} unchanged")
    print(f"  migrations  {sum(migrated.values())} applied for {len(migrated)} service(s)")
    print(f"  services    {', '.join(services) if services else 'none yet'}")
    http = ", ".join(f"{name} {config.http_port(name)}" for name in HTTP_OFFSETS)
    print(f"  http ports  {http}")
    print(f"  env file    {config.env_file}")
    print(f"  logs        {config.log_dir}")


def components(config: ClusterConfig) -> dict[str, ManagedProcess]:
    return {
        "services": ServiceGroup(config).process,
        **{name: ManagedProcess(f"svc-{name}", config.run_dir) for name in procfile_entries()},
        **{broker.name: broker.process for broker in KafkaCluster(config).brokers},
        "postgres": PostgresServer(config).process,
        "redis": RedisServer(config).process,
    }


def down(config: ClusterConfig) -> None:
    if not config.state_dir.exists():
        print(f"cluster {config.name!r} has never run here")
        return
    ServiceGroup(config).stop()
    for leftover in sorted(config.run_dir.glob("svc-*.pid")):  # if the supervisor was killed
        ManagedProcess(leftover.stem, config.run_dir).stop(timeout=10)
    stopped = [
        name
        for name, ok in (
            ("kafka", KafkaCluster(config).stop()),
            ("postgres", PostgresServer(config).stop()),
            ("redis", RedisServer(config).stop()),
        )
        if ok
    ]
    print(f"cluster {config.name!r} stopped: {', '.join(stopped) or 'nothing was running'}")


def replication(config: ClusterConfig) -> Replication:
    return Replication.for_brokers(config.kafka_brokers)


def broker(config: ClusterConfig, action: str, node_id: int) -> None:
    """Start, stop (SIGTERM) or kill (SIGKILL) one Kafka node, for tests and fault journeys."""
    node = KafkaCluster(config).broker(node_id)
    if action == "start":
        seconds = node.start()
        print(f"{node.name} ready in {seconds:.1f}s" if seconds else f"{node.name} was running")
    elif action == "stop":
        print(f"{node.name} {'stopped' if node.stop() else 'was not running'}")
    else:
        node.kill()
        print(f"{node.name} killed")


def status(config: ClusterConfig) -> int:
    ports = config.ports()
    running = 0
    for name, process in components(config).items():
        pid = process.pid()
        running += pid is not None
        where = f"{HOST}:{ports[name]}" if name in ports else ""
        state = f"running (pid {pid})" if pid else "stopped"
        print(f"{name:24} {state:24} {where}")
    return 0 if running else 3


def logs(config: ClusterConfig, lines: int, follow: bool) -> None:
    files = sorted(config.log_dir.glob("*.log")) if config.log_dir.exists() else []
    if not files:
        print(f"no logs for cluster {config.name!r} in {config.log_dir}")
        return
    if follow:
        os.execvp("tail", ["tail", "-n", str(lines), "-F", *map(str, files)])  # noqa: S606
    for path in files:
        print(f"==> {path} <==")
        print(tail(Path(path), lines))


def _migration_logins(
    passwords: dict[str, str], owner_passwords: dict[str, str]
) -> dict[str, tuple[str, str]]:
    """Per service, the role its migrations run as (its owner, if it has one) and its password."""
    return {
        s: (owner_role(s), owner_passwords[s]) if s in owner_passwords else (s, password)
        for s, password in passwords.items()
    }


def bootstrap() -> None:
    """Databases, roles and topics on infrastructure run elsewhere (docker compose, staging)."""
    owned = owned_separately()
    missing = [
        name
        for name in (
            "PAY_PG_ADMIN_URL",
            "KAFKA_BOOTSTRAP_SERVERS",
            *(f"{s.upper()}_DB_PASSWORD" for s in SERVICES),
            *(f"{s.upper()}_OWNER_DB_PASSWORD" for s in owned),
        )
        if not os.environ.get(name)
    ]
    if missing:
        raise ClusterError(f"bootstrap needs {', '.join(missing)}")
    admin_url = os.environ["PAY_PG_ADMIN_URL"]
    passwords = {s: os.environ[f"{s.upper()}_DB_PASSWORD"] for s in SERVICES}
    owner_passwords = {s: os.environ[f"{s.upper()}_OWNER_DB_PASSWORD"] for s in owned}
    provision_databases(admin_url, passwords, owner_passwords)
    migrated = migrate_services(
        {
            s: make_conninfo(admin_url, user=role, password=password, dbname=s)
            for s, (role, password) in _migration_logins(passwords, owner_passwords).items()
        }
    )
    report = ensure_topics(os.environ["KAFKA_BOOTSTRAP_SERVERS"])
    if os.environ.get("PAY_SECRETS_DIR"):
        ensure_auth_keys(Path(os.environ["PAY_SECRETS_DIR"]))
    print(
        f"databases: {len(SERVICES)} ready; migrations: {sum(migrated.values())} applied; "
        f"topics: {len(report.created)} created, {len(report.unchanged)} unchanged"
    )


def token(
    config: ClusterConfig,
    subject: str | None,
    scopes: list[str] | None,
    minutes: int,
    *,
    admin: bool = False,
) -> None:
    """A token signed with the cluster's development key, until the gateway issues them.

    A merchant's token is for the payment API; ``admin`` gives an operator's token for the
    internal admin APIs instead, with their own audience, which the payment API refuses.
    """
    pem = config.state_dir / "secrets" / "jwt-signing.pem"
    if not pem.exists():
        raise ClusterError(f"cluster {config.name!r} has no signing key yet: run make up first")
    key = SigningKey(pem.read_bytes(), SIGNING_KEY_ID)
    audience, default_subject, default_scopes = (
        (ADMIN_AUDIENCE, "ops_local", OPERATOR_SCOPES)
        if admin
        else (PAYMENTS_API_AUDIENCE, "MER_local", ("payments:read", "payments:write"))
    )
    print(
        key.issue(
            issuer="payments-gateway",
            audience=audience,
            subject=subject or default_subject,
            ttl=timedelta(minutes=minutes),
            scopes=tuple(scopes or default_scopes),
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localcluster", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up_cmd = sub.add_parser("up", help="start infrastructure, topics and services")
    up_cmd.add_argument("--no-services", action="store_true", help="infrastructure only")
    sub.add_parser("down", help="stop everything this cluster started")
    sub.add_parser("status", help="what runs, with pids and ports")
    logs_cmd = sub.add_parser("logs", help="the last lines of every log")
    logs_cmd.add_argument("-n", type=int, default=40)
    logs_cmd.add_argument("-f", "--follow", action="store_true")
    sub.add_parser("topics", help="create the catalogue's topics (idempotent)")
    broker_cmd = sub.add_parser("broker", help="start, stop or SIGKILL one Kafka broker")
    broker_cmd.add_argument("action", choices=("start", "stop", "kill"))
    broker_cmd.add_argument("node_id", type=int, help="1 to PAY_KAFKA_BROKERS")
    sub.add_parser("bootstrap", help="databases, roles and topics on external infrastructure")
    token_cmd = sub.add_parser(
        "token", help="a development JWT: a merchant's for the payment API, or --admin"
    )
    token_cmd.add_argument(
        "--merchant", "--subject", dest="subject", help="MER_local, or ops_local with --admin"
    )
    token_cmd.add_argument("--scope", action="append", default=None)
    token_cmd.add_argument(
        "--admin", action="store_true", help="an operator's token for the admin APIs"
    )
    token_cmd.add_argument("--minutes", type=int, default=60)
    args = parser.parse_args(argv)
    try:
        if args.command == "bootstrap":
            bootstrap()
            return 0
        config = load_config()
        if args.command == "up":
            up(config, with_services=not args.no_services)
        elif args.command == "down":
            down(config)
        elif args.command == "status":
            return status(config)
        elif args.command == "logs":
            logs(config, args.n, args.follow)
        elif args.command == "token":
            token(config, args.subject, args.scope, args.minutes, admin=args.admin)
        elif args.command == "broker":
            broker(config, args.action, args.node_id)
        elif args.command == "topics":
            report = ensure_topics(config.bootstrap_servers, replication=replication(config))
            print(
                f"topics: {len(report.created)} created, {len(report.grown)} grown, "
                f"{len(report.unchanged)} unchanged"
            )
    except ClusterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # one line for a person; PAY_DEBUG=1 shows the trace
        if os.environ.get("PAY_DEBUG"):
            raise
        print(
            f"error: {type(error).__name__}: {error} (PAY_DEBUG=1 shows details)", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
