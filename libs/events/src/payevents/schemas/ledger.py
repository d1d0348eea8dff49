"""Facts about the ledger, published by the ledger service on ledger-events."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from payevents import fieldtypes as f
from payevents.fieldtypes import StrictSchema, UtcDateTime
from payevents.registry import EventRegistry
from payevents.rules import schema_rule


class LedgerEntry(StrictSchema):
    account = f.identifier("Ledger account, e.g. merchant:<merchant id>:escrow.")
    direction = f.choice("Side of the entry.", ("debit", "credit"))
    amount = f.amount("Entry amount in minor units of the transaction's currency.")


class LedgerTransactionPostedV1(StrictSchema):
    """A balanced journal transaction was committed; settlement itemises from it.

    One transaction has one currency, so "debits equal credits" is checked here too: a consumer
    must never see an unbalanced transaction, even from a buggy producer.
    """

    transaction_id = f.identifier("The ledger's journal transaction id.")
    kind = f.choice(
        "What moved the money.", ("payment", "refund", "fee", "payout", "payout_reversal")
    )
    merchant_id = f.identifier("The merchant whose accounts the transaction touches.")
    currency = f.currency("Currency of every entry.")
    entries = fields.List(
        fields.Nested(LedgerEntry),
        required=True,
        validate=validate.Length(min=2),
        metadata={"description": "At least two entries; debits and credits sum equally."},
    )
    payment_id = f.payment_id("The payment behind the transaction, if any.", optional=True)
    refund_id = f.identifier("The refund behind the transaction, if any.", optional=True)
    settlement_batch_id = f.identifier("The settlement batch behind it, if any.", optional=True)

    @schema_rule(
        "balanced_entries",
        "The amounts of the debit entries add up to the amounts of the credit entries.",
    )
    @validates_schema
    def _debits_equal_credits(self, data: dict[str, Any], **kwargs: Any) -> None:
        totals = {"debit": 0, "credit": 0}
        for entry in data["entries"]:
            totals[entry["direction"]] += entry["amount"]
        if totals["debit"] != totals["credit"]:
            raise ValidationError(
                f"Entries do not balance: debits {totals['debit']} != credits {totals['credit']}.",
                field_name="entries",
            )


class LedgerTransactionPostedV2(LedgerTransactionPostedV1):
    """v2: the ledger's every kind of transaction, and the fact it was posted from.

    Only widens v1: more kinds, and optional fields naming the cause and its effective time.
    """

    kind = f.choice(
        "What moved the money: a payment, its reversal, a refund, a settlement batch closing"
        " (escrow to payable), a payout or its failure, or an operator's adjustment.",
        (
            "payment",
            "refund",
            "fee",
            "payout",
            "payout_reversal",
            "payment_reversal",
            "settlement",
            "adjustment",
        ),
    )
    cause_event_id = f.identifier(
        "The event the transaction was posted from; none for a manual adjustment.", optional=True
    )
    cause_type = f.identifier("The type of that event.", optional=True)
    effective_at = UtcDateTime(
        load_default=None,
        metadata={"description": "When the money moved (the cause's occurred_at), in UTC."},
    )


def register(registry: EventRegistry) -> None:
    registry.register("ledger.transaction_posted", 1, LedgerTransactionPostedV1)
    registry.register("ledger.transaction_posted", 2, LedgerTransactionPostedV2)
