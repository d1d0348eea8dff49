"""Merchants' endpoints: register, change, rotate the secret, redeliver, read the delivery log.

Every use case takes the merchant from the caller's token and reads the endpoint through it,
so an id of another merchant's endpoint is ``EndpointNotFound``, exactly like one that never
existed. A URL is checked against the target policy when registered or changed; the dispatcher
checks the addresses again at every call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

from psycopg_pool import ConnectionPool

from paykit.db import Connection, transaction
from webhook_service.adapters.endpoint_repository import EndpointRepository
from webhook_service.adapters.message_repository import MessageRepository
from webhook_service.adapters.request_keys import KeyedRequest, RequestKeys
from webhook_service.adapters.secret_repository import SecretRepository
from webhook_service.adapters.secret_sealing import SecretSealer
from webhook_service.domain.endpoints import (
    Attempt,
    DisabledReason,
    Endpoint,
    EndpointSecret,
    Message,
    Notice,
    new_endpoint_id,
    new_secret_id,
)
from webhook_service.domain.outbound_targets import TargetRefused
from webhook_service.domain.public_events import PUBLIC_EVENT_TYPES
from webhook_service.domain.standard_webhooks import generate_secret

DEFAULT_ROTATION_OVERLAP: Final = timedelta(hours=24)
MAX_ROTATION_OVERLAP: Final = timedelta(days=7)
# How long a registration or change waits for its URL's name to resolve. A merchant is waiting
# on the answer, and a name server that does not answer would otherwise hold a web thread for
# its own timeout (5 s per try): past this, the name is refused as unresolvable, to retry.
VET_WITHIN_SECONDS: Final = 2.0

# Checks a URL may be called now: raises TargetRefused (see adapters.outbound_http).
UrlVetter = Callable[[str], object]


@dataclass(frozen=True)
class KeyedAsk:
    """A request's Idempotency-Key and what it asked for (method, path and body digested)."""

    key: str
    fingerprint: str


@dataclass(frozen=True)
class Issued:
    """An answer that carries a secret: a registration or a rotation."""

    endpoint: Endpoint
    secret: str | None  # None only in a replay after the secret stopped signing
    previous_secret_expires_at: datetime | None
    replayed: bool


class IdempotencyKeyReused(Exception):
    """The key was used before for a different request."""


class EndpointNotFound(Exception):
    def __init__(self, endpoint_id: str) -> None:
        super().__init__(f"no webhook endpoint {endpoint_id!r}")
        self.endpoint_id = endpoint_id


class UnknownEventTypes(ValueError):
    def __init__(self, unknown: Sequence[str]) -> None:
        super().__init__(f"unknown event types: {', '.join(unknown)}")
        self.unknown = tuple(unknown)


@dataclass(frozen=True)
class EndpointDetails:
    endpoint: Endpoint
    secrets: tuple[EndpointSecret, ...]  # in force; only their ids and times are shown
    notices: tuple[Notice, ...]


