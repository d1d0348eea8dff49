"""A merchant's pages: payments, one payment with its timeline and refunds, balances, batches.

Every read goes through the gateway's public API with the merchant's token, so the dashboard
shows exactly what the API would: another merchant's payment is the API's 404, shown as one.
A refund takes two steps: the form, then a confirmation page whose button sends the refund with
an ``Idempotency-Key`` made for that confirmation, so sending it twice refunds once.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask import Response as FlaskResponse
from werkzeug.wrappers import Response

from dashboard_service.domain.money import InvalidAmount, format_amount, parse_amount
from dashboard_service.entrypoints.access import MERCHANT, gateway, requires, service
from dashboard_service.entrypoints.forms import ConfirmRefundForm, RefundForm
from dashboard_service.service_layer.balances import balances_page
from dashboard_service.service_layer.journeys import payment_page
from payevents.statuses import BATCH_STATUSES, PAYMENT_STATUSES

merchant = Blueprint("merchant", __name__)

PAGE_SIZE: Final = 25
IDENTIFIER: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


def _identifier(value: str) -> str:
    """Ids go into API paths: anything but an identifier is no object of ours."""
    if IDENTIFIER.fullmatch(value) is None:
        abort(404)
    return value


def _day(name: str, errors: dict[str, str]) -> date | None:
    typed = (request.args.get(name) or "").strip()
    if not typed:
        return None
    try:
        return date.fromisoformat(typed)
    except ValueError:
        errors[name] = "Give a date as YYYY-MM-DD."
        return None


def _midnight(day: date) -> str:
    return datetime.combine(day, time(), UTC).isoformat().replace("+00:00", "Z")


@merchant.get("/payments")
@requires(MERCHANT)
def payments() -> Response | str:
    wanted = (request.args.get("id") or "").strip()
    if wanted:
        return redirect(url_for("merchant.payment", payment_id=wanted))
    errors: dict[str, str] = {}
    status = request.args.get("status") or None
    if status is not None and status not in PAYMENT_STATUSES:
        errors["status"] = "Choose one of the listed statuses."
        status = None
    first, last = _day("from", errors), _day("to", errors)
    if first and last and last < first:
        errors["to"] = "The last day must not be before the first."
    query: dict[str, Any] = {"status": status, "limit": PAGE_SIZE}
    query["cursor"] = request.args.get("cursor") or None
    if first:
        query["created_gte"] = _midnight(first)
    if last:
        query["created_lt"] = _midnight(last + timedelta(days=1))
    found = gateway().get("/v1/payments", query) if not errors else {"data": []}
    filters = {k: request.args.get(k, "") for k in ("status", "from", "to")}
    return render_template(
        "payments.html",
        payments=found.get("data") or [],
        next_cursor=found.get("next_cursor"),
        paged=bool(query["cursor"]),
        filters=filters,
        errors=errors,
        statuses=PAYMENT_STATUSES,
    )


@merchant.get("/payments/<payment_id>")
@requires(MERCHANT)
def payment(payment_id: str) -> str:
    page = payment_page(gateway(), _identifier(payment_id))
    return render_template("payment.html", page=page, form=RefundForm())


@merchant.post("/payments/<payment_id>/refund")
@requires(MERCHANT)
def refund(payment_id: str) -> str | tuple[str, int]:
    """Step one: check the amount, then ask the merchant to confirm it."""
    page = payment_page(gateway(), _identifier(payment_id))
    form = RefundForm()
    currency = str(page.payment["currency"])
    amount = page.refundable
    typed = (form.amount.data or "").strip() if form.validate_on_submit() else None
    problem = None if typed is not None else "Check the values and try again."
    if typed:
        try:
            amount = parse_amount(typed, currency)
        except InvalidAmount as error:
            problem = str(error)
    if problem is None and page.refundable <= 0:
        problem = "Nothing is left to refund on this payment."
    elif problem is None and amount > page.refundable:
        problem = f"At most {format_amount(page.refundable, currency)} can be refunded."
    if problem is not None:
        form.amount.errors = [problem]
        return render_template("payment.html", page=page, form=form), 422
    confirm = ConfirmRefundForm(
        formdata=None,
        amount=str(amount),
        reason=form.reason.data or "",
        idempotency_key=uuid.uuid4().hex,
    )
    return render_template(
        "refund_confirm.html",
        payment=page.payment,
        amount=amount,
        full=amount == page.refundable,
        reason=form.reason.data or "",
        form=confirm,
    )


@merchant.post("/payments/<payment_id>/refund/confirm")
@requires(MERCHANT)
def confirm_refund(payment_id: str) -> Response:
    form = ConfirmRefundForm()
    if not form.validate_on_submit():
        flash("The refund was not sent: start it again from the payment.")
        return redirect(url_for("merchant.payment", payment_id=payment_id))
    body: dict[str, Any] = {"amount": int(form.amount.data or 0)}
    if form.reason.data:
        body["reason"] = form.reason.data
    made = gateway().post(
        f"/v1/payments/{_identifier(payment_id)}/refunds",
        body,
        idempotency_key=form.idempotency_key.data,
    )
    shown = format_amount(int(made.get("amount", body["amount"])), str(made.get("currency", "")))
    flash(f"Refund of {shown} sent ({made.get('status', 'requested')}).")
    return redirect(url_for("merchant.payment", payment_id=payment_id))


@merchant.get("/balances")
@requires(MERCHANT)
def balances() -> str:
    page = balances_page(gateway(), service().clock().date())
    return render_template("balances.html", page=page)


@merchant.get("/settlements")
@requires(MERCHANT)
def settlements() -> str:
    status = request.args.get("status") or None
    if status not in (None, *BATCH_STATUSES):
        status = None
    query = {"status": status, "limit": PAGE_SIZE, "cursor": request.args.get("cursor") or None}
    found = gateway().get("/v1/settlements", query)
    return render_template(
        "settlements.html",
        batches=found.get("data") or [],
        next_cursor=found.get("next_cursor"),
        paged=bool(query["cursor"]),
        status=status or "",
        statuses=BATCH_STATUSES,
    )


@merchant.get("/settlements/<batch_id>")
@requires(MERCHANT)
def settlement(batch_id: str) -> str:
    batch = gateway().get(f"/v1/settlements/{_identifier(batch_id)}")
    return render_template("settlement.html", batch=batch)


@merchant.get("/settlements/<batch_id>/report.csv")
@requires(MERCHANT)
def settlement_csv(batch_id: str) -> Response:
    text = gateway().get_text(f"/v1/settlements/{_identifier(batch_id)}/report.csv")
    return FlaskResponse(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{batch_id}.csv"'},
    )
