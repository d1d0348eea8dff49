"""``ledger verify`` run for an operator: the ledger's own command on the ledger's database.

No HTTP API recomputes the seal chain and every balance (it reads the whole journal in one
transaction, which an operator's token should not be able to start at will), so, as
``payctl ledger verify`` does, the dashboard runs the ledger's command where it is installed,
with ``DASHBOARD_LEDGER_DATABASE_URL`` (a read-only role). Without that setting the page says
how to run it from a terminal instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import Final

from paykit.settings import Secret

VERDICTS: Final = {"ledger verified": True, "ledger does NOT verify": False}
TIMEOUT_SECONDS: Final = 300


class VerifyUnavailable(Exception):
    """The check could not run (not installed, not configured, or it crashed)."""


@dataclass(frozen=True)
class VerifyReport:
    verified: bool
    lines: list[str]


def run_ledger_verify(database_url: Secret | None) -> VerifyReport:
    if database_url is None:
        raise VerifyUnavailable(
            "this dashboard is not given the ledger's database (DASHBOARD_LEDGER_DATABASE_URL);"
            " run `payctl ledger verify` where the database is reachable"
        )
    command = shutil.which("ledger")
    if command is None:
        raise VerifyUnavailable("the ledger's `ledger` command is not installed here")
    env = {**os.environ, "LEDGER_DATABASE_URL": database_url.reveal()}
    try:
        ran = subprocess.run(
            [command, "verify"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        raise VerifyUnavailable(f"ledger verify ran over {TIMEOUT_SECONDS} s") from None
    lines = ran.stdout.strip().splitlines()
    verdict = VERDICTS.get(lines[-1]) if lines else None
    if ran.returncode not in (0, 1) or verdict is None:
        reason = (ran.stderr.strip().splitlines() or [f"exit {ran.returncode}"])[-1]
        raise VerifyUnavailable(f"ledger verify could not run: {reason}")
    return VerifyReport(verdict, lines)
