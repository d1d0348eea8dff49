"""Operators' checks of the ledger.

``trial-balance`` asks the ledger's admin API. ``verify`` recomputes every seal of the hash
chain and every balance from the journal's rows, which no HTTP API offers (it reads the whole
journal in one transaction), so payctl runs the ledger's own ``ledger verify`` command against
the ledger's database: on a deployed platform, run it where that database is reachable with a
read-only role (``PAYCTL_LEDGER_DATABASE_URL``).
"""

from __future__ import annotations

import os
import shutil
import subprocess

import click

from payctl.errors import PayctlError, UsageProblem
from payctl.options import json_option, session
from payctl.output import emit, table

VERDICTS = {"ledger verified", "ledger does NOT verify"}  # its last line, either way
TRIAL_COLUMNS = ["currency", "account", "type", "debits", "credits", "balance", "matches_entries"]


@click.group()
def ledger() -> None:
    """The ledger's trial balance and its verification (operators)."""


@ledger.command("trial-balance")
@json_option
def trial_balance() -> None:
    """Per currency: debits against credits, and each account against its entries."""
    s = session()
    found = s.ledger_admin().get("/admin/trial-balance")
    rows = [
        {"currency": summary["currency"], **account}
        for summary in found.get("data", [])
        for account in summary.get("accounts", [])
    ]
    totals = [
        f"{c['currency']}: debits {c['debits']} credits {c['credits']} "
        f"{'balanced' if c['balanced'] else 'NOT BALANCED'}"
        for c in found.get("data", [])
    ]
    emit(s.json, found, "\n".join([table(rows, TRIAL_COLUMNS), *totals]))
    if not found.get("balanced", False):
        click.get_current_context().exit(1)


@ledger.command("verify")
@json_option
def verify() -> None:
    """Recompute the seal chain and every balance (runs `ledger verify`; exit 1 if it breaks)."""
    s = session()
    database_url = s.settings.ledger_database_url
    if database_url is None:
        raise UsageProblem(
            "ledger verify reads the ledger's database: set PAYCTL_LEDGER_DATABASE_URL"
            " (or LEDGER_DATABASE_URL)"
        )
    command = shutil.which("ledger")
    if command is None:
        raise PayctlError("the ledger's `ledger` command is not installed here")
    env = {**os.environ, "LEDGER_DATABASE_URL": database_url.reveal()}
    ran = subprocess.run([command, "verify"], env=env, capture_output=True, text=True, check=False)
    report = ran.stdout.strip().splitlines()
    if ran.returncode not in (0, 1) or not report or report[-1] not in VERDICTS:
        reason = (ran.stderr.strip().splitlines() or [f"exit {ran.returncode}"])[-1]
        raise PayctlError(f"ledger verify could not run: {reason}")
    emit(s.json, {"verified": ran.returncode == 0, "report": report}, "\n".join(report))
    if ran.returncode:
        click.get_current_context().exit(1)
