"""``gateway``: operator commands that need no token, run where the gateway's settings are.

    gateway merchants create --name NAME [--json]   a merchant and its first key (bootstrapping)
    gateway keys list                               the signing keys and which one signs
    gateway keys rotate                             a new signing key, signing within seconds
    gateway keys import --pem FILE --kid KID        a first key generated elsewhere
    gateway admin-token [--minutes N]               an operator's token, signed by the gateway

Settings come from the environment as for the web process (``GATEWAY_DATABASE_URL``,
``GATEWAY_KEY_ENCRYPTION_KEY``, ...). Errors are one ``error:`` line; exit 2 for a wrong
command line or configuration, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from psycopg_pool import ConnectionPool

from gateway_service import settings as settings_module
from gateway_service.adapters.key_encryption import UndecryptableKey
from gateway_service.adapters.merchants_repository import MerchantsRepository
from gateway_service.bootstrap import signing_keys_of
from gateway_service.domain.errors import GatewayError
from gateway_service.entrypoints.core_views import issued_secret_view, signing_key_view
from gateway_service.service_layer.merchants import create_merchant
from paykit.auth.audiences import OPERATOR_SCOPES
from paykit.db import create_pool
from paykit.settings import ConfigError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    merchants = commands.add_parser("merchants", help="merchants and their API keys")
    merchant_commands = merchants.add_subparsers(dest="action", required=True)
    create = merchant_commands.add_parser("create", help="a merchant and its first API key")
    create.add_argument("--name", required=True)
    create.add_argument("--json", action="store_true", help="one JSON object")
    keys = commands.add_parser("keys", help="the gateway's token signing keys")
    key_commands = keys.add_subparsers(dest="action", required=True)
    key_commands.add_parser("list", help="every signing key and its status")
    key_commands.add_parser("rotate", help="a new key signs; the old stays published")
    imported = key_commands.add_parser("import", help="a first key from a PEM file")
    imported.add_argument("--pem", type=Path, required=True)
    imported.add_argument("--kid", required=True)
    token = commands.add_parser("admin-token", help="an operator's token for the admin APIs")
    token.add_argument("--subject", default="ops_cli")
    token.add_argument("--minutes", type=int, default=60)
    return parser


def _run(args: argparse.Namespace, config: settings_module.GatewaySettings) -> int:
    pool: ConnectionPool = create_pool(config.database_url.reveal(), max_size=2, name="gateway-cli")
    try:
        signing_keys = signing_keys_of(config, pool)
        if args.command == "merchants":
            with pool.connection() as conn, conn.transaction():
                issued = create_merchant(MerchantsRepository(conn), args.name)
            shown = issued_secret_view(issued, name=args.name)
            if args.json:
                print(json.dumps(shown))
            else:
                for name in ("merchant_id", "key_id", "client_id", "client_secret"):
                    print(f"{name:14} {shown[name]}")
                print("The client_secret is shown only now; the gateway keeps only its hash.")
        elif args.command == "admin-token":
            print(
                signing_keys.current().issue(
                    issuer=config.auth_issuer,
                    audience=config.auth_admin_audience,
                    subject=args.subject,
                    ttl=timedelta(minutes=args.minutes),
                    scopes=OPERATOR_SCOPES,
                )
            )
        elif args.action == "rotate":
            rotation = signing_keys.rotate()
            print(
                f"{rotation.kid} is published and signs from {rotation.signs_from:%H:%M:%S}Z;"
                f" {rotation.retired_kid or 'no key'} stays published until its tokens expired"
            )
        elif args.action == "import":
            if not signing_keys.import_if_none(args.pem.read_bytes(), args.kid):
                print("error: the gateway holds signing keys already", file=sys.stderr)
                return 1
            print(f"imported {args.kid}")
        else:
            now = datetime.now(UTC)
            for key in signing_keys.all():
                view = signing_key_view(key, now)
                print(
                    f"{view['kid']:32} {view['status']:10} until {view['published_until'] or '-'}"
                )
    finally:
        pool.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = settings_module.load()
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        return _run(args, config)
    except (GatewayError, UndecryptableKey, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
