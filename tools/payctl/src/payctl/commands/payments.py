"""A merchant's payments and refunds, through the gateway with the login token."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import click

from payctl.commands.follow import follow
from payctl.options import json_option, session
from payctl.output import emit, fields, page
from payevents.statuses import PAYMENT_STATUSES

F = TypeVar("F", bound=Callable[..., Any])

PAYMENT_FIELDS = [
    "id",
    "status",
    "amount",
    "currency",
    "amount_refunded",
    "payment_method",
    "description",
    "failure_code",
    "failure_message",
    "created_at",
    "updated_at",
]
LIST_COLUMNS = ["id", "status", "amount", "currency", "amount_refunded", "created_at"]
REFUND_FIELDS = ["id", "payment_id", "status", "amount", "currency", "failure_code", "created_at"]


def _idempotency_option(what: str) -> Callable[[F], F]:
    return click.option(
        "--idempotency-key",
        default=None,
        help=f"Repeat a {what} safely with the same key (default: a fresh one each time).",
    )


@click.group()
def payments() -> None:
    """Take, read, list and refund payments (a merchant: payctl login first)."""


@payments.command("create")
@click.option("--amount", type=click.IntRange(min=1), required=True, help="In minor units.")
@click.option("--currency", required=True, help="ISO 4217 code, e.g. EUR.")
@click.option(
    "--method",
    "payment_method",
    required=True,
    help="A payment method token; test tokens (pm_card_visa, ...) decide the outcome.",
)
@click.option("--description", default=None)
@_idempotency_option("payment")
@json_option
def create_payment(
    amount: int,
    currency: str,
    payment_method: str,
    description: str | None,
    idempotency_key: str | None,
) -> None:
    """Take a payment; prints it as created (follow it with payctl payments follow ID)."""
    s = session()
    body = {"amount": amount, "currency": currency.upper(), "payment_method": payment_method}
    if description is not None:
        body["description"] = description
    made = s.merchant_gateway().post(
        "/v1/payments", body, idempotency_key=idempotency_key or str(uuid.uuid4())
    )
    emit(s.json, made, fields(made, PAYMENT_FIELDS))


@payments.command("get")
@click.argument("payment_id")
@json_option
def get_payment(payment_id: str) -> None:
    """One payment."""
    s = session()
    found = s.merchant_gateway().get(f"/v1/payments/{payment_id}")
    emit(s.json, found, fields(found, PAYMENT_FIELDS))


@payments.command("list")
@click.option("--status", type=click.Choice(PAYMENT_STATUSES), default=None)
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--cursor", default=None, help="next_cursor of the page before.")
@json_option
def list_payments(status: str | None, limit: int, cursor: str | None) -> None:
    """Payments, newest first, a page at a time."""
    s = session()
    found = s.merchant_gateway().get(
        "/v1/payments", {"status": status, "limit": limit, "cursor": cursor}
    )
    emit(s.json, found, page(found, LIST_COLUMNS))


@payments.command("refund")
@click.argument("payment_id")
@click.option("--amount", type=click.IntRange(min=1), default=None, help="Default: all of it.")
@click.option("--reason", default=None)
@_idempotency_option("refund")
@json_option
def refund_payment(
    payment_id: str, amount: int | None, reason: str | None, idempotency_key: str | None
) -> None:
    """Refund a payment in full, or part of it with --amount."""
    s = session()
    body = {k: v for k, v in (("amount", amount), ("reason", reason)) if v is not None}
    made = s.merchant_gateway().post(
        f"/v1/payments/{payment_id}/refunds",
        body,
        idempotency_key=idempotency_key or str(uuid.uuid4()),
    )
    emit(s.json, made, fields(made, REFUND_FIELDS))


payments.add_command(follow)
