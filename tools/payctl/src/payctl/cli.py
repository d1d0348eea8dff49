"""payctl: the payment platform from a terminal, through the gateway's public API.

Merchants log in with an API key (payctl login); operators' commands (merchants, keys,
ledger, settlement runs, reconciliation, dead letters) use an admin token.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import click

from payctl import credentials
from payctl.commands.dlq import dlq
from payctl.commands.ledger import ledger
from payctl.commands.merchants import keys, merchants
from payctl.commands.payments import payments
from payctl.commands.settlements import reconcile, settlements
from payctl.commands.webhooks import webhooks
from payctl.errors import ConfigurationProblem, PayctlError
from payctl.options import json_option, session
from payctl.output import emit, table
from payctl.session import Session
from payctl.settings import load
from paykit.settings import ConfigError


@click.group(
    help=__doc__, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@json_option
@click.pass_context
def cli(ctx: click.Context) -> None:
    try:
        ctx.obj = Session(load())
    except ConfigError as error:
        raise ConfigurationProblem(str(error)) from None


@cli.command()
@click.option("--client-id", prompt=True, envvar="PAYCTL_CLIENT_ID", help="[$PAYCTL_CLIENT_ID]")
@click.option(
    "--client-secret",
    prompt=True,
    hide_input=True,
    envvar="PAYCTL_CLIENT_SECRET",
    help="Prompted for, unseen, when not given [$PAYCTL_CLIENT_SECRET].",
)
@json_option
def login(client_id: str, client_secret: str) -> None:
    """Exchange an API key for a token and keep it (0600) for the merchant commands."""
    s = session()
    body = {"client_id": client_id, "client_secret": client_secret}
    issued = s.anonymous_gateway().post("/v1/auth/token", body)
    try:
        token, lifetime = str(issued["access_token"]), int(issued["expires_in"])
    except (KeyError, TypeError, ValueError):
        raise PayctlError("the gateway's token answer has no access_token/expires_in") from None
    expires_at = (datetime.now(UTC) + timedelta(seconds=lifetime)).isoformat(timespec="seconds")
    kept = credentials.Login(
        s.settings.gateway_url, token, str(issued.get("token_type", "Bearer")), expires_at
    )
    credentials.save(s.settings.credentials_path, kept)
    shown = {
        "gateway_url": kept.gateway_url,
        "expires_at": expires_at,
        "credentials": str(s.settings.credentials_path),
    }
    emit(s.json, shown, f"logged in to {kept.gateway_url} until {expires_at}")


@cli.command()
@click.option("--as-of", help="Sum only the entries effective by then (ISO 8601 time).")
@json_option
def balances(as_of: str | None) -> None:
    """The merchant's escrow, payable and receivable per currency."""
    s = session()
    found = s.merchant_gateway().get("/v1/balances", {"as_of": as_of})
    rows = found.get("data", []) if isinstance(found, dict) else found
    emit(s.json, found, table(rows, ["currency", "escrow", "payable", "receivable"]))


for group in (merchants, keys, payments, ledger, settlements, reconcile, dlq, webhooks):
    cli.add_command(group)


def main(argv: list[str] | None = None) -> int:
    """Run payctl; the exit status is 0, 1 for a failure, 2 for a wrong command line."""
    try:
        cli.main(args=argv, prog_name="payctl")
    except SystemExit as leaving:
        return leaving.code if isinstance(leaving.code, int) else 1


if __name__ == "__main__":
    sys.exit(main())
