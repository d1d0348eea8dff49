"""Facts about settlement, published by the settlement service on settlement-events.

Every event is keyed by merchant; one batch covers one merchant in one currency.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from payevents import fieldtypes as f
from payevents.fieldtypes import StrictSchema
from payevents.registry import EventRegistry, Upcaster
from payevents.rules import schema_rule


class BatchFacts(StrictSchema):
    batch_id = f.identifier("The settlement batch id.")
    merchant_id = f.identifier("The merchant being paid out.")
    currency = f.currency("Currency of the batch.")


class SettlementItemCreatedV1(StrictSchema):
    """A posted payment or refund became owed to (or by) the merchant in the next batch."""

    item_id = f.identifier("The settlement item id.")
    merchant_id = f.identifier("The merchant the item is settled with.")
    currency = f.currency()
    kind = f.choice("payment adds to the payout; refund takes away from it.", ("payment", "refund"))
    amount = f.amount("Gross amount in minor units.")
    fee_amount = f.amount("Platform fee in minor units.", minimum=0)
    payment_id = f.payment_id("The payment the item comes from (or that was refunded).")
    refund_id = f.identifier("The refund, for refund items.", optional=True)
    ledger_transaction_id = f.identifier("The ledger transaction the item was built from.")


class SettlementBatchClosedV1(BatchFacts):
    """A batch stopped taking items; its totals are final and a payout can start."""

    period_start = f.timestamp("Start of the settled period (inclusive).")
    period_end = f.timestamp("End of the settled period (exclusive).")
    item_count = f.count("Number of items in the batch.")
    gross_amount = f.amount("Sum of payment items, minor units.", minimum=0)
    refunded_amount = f.amount("Sum of refund items, minor units.", minimum=0)
    fee_amount = f.amount("Sum of fees, minor units.", minimum=0)
    net_amount = f.amount(
        "gross - refunded - fees; negative when the merchant owes the platform.", minimum=None
    )

    @schema_rule(
        "net_is_gross_less_refunds_and_fees",
        "net_amount equals gross_amount - refunded_amount - fee_amount.",
    )
    @validates_schema
    def _totals_add_up(self, data: dict[str, Any], **kwargs: Any) -> None:
        expected = data["gross_amount"] - data["refunded_amount"] - data["fee_amount"]
        if data["net_amount"] != expected:
            raise ValidationError(
                f"Must equal gross - refunded - fees ({expected}).", field_name="net_amount"
            )

    @schema_rule("period_end_after_start", "period_end is later than period_start.")
    @validates_schema
    def _period_is_not_empty(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data["period_end"] <= data["period_start"]:
            raise ValidationError("Must be after period_start.", field_name="period_end")


class SettlementBatchPaidV1(BatchFacts):
    """The payout reached the merchant's bank: the ledger moves the money out of escrow."""

    amount = f.amount("Amount paid out, minor units.")
    payout_id = f.identifier("The payout's reference at the bank or PSP.")


class SettlementBatchFailedV1(BatchFacts):
    """The payout did not go through; the money stays owed to the merchant."""

    amount = f.amount("Amount that was to be paid out, minor units.")
    failure_code = f.code("Why, e.g. account_closed, invalid_account, bank_unavailable.")
    failure_message = f.free_text("Human-readable detail from the bank or PSP.")


class SettlementBatchSubmittedV1(BatchFacts):
    """The bank accepted the batch's payout request (attempt N); its outcome comes later.

    A retry of a failed batch is a new attempt: its money went back to escrow with the
    failure, so the ledger moves it to payable again when attempt 2 or later is submitted.
    """

    amount = f.amount("Amount to pay out, minor units.")
    attempt = f.attempt("Which payout attempt of the batch this is.")
    payout_id = f.identifier("The payout's reference at the bank.")


class SettlementBatchPaidV2(SettlementBatchPaidV1):
    """The payout of one attempt reached the merchant's bank."""

    attempt = f.attempt("Which payout attempt of the batch was paid.")


class SettlementBatchFailedV2(SettlementBatchFailedV1):
    """One payout attempt did not go through; a later attempt may still pay the batch."""

    attempt = f.attempt("Which payout attempt of the batch failed.")
    payout_id = f.identifier("The payout's reference at the bank, when it had one.", optional=True)


class SettlementBatchCarriedForwardV1(BatchFacts):
    """A run left the batch open: its net is not positive, or below the currency's minimum.

    Its items wait in it for the next run, which adds the newly eligible items and closes it
    once the net reaches the minimum. Nothing moves in the ledger: a refund was taken from
    escrow or recorded as receivable when it happened, and a later closing nets it.
    """

    cutoff = f.timestamp("The run that carried the batch forward.")
    reason = f.choice(
        "not_positive: net <= 0; below_minimum: 0 < net < minimum_payout.",
        ("not_positive", "below_minimum"),
    )
    minimum_payout = f.amount("The currency's minimum payout, minor units.")
    item_count = f.count("Number of items in the batch so far.")
    gross_amount = f.amount("Sum of payment items, minor units.", minimum=0)
    refunded_amount = f.amount("Sum of refund items, minor units.", minimum=0)
    fee_amount = f.amount("Sum of fees, minor units.", minimum=0)
    net_amount = f.amount("gross - refunded - fees so far; may be negative.", minimum=None)


