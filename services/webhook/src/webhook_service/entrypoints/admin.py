"""The internal admin API: read the delivery log, re-emit an accepted delivery's event.

Internal only (not routed through the public gateway) and authenticated by a gateway-issued
token carrying the admin scope.
"""

from __future__ import annotations

import base64
from typing import Any, Final

from flask import Blueprint, Response, g, jsonify, request
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from payevents import fieldtypes as f
from payevents.errors import flatten_messages
from paykit.logging import bind_context
from paykit.problems import Problem
from paykit.web import problem_response
from webhook_service.domain.deliveries import Delivery, DeliveryFilters, Verdict
from webhook_service.domain.errors import DeliveryNotFound, DeliveryNotReemittable
from webhook_service.domain.notifications import notification_facts
from webhook_service.entrypoints.app_context import current_service
from webhook_service.service_layer.commands import ListDeliveries, ReemitEvent
from webhook_service.service_layer.handlers import get_delivery, list_deliveries, reemit_event

DEFAULT_PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 200
_MAX_SEQ: Final = 2**63 - 1

blueprint = Blueprint("admin", __name__, url_prefix="/admin")


class _ListQuery(Schema):
    class Meta:
        unknown = RAISE

    verdict = f.Text(load_default=None, validate=validate.OneOf([v.value for v in Verdict]))
    reason = f.code("A rejection code.", optional=True)
    psp_event_id = f.identifier("The PSP's event id.", optional=True)
    payment_id = f.payment_id(optional=True)
    received_from = f.UtcDateTime(load_default=None)
    received_before = f.UtcDateTime(load_default=None)
    limit = fields.Integer(
        load_default=DEFAULT_PAGE_SIZE, validate=validate.Range(min=1, max=MAX_PAGE_SIZE)
    )
    cursor = fields.Integer(load_default=None, validate=validate.Range(min=1, max=_MAX_SEQ))


_LIST_QUERY: Final = _ListQuery()


@blueprint.before_request
def _require_admin() -> None:
    claims = current_service().admin.authorise_request()
    g.admin_subject = claims.subject
    bind_context(admin_subject=claims.subject)


@blueprint.get("/deliveries")
def list_webhook_deliveries() -> Response:
    try:
        query: dict[str, Any] = _LIST_QUERY.load(request.args.to_dict())
    except ValidationError as error:
        raise Problem(
            400,
            "invalid_query",
            detail="Some query parameters are invalid.",
            extra={"errors": flatten_messages(error.messages)},
        ) from None
    verdict = query["verdict"]
    filters = DeliveryFilters(
        verdict=None if verdict is None else Verdict(verdict),
        reason=query["reason"],
        psp_event_id=query["psp_event_id"],
        payment_id=query["payment_id"],
        received_from=query["received_from"],
        received_before=query["received_before"],
    )
    page = list_deliveries(
        ListDeliveries(filters, limit=query["limit"], after_seq=query["cursor"]),
        uow=current_service().unit_of_work(),
    )
    return jsonify(
        deliveries=[_summary(delivery) for delivery in page.deliveries],
        next_cursor=page.next_cursor,
    )


@blueprint.get("/deliveries/<delivery_id>")
def show_webhook_delivery(delivery_id: str) -> Response:
    delivery = get_delivery(delivery_id, uow=current_service().unit_of_work())
    return jsonify(_details(delivery))


@blueprint.post("/deliveries/<delivery_id>/reemit")
def reemit_webhook_event(delivery_id: str) -> Response:
    reemission = reemit_event(
        ReemitEvent(delivery_id, requested_by=g.admin_subject),
        uow=current_service().unit_of_work(),
    )
    response = jsonify(
        delivery_id=reemission.delivery_id,
        event_id=reemission.event_id,
        status="queued" if reemission.queued else "already_queued",
    )
    response.status_code = 202
    return response


@blueprint.errorhandler(DeliveryNotFound)
def _not_found(error: DeliveryNotFound) -> Response:
    return problem_response(
        Problem(404, "delivery_not_found", detail=f"No delivery {error.delivery_id[:64]!r}.")
    )


@blueprint.errorhandler(DeliveryNotReemittable)
def _not_reemittable(error: DeliveryNotReemittable) -> Response:
    return problem_response(
        Problem(
            409,
            "delivery_not_accepted",
            detail=f"The delivery is {error.verdict}; only an accepted delivery has an event.",
        )
    )


def _summary(delivery: Delivery) -> dict[str, Any]:
    event = delivery.event
    return {
        "id": delivery.id,
        "received_at": f.format_utc(delivery.received_at),
        "verdict": delivery.verdict.value,
        "reason": delivery.reason,
        "reason_detail": delivery.reason_detail,
        **notification_facts(delivery.notification),
        "signed_at": None if delivery.signed_at is None else f.format_utc(delivery.signed_at),
        "request_id": delivery.request_id,
        "source_address": delivery.source_address,
        "body_size": delivery.body_size,
        "event_id": None if event is None else event.id,
        "event_type": None if event is None else event.type,
    }


def _details(delivery: Delivery) -> dict[str, Any]:
    body = delivery.body
    return {
        **_summary(delivery),
        "headers": dict(delivery.headers),
        "body_sha256": delivery.body_sha256,
        "body_truncated": delivery.body_truncated,
        "body": None if body is None else body.decode("utf-8", errors="replace"),
        "body_base64": None if body is None else base64.b64encode(body).decode("ascii"),
    }
