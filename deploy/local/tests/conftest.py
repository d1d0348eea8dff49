"""What the deployment tests (compose, Kubernetes) share."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest

from dashboard_service import settings as dashboard_settings
from gateway_service import edge_settings
from gateway_service import settings as gateway_settings
from ledger_service import settings as ledger_settings
from payment_service import settings as payment_settings
from psp_simulator import settings as psp_settings
from settlement_service import settings as settlement_settings
from settlement_service.reconciliation_bootstrap import load_reconciliation_settings
from webhook_service import settings as webhook_settings
from webhook_service.outbound_settings import load_dispatcher_settings, load_notifier_settings

Loader = Callable[[Mapping[str, str]], object]


def _all(names: str, *loaders: Loader) -> dict[str, tuple[Loader, ...]]:
    return dict.fromkeys(names.split(), loaders)


# What each Procfile process reads its configuration with: a new process needs a line here.
PROCESS_SETTINGS: dict[str, tuple[Loader, ...]] = {
    "gateway-web": (gateway_settings.load, edge_settings.load),
    **_all(
        "payment-api payment-charger payment-status-applier payment-relay payment-janitor",
        payment_settings.load,
    ),
    "webhook-web": (webhook_settings.load_web_settings,),
    "webhook-relay": (webhook_settings.load_relay_settings,),
    **_all("webhook-payment-notifier webhook-settlement-notifier", load_notifier_settings),
    "webhook-dispatcher": (load_dispatcher_settings,),
    "psp-web": (psp_settings.load_simulator_settings,),
    "psp-webhook-sender": (psp_settings.load_sender_settings,),
    **_all("ledger-web ledger-poster ledger-settlement-poster ledger-relay", ledger_settings.load),
    "settlement-web": (settlement_settings.load, load_reconciliation_settings),
    **_all(
        "settlement-itemizer settlement-payout-applier settlement-relay settlement-scheduler"
        " settlement-janitor",
        settlement_settings.load,
    ),
    "dashboard-web": (dashboard_settings.load,),
}


# Each key that seals secrets in a database, and the only processes given it: those that seal
# or open with it.
SEALING_KEY_HOLDERS: dict[str, frozenset[str]] = {
    "GATEWAY_KEY_ENCRYPTION_KEY": frozenset({"gateway-web"}),
    "WEBHOOK_ENDPOINT_SECRETS_KEY": frozenset({"webhook-web", "webhook-dispatcher"}),
}


@pytest.fixture(scope="session")
def sealing_key_holders() -> dict[str, frozenset[str]]:
    return SEALING_KEY_HOLDERS


@pytest.fixture(scope="session")
def process_settings() -> dict[str, tuple[Loader, ...]]:
    return PROCESS_SETTINGS
