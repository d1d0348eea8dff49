"""What the webhook service tells the platform about merchants' webhook endpoints, on
webhook-events, keyed by the endpoint id.

Merchants learn of a disabled endpoint from its notice (the endpoints API, ``payctl webhooks``);
the event lets the rest of the platform (alerting, support, a dashboard) hear of it without
polling the webhook service. Consumers of webhook-events that do not handle it ignore it.
"""

from __future__ import annotations

from payevents import fieldtypes as f
from payevents.fieldtypes import StrictSchema
from payevents.registry import EventRegistry


class WebhookEndpointDisabledV1(StrictSchema):
    """An endpoint failed every attempt at a message for the whole retry horizon and was
    disabled; nothing is sent to it until its merchant enables it again."""

    endpoint_id = f.identifier("The disabled endpoint.")
    merchant_id = f.identifier("The merchant whose endpoint it is.")
    reason = f.choice(
        "Why it was disabled: `failing` (a merchant disabling its own publishes nothing).",
        ("failing",),
    )
    failing_since = f.timestamp("When the first attempt of the message that ran out was made.")
    disabled_at = f.timestamp("When the endpoint was disabled.")
    last_error = f.code(
        "The last attempt's error: `connection_failed`, `http_status`, `timeout`, ...",
        optional=True,
    )


def register(registry: EventRegistry) -> None:
    registry.register("webhook_endpoint.disabled", 1, WebhookEndpointDisabledV1)