@dataclass(frozen=True)
class Endpoints:
    pool: ConnectionPool
    sealer: SecretSealer
    vet_url: UrlVetter
    clock: Callable[[], datetime]

    def _owned(
        self, conn: Connection, merchant_id: str, endpoint_id: str, *, lock: bool = True
    ) -> Endpoint:
        endpoint = EndpointRepository(conn).get(merchant_id, endpoint_id, for_update=lock)
        if endpoint is None:
            raise EndpointNotFound(endpoint_id)
        return endpoint

    def register(
        self,
        merchant_id: str,
        *,
        url: str,
        event_types: Sequence[str],
        description: str = "",
        enabled: bool = True,
        request: KeyedAsk | None = None,
    ) -> Issued:
        """The new endpoint and its secret: the only answer that shows the secret (and its
        replay, for a repeated request with the same Idempotency-Key, while it is in force)."""
        self.vet_url(url)
        now = self.clock()
        endpoint = Endpoint(
            id=new_endpoint_id(),
            merchant_id=merchant_id,
            url=url,
            description=description,
            event_types=_event_types(event_types),
            enabled=enabled,
            disabled_reason=None if enabled else DisabledReason.BY_MERCHANT,
            disabled_at=None if enabled else now,
            created_at=now,
            updated_at=now,
            last_success_at=None,
        )
        secret = EndpointSecret(new_secret_id(), generate_secret(), now, None)
        with transaction(self.pool) as conn:
            made = KeyedRequest("", endpoint.id, secret.id)
            earlier = _claim(conn, merchant_id, request, made, now)
            if earlier is not None:
                return self._replay(conn, merchant_id, earlier)
            EndpointRepository(conn).save(endpoint)
            SecretRepository(conn, self.sealer).add_secret(
                endpoint.id, secret.secret, now, secret_id=secret.id
            )
        return Issued(endpoint, secret.secret, None, replayed=False)

    def _replay(self, conn: Connection, merchant_id: str, earlier: KeyedRequest) -> Issued:
        endpoint = EndpointRepository(conn).get(merchant_id, earlier.endpoint_id)
        if endpoint is None:
            raise EndpointNotFound(earlier.endpoint_id)
        secret = SecretRepository(conn, self.sealer).in_force(
            endpoint.id, earlier.secret_id, self.clock()
        )
        return Issued(
            endpoint,
            None if secret is None else secret.secret,
            earlier.previous_secret_expires_at,
            replayed=True,
        )

    def details(self, merchant_id: str, endpoint_id: str) -> EndpointDetails:
        with transaction(self.pool) as conn:
            endpoint = self._owned(conn, merchant_id, endpoint_id, lock=False)
            in_force = SecretRepository(conn, self.sealer).secrets_in_force(
                endpoint_id, self.clock()
            )
            notices = EndpointRepository(conn).notices(endpoint_id)
        return EndpointDetails(endpoint, tuple(in_force), tuple(notices))

    def of_merchant(
        self, merchant_id: str, *, after: tuple[datetime, str] | None, limit: int
    ) -> list[Endpoint]:
        with transaction(self.pool) as conn:
            return EndpointRepository(conn).of_merchant(merchant_id, after=after, limit=limit)

    def update(
        self,
        merchant_id: str,
        endpoint_id: str,
        *,
        url: str | None = None,
        event_types: Sequence[str] | None = None,
        description: str | None = None,
        enabled: bool | None = None,
    ) -> Endpoint:
        if url is not None:
            self.vet_url(url)
        now = self.clock()
        with transaction(self.pool) as conn:
            endpoint = self._owned(conn, merchant_id, endpoint_id)
            changed = replace(
                endpoint,
                url=endpoint.url if url is None else url,
                event_types=endpoint.event_types
                if event_types is None
                else _event_types(event_types),
                description=endpoint.description if description is None else description,
                updated_at=now,
            )
            if enabled is True and not endpoint.enabled:
                changed = replace(changed, enabled=True, disabled_reason=None, disabled_at=None)
                MessageRepository(conn).restart_pending(endpoint_id, now)
            elif enabled is False and endpoint.enabled:
                changed = replace(
                    changed,
                    enabled=False,
                    disabled_reason=DisabledReason.BY_MERCHANT,
                    disabled_at=now,
                )
            if replace(changed, updated_at=endpoint.updated_at) == endpoint:
                return endpoint  # nothing to change: a retried change answers the same
            EndpointRepository(conn).save(changed)
        return changed

    def remove(self, merchant_id: str, endpoint_id: str) -> None:
        with transaction(self.pool) as conn:
            if not EndpointRepository(conn).remove(merchant_id, endpoint_id):
                raise EndpointNotFound(endpoint_id)

    def rotate_secret(
        self,
        merchant_id: str,
        endpoint_id: str,
        *,
        overlap: timedelta = DEFAULT_ROTATION_OVERLAP,
        request: KeyedAsk | None = None,
    ) -> Issued:
        """A new current secret; the old one keeps signing beside it until the overlap ends."""
        if not timedelta(0) <= overlap <= MAX_ROTATION_OVERLAP:
            raise ValueError(f"overlap must be between 0 and {MAX_ROTATION_OVERLAP}")
        now = self.clock()
        secret = EndpointSecret(new_secret_id(), generate_secret(), now, None)
        with transaction(self.pool) as conn:
            endpoint = self._owned(conn, merchant_id, endpoint_id)
            asked = KeyedRequest("", endpoint_id, secret.id, now + overlap)
            earlier = _claim(conn, merchant_id, request, asked, now)
            if earlier is not None:
                return self._replay(conn, merchant_id, earlier)
            secrets = SecretRepository(conn, self.sealer)
            secrets.prune_expired_secrets(endpoint_id, now)
            secrets.expire_current_secret(endpoint_id, now + overlap)
            secrets.add_secret(endpoint_id, secret.secret, now, secret_id=secret.id)
        return Issued(endpoint, secret.secret, now + overlap, replayed=False)

    def redeliver(
        self,
        merchant_id: str,
        endpoint_id: str,
        *,
        event_id: str | None = None,
        since: datetime | None = None,
    ) -> int:
        """Send one event again, or every event since a time (held ones included); say how many."""
        if (event_id is None) == (since is None):
            raise ValueError("name an event or a time, not both")
        with transaction(self.pool) as conn:
            self._owned(conn, merchant_id, endpoint_id)
            return MessageRepository(conn).redeliver(
                endpoint_id, event_id=event_id, since=since, now=self.clock()
            )

    def messages(
        self,
        merchant_id: str,
        endpoint_id: str,
        *,
        state: str | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Message]:
        with transaction(self.pool) as conn:
            self._owned(conn, merchant_id, endpoint_id, lock=False)
            return MessageRepository(conn).messages(
                endpoint_id, state=state, after=after, limit=limit
            )

    def attempts(
        self,
        merchant_id: str,
        endpoint_id: str,
        *,
        message_id: str | None,
        before_seq: int | None,
        limit: int,
    ) -> list[Attempt]:
        with transaction(self.pool) as conn:
            self._owned(conn, merchant_id, endpoint_id, lock=False)
            return MessageRepository(conn).attempts(
                endpoint_id, message_id=message_id, before_seq=before_seq, limit=limit
            )


def _claim(
    conn: Connection,
    merchant_id: str,
    request: KeyedAsk | None,
    made: KeyedRequest,
    now: datetime,
) -> KeyedRequest | None:
    """What an earlier request with the same key made, or None: this one makes it."""
    if request is None:
        return None
    mine = replace(made, fingerprint=request.fingerprint)
    earlier = RequestKeys(conn).claim(merchant_id, request.key, mine, now)
    if earlier is not None and earlier.fingerprint != request.fingerprint:
        raise IdempotencyKeyReused(request.key)
    return earlier


def _event_types(requested: Sequence[str]) -> tuple[str, ...]:
    unknown = sorted(set(requested) - PUBLIC_EVENT_TYPES)
    if unknown:
        raise UnknownEventTypes(unknown)
    if not requested:
        raise UnknownEventTypes(["(none given)"])
    return tuple(sorted(set(requested)))


__all__ = ["EndpointNotFound", "Endpoints", "TargetRefused", "UnknownEventTypes"]
