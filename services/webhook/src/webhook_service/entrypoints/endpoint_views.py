"""How endpoints, messages and attempts look in the endpoints API, and its page cursors."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from paykit.problems import Problem
from webhook_service.domain.endpoints import Attempt, Endpoint, Message
from webhook_service.service_layer.endpoints import EndpointDetails


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def endpoint_view(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": list(endpoint.event_types),
        "enabled": endpoint.enabled,
        "disabled_reason": None
        if endpoint.disabled_reason is None
        else endpoint.disabled_reason.value,
        "disabled_at": _time(endpoint.disabled_at),
        "last_success_at": _time(endpoint.last_success_at),
        "created_at": _time(endpoint.created_at),
        "updated_at": _time(endpoint.updated_at),
    }


def details_view(details: EndpointDetails) -> dict[str, Any]:
    return {
        **endpoint_view(details.endpoint),
        "secrets": [
            {"id": s.id, "created_at": _time(s.created_at), "expires_at": _time(s.expires_at)}
            for s in details.secrets
        ],
        "notices": [
            {
                "id": n.id,
                "type": n.type,
                "occurred_at": _time(n.occurred_at),
                "detail": n.detail,
            }
            for n in details.notices
        ],
    }


def message_view(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "event_id": message.event_id,
        "event_type": message.event_type,
        "state": message.state.value,
        "attempts": message.attempts,
        "created_at": _time(message.created_at),
        "next_attempt_at": _time(message.next_attempt_at),
        "last_attempt_at": _time(message.last_attempt_at),
        "delivered_at": _time(message.delivered_at),
    }


def attempt_view(attempt: Attempt) -> dict[str, Any]:
    return {
        "id": attempt.id,
        "message_id": attempt.message_id,
        "event_type": attempt.event_type,
        "attempt": attempt.number,
        "started_at": _time(attempt.started_at),
        "outcome": attempt.outcome,
        "http_status": attempt.http_status,
        "latency_ms": attempt.latency_ms,
        "error": attempt.error,
        "response_excerpt": attempt.response_excerpt,
    }


def encode_cursor(at: datetime, item_id: str) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{item_id}".encode()).decode()


def decode_cursor(raw: str | None) -> tuple[datetime, str] | None:
    if not raw:
        return None
    try:
        at, item_id = base64.urlsafe_b64decode(raw.encode()).decode().split("|", 1)
        return datetime.fromisoformat(at), item_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise Problem(
            400, "invalid_cursor", detail="The cursor is not one this API gave."
        ) from None
