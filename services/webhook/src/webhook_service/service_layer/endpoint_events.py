"""What the webhook service tells the rest of the platform about merchants' endpoints.

Published on webhook-events through the outbox, in the transaction that made the change, so
the event exists exactly when the change committed.
"""

from __future__ import annotations

from datetime import datetime

from payevents import Envelope, new_event
from webhook_service.domain.endpoints import DisabledEndpoint, DisabledReason
from webhook_service.service_layer.handlers import EVENT_SOURCE


def endpoint_disabled(
    disabled: DisabledEndpoint, *, failing_since: datetime, last_error: str | None
) -> Envelope:
    """``webhook_endpoint.disabled``, keyed by the endpoint, for an endpoint the retry horizon
    ran out on (``failing_since`` is when the message that ran out was first tried)."""
    notice = disabled.notice
    return new_event(
        "webhook_endpoint.disabled",
        {
            "endpoint_id": notice.endpoint_id,
            "merchant_id": disabled.merchant_id,
            "reason": DisabledReason.FAILING.value,
            "failing_since": failing_since,
            "disabled_at": notice.occurred_at,
            "last_error": last_error,
        },
        source=EVENT_SOURCE,
        subject=notice.endpoint_id,
    )
