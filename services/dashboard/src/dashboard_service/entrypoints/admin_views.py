"""Operators' pages: every consumer group's dead letters (show, replay), the ledger's trial
balance and ``ledger verify``, and one day's reconciliation.

They do what ``payctl dlq``, ``payctl ledger trial-balance|verify`` and ``payctl reconcile`` do,
from the same sources: Kafka through the kit's DLQ tool, the ledger's and settlement's admin
APIs with the operator's own token, and the ledger's own verify command.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from dashboard_service.adapters.dead_letters import (
    DeadLetters,
    DeadLettersUnavailable,
    Letter,
    Queue,
    queue,
    queues,
)
from dashboard_service.adapters.ledger_verify import VerifyUnavailable, run_ledger_verify
from dashboard_service.entrypoints.access import (
    OPERATOR,
    NotConfigured,
    ledger_admin,
    requires,
    service,
    settlement_admin,
)
from dashboard_service.entrypoints.forms import ActionForm, ReconcileForm, ReplayForm

admin = Blueprint("admin", __name__, url_prefix="/admin")


def _dead_letters() -> DeadLetters:
    found = service().dead_letters
    if found is None:
        raise NotConfigured("Kafka (KAFKA_BOOTSTRAP_SERVERS)")
    return found


def _queue_or_404(dlq_topic: str) -> str:
    if queue(dlq_topic) is None:
        abort(404)
    return dlq_topic


@admin.get("/")
@requires(OPERATOR)
def home() -> Response:
    return redirect(url_for("admin.dead_letter_queues"))


@admin.get("/dlq")
@requires(OPERATOR)
def dead_letter_queues() -> str:
    reader = _dead_letters()
    rows: list[tuple[Queue, int | None, str | None]] = []
    for each in queues():
        try:
            rows.append((each, len(reader.letters(each.dlq_topic)), None))
        except DeadLettersUnavailable as error:
            rows.append((each, None, str(error)))
    return render_template("admin/dlq_index.html", rows=rows)


@admin.get("/dlq/<dlq_topic>")
@requires(OPERATOR)
def dead_letter_queue(dlq_topic: str) -> str:
    letters = _dead_letters().letters(_queue_or_404(dlq_topic))
    return render_template(
        "admin/dlq_letters.html", queue=queue(dlq_topic), letters=letters, form=ReplayForm()
    )


@admin.get("/dlq/<dlq_topic>/<int:partition>/<int:offset>")
@requires(OPERATOR)
def dead_letter(dlq_topic: str, partition: int, offset: int) -> str:
    letters = _dead_letters().letters(_queue_or_404(dlq_topic))
    found: Letter | None = next(
        (x for x in letters if (x.partition, x.offset) == (partition, offset)), None
    )
    if found is None:
        abort(404)
    return render_template(
        "admin/dlq_letter.html", queue=queue(dlq_topic), letter=found, form=ReplayForm()
    )


@admin.post("/dlq/<dlq_topic>/replay")
@requires(OPERATOR)
def replay(dlq_topic: str) -> Response:
    form = ReplayForm()
    if not form.validate_on_submit():
        abort(400)
    spot = None
    if form.spot.data:
        partition, offset = form.spot.data.split(":")
        spot = (int(partition), int(offset))
    sent = _dead_letters().replay(_queue_or_404(dlq_topic), spot)
    target = queue(dlq_topic)
    assert target is not None
    which = f"letter {form.spot.data}" if spot else "every letter not replayed before"
    flash(f"Replayed {sent} message(s) to {target.topic} ({which}).")
    return redirect(url_for("admin.dead_letter_queue", dlq_topic=dlq_topic))


@admin.get("/ledger")
@requires(OPERATOR)
def ledger() -> str:
    trial = ledger_admin().get("/admin/trial-balance")
    return render_template("admin/ledger.html", trial=trial, form=ActionForm(), report=None)


@admin.post("/ledger/verify")
@requires(OPERATOR)
def verify_ledger() -> str:
    ActionForm()
    trial = ledger_admin().get("/admin/trial-balance")
    try:
        report, unavailable = run_ledger_verify(service().settings.ledger_database_url), None
    except VerifyUnavailable as error:
        report, unavailable = None, str(error)
    return render_template(
        "admin/ledger.html", trial=trial, form=ActionForm(), report=report, unavailable=unavailable
    )


@admin.route("/reconciliation", methods=["GET", "POST"])
@requires(OPERATOR)
def reconciliation() -> str:
    form = ReconcileForm()
    if not form.is_submitted():
        form.day.data = service().clock().astimezone(UTC).date()
    report = None
    if form.validate_on_submit() and form.day.data is not None:
        start = datetime.combine(form.day.data, time(), UTC)
        period = {"from": start.isoformat(), "to": (start + timedelta(days=1)).isoformat()}
        report = settlement_admin().post("/settlements/reconciliation", period)
    return render_template("admin/reconciliation.html", form=form, report=report)
