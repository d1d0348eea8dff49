"""A merchant's webhook endpoint and the messages queued for it.

An endpoint belongs to one merchant; every read and write names the merchant, so another
merchant's endpoint is simply not found. A message is one event for one endpoint: its id is the
``webhook-id`` header, derived from the two, so it is the same on every attempt, every
redelivery and after any crash, and a receiver deduplicates on it.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from paykit.canonical import digest


class MessageState(enum.StrEnum):
    PENDING = "pending"  # due at next_attempt_at
    DELIVERED = "delivered"  # an attempt got a 2xx
    FAILED = "failed"  # the retry horizon passed without a 2xx
    HELD = "held"  # the endpoint was disabled when the event happened: sent only if redelivered


class DisabledReason(enum.StrEnum):
    BY_MERCHANT = "disabled_by_merchant"
    FAILING = "failing"  # every attempt failed for the whole retry horizon


ENDPOINT_DISABLED_NOTICE: Final = "webhook_endpoint.disabled"


def new_endpoint_id() -> str:
    return f"we_{secrets.token_hex(12)}"


def new_secret_id() -> str:
    return f"whs_{secrets.token_hex(12)}"


def new_notice_id() -> str:
    return f"ntc_{secrets.token_hex(12)}"


def message_id(endpoint_id: str, event_id: str) -> str:
    return f"msg_{digest(endpoint_id, event_id)[:32]}"


@dataclass(frozen=True)
class Endpoint:
    id: str
    merchant_id: str
    url: str
    description: str
    event_types: tuple[str, ...]
    enabled: bool
    disabled_reason: DisabledReason | None
    disabled_at: datetime | None
    created_at: datetime
    updated_at: datetime
    last_success_at: datetime | None


@dataclass(frozen=True)
class EndpointSecret:
    id: str
    secret: str
    created_at: datetime
    expires_at: datetime | None  # None: the current secret


@dataclass(frozen=True)
class Notice:
    """Something a merchant should see about an endpoint (it was disabled, and why)."""

    id: str
    endpoint_id: str
    type: str
    occurred_at: datetime
    detail: str


@dataclass(frozen=True)
class DisabledEndpoint:
    """An endpoint just disabled for failing: whose it is, and the notice its merchant sees."""

    merchant_id: str
    notice: Notice


@dataclass(frozen=True)
class Message:
    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    state: MessageState
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None


@dataclass(frozen=True)
class Attempt:
    """One HTTP call as the delivery log keeps it."""

    id: str
    message_id: str
    endpoint_id: str
    event_type: str
    number: int
    started_at: datetime
    outcome: str  # in_flight, succeeded, failed, abandoned
    http_status: int | None
    latency_ms: int | None
    error: str | None
    response_excerpt: str | None
    seq: int