class SettlementItemCreatedV2(SettlementItemCreatedV1):
    """A posted payment, refund or reversal became owed to (or by) the merchant.

    A reversal is a success the PSP's record overturned: the ledger took the payment's money
    back out of escrow (or made it owed), fee included, so the item takes amount - fee_amount
    from the payout and returns the fee it charged.
    """

    kind = f.choice(
        "payment adds to the payout; refund takes away from it; reversal takes back a payment"
        " the PSP overturned, less the fee it returns.",
        ("payment", "refund", "reversal"),
    )


def reversal_total(description: str) -> fields.Integer:
    """0 when left out: a batch without reversals need not name them, and the net rule still
    refuses a batch whose reversals were left out of its totals but not out of its net."""
    return fields.Integer(
        strict=True,
        load_default=0,
        validate=[validate.Range(min=0, max=f.MAX_AMOUNT)],
        metadata={"description": description},
    )


class ReversalTotals(StrictSchema):
    reversed_amount = reversal_total("Sum of reversal items' gross amounts, minor units.")
    fee_returned_amount = reversal_total("Sum of the fees reversals returned, minor units.")


def net_with_reversals(data: dict[str, Any]) -> int:
    return int(
        data["gross_amount"]
        - data["refunded_amount"]
        - data["fee_amount"]
        - data["reversed_amount"]
        + data["fee_returned_amount"]
    )


class SettlementBatchClosedV2(ReversalTotals, SettlementBatchClosedV1):
    """A batch stopped taking items; its totals, reversals included, are final.

    ``fee_amount`` is the fees of its payments; a reversal returns its payment's fee, so the
    net adds ``fee_returned_amount`` back as it takes ``reversed_amount`` off.
    """

    net_amount = f.amount(
        "gross - refunded - fees - reversed + fees returned; negative when the merchant owes.",
        minimum=None,
    )

    # Refuses nothing a v1 producer wrote: the upcast v1 batch has no reversals, and then
    # this is the v1 rule.
    @schema_rule(
        "net_is_gross_less_refunds_fees_and_reversals",
        "net_amount equals gross_amount - refunded_amount - fee_amount - reversed_amount"
        " + fee_returned_amount.",
        loosening=True,
    )
    @validates_schema
    def _totals_add_up(self, data: dict[str, Any], **kwargs: Any) -> None:
        expected = net_with_reversals(data)
        if data["net_amount"] != expected:
            raise ValidationError(
                f"Must equal gross - refunded - fees - reversed + fees returned ({expected}).",
                field_name="net_amount",
            )


class SettlementBatchCarriedForwardV2(ReversalTotals, SettlementBatchCarriedForwardV1):
    """A run left the batch open; its totals so far, reversals included."""

    net_amount = f.amount(
        "gross - refunded - fees - reversed + fees returned so far; may be negative.",
        minimum=None,
    )


def no_reversals(data: dict[str, Any]) -> dict[str, Any]:
    """Before reversals were items no batch held one."""
    data["reversed_amount"] = 0
    data["fee_returned_amount"] = 0
    return data


def first_attempt(data: dict[str, Any]) -> dict[str, Any]:
    """Before retries existed every batch had one payout attempt."""
    data["attempt"] = 1
    return data


def register(registry: EventRegistry) -> None:
    reversal_totals = Upcaster(
        no_reversals, touches=frozenset({"reversed_amount", "fee_returned_amount"})
    )
    registry.register("settlement.item_created", 1, SettlementItemCreatedV1)
    registry.register("settlement.item_created", 2, SettlementItemCreatedV2)
    registry.register("settlement.batch_closed", 1, SettlementBatchClosedV1)
    registry.register(
        "settlement.batch_closed", 2, SettlementBatchClosedV2, upcaster=reversal_totals
    )
    registry.register("settlement.batch_carried_forward", 1, SettlementBatchCarriedForwardV1)
    registry.register(
        "settlement.batch_carried_forward",
        2,
        SettlementBatchCarriedForwardV2,
        upcaster=reversal_totals,
    )
    registry.register("settlement.batch_submitted", 1, SettlementBatchSubmittedV1)
    registry.register("settlement.batch_paid", 1, SettlementBatchPaidV1)
    registry.register(
        "settlement.batch_paid",
        2,
        SettlementBatchPaidV2,
        upcaster=Upcaster(first_attempt, touches=frozenset({"attempt"})),
    )
    registry.register("settlement.batch_failed", 1, SettlementBatchFailedV1)
    registry.register(
        "settlement.batch_failed",
        2,
        SettlementBatchFailedV2,
        upcaster=Upcaster(first_attempt, touches=frozenset({"attempt"})),
    )
