"""Why a webhook is refused, and why an admin request cannot be served.

Every refusal has a stable ``code``: it is the problem code the PSP sees and the ``reason`` a
rejected delivery is stored with, so a dashboard and a client never disagree about what happened.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar


class WebhookRejected(Exception):
    """A delivery that must not change anything; recorded as rejected, answered with a 4xx.

    ``reason`` refines ``code`` where the kit has a finer verdict (the signature sub-code);
    ``log_detail`` may name internals and goes to the delivery log only, never to the sender.
    """

    code: ClassVar[str] = "invalid_webhook"

    def __init__(
        self,
        detail: str,
        *,
        reason: str | None = None,
        log_detail: str | None = None,
        errors: Mapping[str, list[str]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.reason = reason
        self.log_detail = log_detail or reason or detail
        self.errors: dict[str, list[str]] = dict(errors or {})
        self.delivery_id: str | None = None


class PayloadTooLarge(WebhookRejected):
    code = "payload_too_large"


class SignatureRejected(WebhookRejected):
    code = "invalid_signature"


class RateLimited(WebhookRejected):
    """Too many unauthenticated requests from one source: answered 429, not recorded."""

    code = "rate_limited"

    def __init__(self, detail: str, *, retry_after: str) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class MalformedJson(WebhookRejected):
    code = "malformed_json"


class JsonTooDeep(WebhookRejected):
    code = "json_too_deep"


class InvalidWebhookBody(WebhookRejected):
    code = "invalid_webhook_body"


class UnknownEventType(WebhookRejected):
    code = "unknown_event_type"


class UnknownStatus(WebhookRejected):
    code = "unknown_status"


class DeliveryNotFound(Exception):
    def __init__(self, delivery_id: str) -> None:
        super().__init__(f"no delivery {delivery_id!r}")
        self.delivery_id = delivery_id


class DeliveryNotReemittable(Exception):
    """Only an accepted delivery produced an event; a duplicate or a rejection has none."""

    def __init__(self, delivery_id: str, verdict: str) -> None:
        super().__init__(f"delivery {delivery_id!r} is {verdict}, not accepted")
        self.delivery_id = delivery_id
        self.verdict = verdict
