"""Builds reconciliation's outside sources from the environment: the ledger, the PSP, the bank.

Read apart from the service's settings so a process that never reconciles (the consumers, the
scheduler) needs none of it. Without ``LEDGER_URL`` the API answers reconciliation with a 503
problem instead of refusing to start.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx

from paykit.auth.jwt import SigningKey
from paykit.settings import Env, Secret, load_settings
from settlement_service.adapters.bank_statement_http import HttpBankStatement
from settlement_service.adapters.ledger_http import HttpLedger
from settlement_service.adapters.psp_reports_http import HttpPspReports
from settlement_service.service_layer.reconciliation_ports import (
    BankStatement,
    LedgerPostings,
    PspSettlementReports,
)
from settlement_service.settings import SettlementSettings

LEDGER_SCOPE = "ledger:admin"
TokenSource = Callable[[], str]


@dataclass(frozen=True)
class ReconciliationSettings:
    ledger_url: str
    psp_url: str
    timeout_seconds: int = 10
    ledger_token: Secret | None = None
    signing_key_path: Path | None = None
    signing_key_id: str = "local-1"


def load_reconciliation_settings(
    environ: Mapping[str, str] | None = None,
) -> ReconciliationSettings:
    def build(env: Env) -> ReconciliationSettings:
        key_path = env.str("AUTH_SIGNING_KEY_PATH", "")
        return ReconciliationSettings(
            ledger_url=env.str("LEDGER_URL", ""),
            psp_url=env.str("SETTLEMENT_PSP_URL", "") or env.str("PSP_URL", ""),
            timeout_seconds=env.int("SETTLEMENT_RECONCILIATION_TIMEOUT_SECONDS", 10, min=1),
            ledger_token=env.secret("SETTLEMENT_LEDGER_TOKEN", None),
            signing_key_path=Path(key_path) if key_path else None,
            signing_key_id=env.str("AUTH_SIGNING_KEY_ID", "local-1"),
        )

    return load_settings(build, environ)


@dataclass
class ReconciliationSources:
    """``ledger`` is made per token: the API relays each operator's own to the ledger."""

    ledger: Callable[[TokenSource], LedgerPostings]
    psp: PspSettlementReports
    bank: BankStatement
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        while self.closers:
            self.closers.pop()()


def http_sources(
    settings: SettlementSettings, reconciliation: ReconciliationSettings
) -> ReconciliationSources | None:
    """None when the ledger or the PSP has no address here."""
    if not reconciliation.ledger_url or not reconciliation.psp_url:
        return None
    seconds = float(reconciliation.timeout_seconds)
    timeout = httpx.Timeout(seconds, connect=min(2.0, seconds))
    ledger_client = httpx.Client(base_url=reconciliation.ledger_url, timeout=timeout)
    psp = HttpPspReports(reconciliation.psp_url, timeout_seconds=seconds)
    bank = HttpBankStatement(settings.bank_url, timeout_seconds=seconds)
    return ReconciliationSources(
        ledger=lambda token: HttpLedger(reconciliation.ledger_url, token, client=ledger_client),
        psp=psp,
        bank=bank,
        closers=[ledger_client.close, psp.close, bank.close],
    )


def own_ledger_token(
    settings: SettlementSettings, reconciliation: ReconciliationSettings
) -> TokenSource:
    """For the CLI: ``SETTLEMENT_LEDGER_TOKEN`` as given, or one minted per call with the
    signing key (a local cluster's ``AUTH_SIGNING_KEY_PATH``)."""
    if reconciliation.ledger_token is not None:
        given = reconciliation.ledger_token
        return given.reveal
    if reconciliation.signing_key_path is None:
        raise LookupError("set SETTLEMENT_LEDGER_TOKEN or AUTH_SIGNING_KEY_PATH to ask the ledger")
    key = SigningKey(reconciliation.signing_key_path.read_bytes(), reconciliation.signing_key_id)

    def minted() -> str:
        return key.issue(
            issuer=settings.auth_issuer,
            audience=settings.auth_admin_audience,
            subject="settlement-reconciliation",
            ttl=timedelta(minutes=5),
            scopes=(LEDGER_SCOPE,),
        )

    return minted
