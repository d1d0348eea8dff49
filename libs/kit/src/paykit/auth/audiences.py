"""Who a platform token is for: one audience per kind of API.

A merchant's token for the payment API must not open an operator API, and an operator's token
must not take payments, so each kind of API verifies its own audience and refuses the other's.
Scopes then say what a holder may do inside that API.
"""

from __future__ import annotations

from typing import Final

PAYMENTS_API_AUDIENCE: Final = "payments-api"
"""Merchants' tokens: the payment API (and the public API through the gateway)."""

ADMIN_AUDIENCE: Final = "payments-admin"
"""Operators' tokens: internal admin APIs such as the webhook service's delivery log."""

WEBHOOKS_ADMIN_SCOPE: Final = "webhooks:admin"
"""What an admin token needs to read the webhook delivery log and re-emit its events."""

LEDGER_ADMIN_SCOPE: Final = "ledger:admin"
"""Operators' reads of any account, the trial balance, and manual adjustments."""

SETTLEMENT_ADMIN_SCOPE: Final = "settlement:admin"
"""Operators' settlement runs, payout retries and reconciliation."""

GATEWAY_ADMIN_SCOPE: Final = "gateway:admin"
"""Operators' management of merchants, their API keys and the gateway's signing keys."""

OPERATOR_SCOPES: Final = (
    WEBHOOKS_ADMIN_SCOPE,
    LEDGER_ADMIN_SCOPE,
    SETTLEMENT_ADMIN_SCOPE,
    GATEWAY_ADMIN_SCOPE,
)
"""Everything an operator of the platform may do (a development operator's token)."""
