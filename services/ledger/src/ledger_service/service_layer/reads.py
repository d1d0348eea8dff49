"""What the read API shows: balances per currency, pages of entries, the trial balance."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from ledger_service.adapters.ledger_reads import LedgerReads
from ledger_service.domain.accounts import MERCHANT_ACCOUNT_KINDS
from ledger_service.domain.errors import TransactionNotFound


def merchant_balances(
    reads: LedgerReads, merchant_id: str, as_of: datetime | None
) -> list[dict[str, Any]]:
    """Escrow, payable and receivable per currency (zero for an account not opened yet)."""
    per_currency: dict[str, dict[str, Any]] = {}
    for row in reads.balances(merchant_id=merchant_id, as_of=as_of):
        currency = per_currency.setdefault(
            row["currency"],
            {"currency": row["currency"], **dict.fromkeys(MERCHANT_ACCOUNT_KINDS, 0)},
        )
        currency[row["code"].rsplit(":", 1)[1]] = row["balance"]
    return list(per_currency.values())


def platform_balances(reads: LedgerReads, as_of: datetime | None) -> list[dict[str, Any]]:
    return [
        {
            "account": row["code"],
            "currency": row["currency"],
            "type": row["type"],
            "balance": row["balance"],
        }
        for row in reads.balances(merchant_id=None, as_of=as_of)
    ]


def transaction(
    reads: LedgerReads, transaction_id: str, *, merchant_id: str | None
) -> dict[str, Any]:
    """One transaction and its entries; a merchant sees only its own (others are not found)."""
    found = reads.transaction(transaction_id)
    if found is None or (merchant_id is not None and found["merchant_id"] != merchant_id):
        raise TransactionNotFound(f"no transaction {transaction_id}")
    return found


def trial_balance(reads: LedgerReads) -> list[dict[str, Any]]:
    """Per currency: debits equal credits, and every balance equals the sum of its entries."""
    currencies: dict[str, dict[str, Any]] = defaultdict(dict)
    for row in reads.trial_balance():
        summary = currencies[row["currency"]]
        if not summary:
            summary.update(currency=row["currency"], debits=0, credits=0, accounts=[])
        summary["debits"] += row["debits"]
        summary["credits"] += row["credits"]
        summary["accounts"].append(
            {
                "account": row["code"],
                "type": row["type"],
                "debits": row["debits"],
                "credits": row["credits"],
                "balance": row["balance"],
                "matches_entries": row["matches_entries"],
            }
        )
    for summary in currencies.values():
        summary["balanced"] = summary["debits"] == summary["credits"] and all(
            account["matches_entries"] for account in summary["accounts"]
        )
    return list(currencies.values())
