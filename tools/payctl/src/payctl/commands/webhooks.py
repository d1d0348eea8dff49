"""A merchant's webhook endpoints: register, change, rotate secrets, read the log, redeliver.

Through the gateway's ``/v1/webhook_endpoints`` with the login token. A secret is printed
once, when it is made (``create``, ``rotate-secret``); the platform cannot show it again. An
endpoint the platform disabled after failing for the whole retry horizon says so in ``list``
(its ``disabled_reason``) and, with the notice's detail, in ``get``.
"""

from __future__ import annotations

import uuid
from typing import Any

import click

from payctl.options import json_option, session
from payctl.output import emit, fields, page, table

EVENT_TYPES = [
    "payment.succeeded",
    "payment.failed",
    "refund.succeeded",
    "refund.failed",
    "settlement.batch_paid",
    "settlement.batch_failed",
]
ENDPOINT_FIELDS = [
    "id",
    "url",
    "description",
    "event_types",
    "enabled",
    "disabled_reason",
    "disabled_at",
    "last_success_at",
    "created_at",
]
LIST_COLUMNS = ["id", "url", "enabled", "disabled_reason", "event_types", "last_success_at"]
ATTEMPT_COLUMNS = [
    "started_at",
    "message_id",
    "event_type",
    "attempt",
    "outcome",
    "http_status",
    "latency_ms",
    "error",
]
MESSAGE_COLUMNS = ["id", "event_id", "event_type", "state", "attempts", "next_attempt_at"]
STATES = ["pending", "delivered", "failed", "held"]
BASE = "/v1/webhook_endpoints"


def _post(path: str, body: dict[str, Any]) -> Any:
    return session().merchant_gateway().post(path, body, idempotency_key=str(uuid.uuid4()))


def _with_secret(made: dict[str, Any], keys: list[str]) -> str:
    shown = fields(made, keys)
    return f"{shown}\nsecret  {made.get('secret')}  (shown once: keep it now)"


def _notices(found: dict[str, Any]) -> str:
    notices = found.get("notices") or []
    return "\n".join(
        f"notice: {n.get('type')} at {n.get('occurred_at')}: {n.get('detail')}" for n in notices
    )


@click.group()
def webhooks() -> None:
    """Webhook endpoints the platform calls with signed events (a merchant: payctl login)."""


@webhooks.command("create")
@click.option("--url", required=True, help="Where the platform POSTs events (https://...).")
@click.option(
    "--event",
    "events",
    multiple=True,
    required=True,
    type=click.Choice(EVENT_TYPES),
    help="An event type to receive; repeat for several.",
)
@click.option("--description", default=None)
@click.option("--disabled", is_flag=True, help="Register it without calling it yet.")
@json_option
def create_endpoint(
    url: str, events: tuple[str, ...], description: str | None, disabled: bool
) -> None:
    """Register an endpoint; prints its signing secret, this once."""
    body: dict[str, Any] = {"url": url, "event_types": list(events), "enabled": not disabled}
    if description is not None:
        body["description"] = description
    made = _post(BASE, body)
    emit(session().json, made, _with_secret(made, ENDPOINT_FIELDS))


@webhooks.command("list")
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--cursor", default=None, help="next_cursor of the page before.")
@json_option
def list_endpoints(limit: int, cursor: str | None) -> None:
    """Endpoints, oldest first; a disabled one shows why."""
    s = session()
    found = s.merchant_gateway().get(BASE, {"limit": limit, "cursor": cursor})
    emit(s.json, found, page(found, LIST_COLUMNS))


@webhooks.command("get")
@click.argument("endpoint_id")
@json_option
def get_endpoint(endpoint_id: str) -> None:
    """One endpoint, the secrets in force (ids and expiry, never the secret) and its notices."""
    s = session()
    found = s.merchant_gateway().get(f"{BASE}/{endpoint_id}")
    secrets = table(found.get("secrets") or [], ["id", "created_at", "expires_at"])
    human = "\n".join(
        part for part in (fields(found, ENDPOINT_FIELDS), secrets, _notices(found)) if part
    )
    emit(s.json, found, human)


