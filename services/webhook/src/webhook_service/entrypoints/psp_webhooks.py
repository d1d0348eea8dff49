"""``POST /webhooks/psp`` and ``POST /webhooks/psp/payouts``: the PSP's signed status reports
of payments and refunds, and of payouts (the PSP plays the bank).

Authenticated by signature, not by token. Every delivery is answered from the database alone
(nothing is published to Kafka here), so the PSP gets its 2xx in milliseconds.
"""

from __future__ import annotations

from typing import Final

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from paykit.auth.webhook_signature import SIGNATURE_HEADER
from paykit.problems import Problem
from paykit.web import current_correlation_id, current_request_id, problem_response
from webhook_service.domain.errors import RateLimited, WebhookRejected
from webhook_service.domain.notifications import parse_notification
from webhook_service.domain.payout_notifications import parse_payout_notification
from webhook_service.entrypoints.app_context import current_service
from webhook_service.service_layer.commands import ReceiveWebhook
from webhook_service.service_layer.handlers import NotificationParser, receive_webhook

# Authentication failures are 401; a body we cannot read is 400; one we can read but will not
# act on is 422. The PSP retries all of them, which is what we want for a transient
# misconfiguration (say a secret rotated on one side only).
_STATUS_BY_CODE: Final = {
    "invalid_signature": 401,
    "payload_too_large": 413,
    "rate_limited": 429,
    "malformed_json": 400,
    "json_too_deep": 400,
}

blueprint = Blueprint("psp_webhooks", __name__)


@blueprint.post("/webhooks/psp")
def receive_psp_webhook() -> Response:
    return _receive(parse_notification)


@blueprint.post("/webhooks/psp/payouts")
def receive_payout_webhook() -> Response:
    """The bank's payout outcomes: signed, checked and deduplicated like payment reports."""
    return _receive(parse_payout_notification)


def _receive(parse: NotificationParser) -> Response:
    service = current_service()
    raw_body, too_large = _read_body(service.rules.max_body_bytes)
    command = ReceiveWebhook(
        raw_body=raw_body,
        signature_header=request.headers.get(SIGNATURE_HEADER),
        headers=list(request.headers.items()),
        request_id=current_request_id(),
        correlation_id=current_correlation_id(),
        body_too_large=too_large,
        declared_size=request.content_length,
        source_address=request.remote_addr,
    )
    receipt = receive_webhook(
        command,
        uow=service.unit_of_work(),
        rules=service.rules,
        replay_cache=service.replay_cache,
        rate_limiter=service.rate_limiter,
        clock=service.clock,
        parse=parse,
    )
    return jsonify(
        status=receipt.verdict.value,
        delivery_id=receipt.delivery_id,
        psp_event_id=receipt.psp_event_id,
    )


@blueprint.errorhandler(WebhookRejected)
def _refused(rejection: WebhookRejected) -> Response:
    extra: dict[str, object] = {}
    if rejection.delivery_id is not None:
        extra["delivery_id"] = rejection.delivery_id
    if rejection.reason is not None:
        extra["reason"] = rejection.reason
    if rejection.errors:
        extra["errors"] = rejection.errors
    headers = {"Retry-After": rejection.retry_after} if isinstance(rejection, RateLimited) else {}
    status = _STATUS_BY_CODE.get(rejection.code, 422)
    return problem_response(
        Problem(status, rejection.code, detail=rejection.detail, extra=extra, headers=headers)
    )


def _read_body(limit: int) -> tuple[bytes, bool]:
    """The raw body, unless it is over ``limit``: then nothing of it is kept.

    A chunked body has no length up front; the app lets the server read one byte past the
    limit (see ``create_app``), so a body that fills that byte is known to be too large.
    """
    if request.content_length is not None and request.content_length > limit:
        return b"", True
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        return b"", True
    return (b"", True) if len(raw) > limit else (raw, False)