@webhooks.command("update")
@click.argument("endpoint_id")
@click.option("--url", default=None)
@click.option("--event", "events", multiple=True, type=click.Choice(EVENT_TYPES))
@click.option("--description", default=None)
@click.option("--enable/--disable", "enabled", default=None, help="Turn calls on or off.")
@json_option
def update_endpoint(
    endpoint_id: str,
    url: str | None,
    events: tuple[str, ...],
    description: str | None,
    enabled: bool | None,
) -> None:
    """Change an endpoint; --enable after the platform disabled it resumes what is pending."""
    body: dict[str, Any] = {
        k: v
        for k, v in (
            ("url", url),
            ("event_types", list(events) or None),
            ("description", description),
            ("enabled", enabled),
        )
        if v is not None
    }
    changed = _post(f"{BASE}/{endpoint_id}", body)
    emit(session().json, changed, fields(changed, ENDPOINT_FIELDS))


@webhooks.command("delete")
@click.argument("endpoint_id")
@json_option
def delete_endpoint(endpoint_id: str) -> None:
    """Remove an endpoint and its delivery log."""
    s = session()
    s.merchant_gateway().request("DELETE", f"{BASE}/{endpoint_id}")
    emit(s.json, {"id": endpoint_id, "deleted": True}, f"deleted {endpoint_id}")


@webhooks.command("rotate-secret")
@click.argument("endpoint_id")
@click.option(
    "--overlap",
    type=click.IntRange(0, 7 * 86400),
    default=86400,
    show_default=True,
    help="Seconds the old secret keeps signing beside the new one.",
)
@json_option
def rotate_secret(endpoint_id: str, overlap: int) -> None:
    """A new signing secret; both sign until the overlap ends."""
    made = _post(f"{BASE}/{endpoint_id}/rotate_secret", {"overlap_seconds": overlap})
    emit(session().json, made, _with_secret(made, ["id", "previous_secret_expires_at"]))


@webhooks.command("attempts")
@click.argument("endpoint_id")
@click.option("--message", "message_id", default=None, help="Only this message's attempts.")
@click.option("--limit", type=click.IntRange(1, 200), default=50, show_default=True)
@click.option("--cursor", default=None, help="next_cursor of the page before.")
@json_option
def list_attempts(endpoint_id: str, message_id: str | None, limit: int, cursor: str | None) -> None:
    """The delivery log: every call, newest first, with its status, latency and error."""
    s = session()
    found = s.merchant_gateway().get(
        f"{BASE}/{endpoint_id}/attempts",
        {"message_id": message_id, "limit": limit, "cursor": cursor},
    )
    emit(s.json, found, page(found, ATTEMPT_COLUMNS))


@webhooks.command("messages")
@click.argument("endpoint_id")
@click.option("--state", type=click.Choice(STATES), default=None)
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--cursor", default=None, help="next_cursor of the page before.")
@json_option
def list_messages(endpoint_id: str, state: str | None, limit: int, cursor: str | None) -> None:
    """One line per event sent (or to send) to the endpoint, newest first."""
    s = session()
    found = s.merchant_gateway().get(
        f"{BASE}/{endpoint_id}/messages", {"state": state, "limit": limit, "cursor": cursor}
    )
    emit(s.json, found, page(found, MESSAGE_COLUMNS))


@webhooks.command("redeliver")
@click.argument("endpoint_id")
@click.option("--event", "event_id", default=None, help="Send this event again.")
@click.option("--since", default=None, help="Send every event since then (ISO 8601 time).")
@json_option
def redeliver(endpoint_id: str, event_id: str | None, since: str | None) -> None:
    """Send one event again, or everything since a time (with the same webhook-id)."""
    if (event_id is None) == (since is None):
        raise click.UsageError("give exactly one of --event and --since")
    body = {"event_id": event_id} if event_id else {"since": since}
    done = _post(f"{BASE}/{endpoint_id}/redeliveries", body)
    emit(session().json, done, f"{done.get('redelivered', 0)} event(s) queued again")
