"""The dispatcher: works the per-endpoint queues with bounded concurrency.

Each attempt is: claim (a short transaction: lease, attempt row, commit), read the endpoint's
secrets, sign, call (no transaction open, bounded by the attempt timeout), record the answer
(a second short transaction). Isolation between endpoints comes from two bounds: at most
``per_endpoint`` attempts of one endpoint are out at once, so a slow or dead endpoint holds
that many of the ``concurrency`` threads and no more; and every call ends by its timeout. A
healthy endpoint's message therefore waits at most for a free thread, not for anyone's
backlog. A crash between claim and record loses nothing: the lease runs out and the message
is sent again with the same ``webhook-id``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

import psycopg
from psycopg_pool import ConnectionPool

from paykit.db import transaction
from paykit.health import HealthFile
from paykit.logging import get_logger
from webhook_service.adapters.endpoint_repository import EndpointRepository
from webhook_service.adapters.event_outbox import PostgresEventOutbox
from webhook_service.adapters.message_repository import (
    WAKE_CHANNEL,
    AttemptResult,
    ClaimedAttempt,
    MessageRepository,
)
from webhook_service.adapters.secret_repository import SecretRepository
from webhook_service.adapters.secret_sealing import SecretSealer, UnopenableSecret
from webhook_service.domain.retry_schedule import RetrySchedule
from webhook_service.domain.standard_webhooks import signed_headers
from webhook_service.service_layer.endpoint_events import endpoint_disabled

_log = get_logger(__name__)


class Sender(Protocol):
    def send(self, url: str, headers: Mapping[str, str], body: bytes) -> AttemptResult: ...


@dataclass(frozen=True)
class DispatchPolicy:
    concurrency: int = 16
    per_endpoint: int = 2
    attempt_timeout_seconds: float = 15.0
    poll_interval_seconds: float = 1.0
    schedule: RetrySchedule = field(default_factory=RetrySchedule)
    lease_margin_seconds: float = 30.0

    @property
    def lease(self) -> timedelta:
        """Longer than any call can take, so a lease only runs out when its holder died."""
        return timedelta(seconds=self.attempt_timeout_seconds + self.lease_margin_seconds)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Dispatcher:
    def __init__(
        self,
        pool: ConnectionPool,
        sender: Sender,
        sealer: SecretSealer,
        policy: DispatchPolicy,
        *,
        database_url: str,
        clock: Callable[[], datetime] = _utc_now,
        health: HealthFile | None = None,
    ) -> None:
        self.pool = pool
        self.sender = sender
        self.sealer = sealer
        self.policy = policy
        self.database_url = database_url
        self.clock = clock
        self.health = health or HealthFile(None, name="webhook-dispatcher")
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._in_flight = 0

    def stop(self) -> None:
        """Claim nothing more; the calls out finish (within their timeout), then ``run`` ends."""
        self._stop.set()
        self._wake.set()

    def run(self) -> None:
        listener = threading.Thread(target=self._listen, name="dispatcher-listen", daemon=True)
        listener.start()
        _log.info(
            "dispatcher_started",
            concurrency=self.policy.concurrency,
            per_endpoint=self.policy.per_endpoint,
            attempt_timeout_seconds=self.policy.attempt_timeout_seconds,
            horizon_seconds=self.policy.schedule.horizon.total_seconds(),
        )
        with ThreadPoolExecutor(self.policy.concurrency, "dispatch") as workers:
            while not self._stop.is_set():
                self.health.beat()
                self._wake.clear()
                claimed = self._claim()
                for attempt in claimed:
                    workers.submit(self._deliver, attempt)
                if not claimed or self._free_slots() == 0:
                    self._wake.wait(self.policy.poll_interval_seconds)
        _log.info("dispatcher_stopped")

    def _free_slots(self) -> int:
        with self._lock:
            return self.policy.concurrency - self._in_flight

    def _claim(self) -> list[ClaimedAttempt]:
        free = self._free_slots()
        if free <= 0:
            return []
        try:
            with transaction(self.pool) as conn:
                claimed = MessageRepository(conn).claim(
                    limit=free, per_endpoint=self.policy.per_endpoint, lease=self.policy.lease
                )
        except psycopg.Error as error:
            self.health.report(ready=False, reason=f"database: {error}")
            _log.warning("dispatcher_claim_failed", error=str(error))
            return []
        self.health.report(ready=True)
        with self._lock:
            self._in_flight += len(claimed)
        return claimed

    def _deliver(self, claimed: ClaimedAttempt) -> None:
        try:
            self.attempt(claimed)
        except Exception:
            # The lease runs out and the message is tried again: nothing is lost.
            _log.exception("webhook_attempt_unrecorded", message_id=claimed.message_id)
        finally:
            with self._lock:
                self._in_flight -= 1
            self._wake.set()

    def attempt(self, claimed: ClaimedAttempt) -> AttemptResult:
        """Sign, call, record: the part of one attempt after its claim committed."""
        now = self.clock()
        try:
            with transaction(self.pool) as conn:
                in_force = SecretRepository(conn, self.sealer).secrets_in_force(
                    claimed.endpoint_id, now
                )
            headers = signed_headers(
                [s.secret for s in in_force],
                claimed.message_id,
                int(now.timestamp()),
                claimed.payload,
            )
        except (UnopenableSecret, ValueError) as error:
            _log.error(
                "webhook_secret_unavailable", endpoint_id=claimed.endpoint_id, error=str(error)
            )
            result = AttemptResult(False, None, 0, "secret_unavailable", None)
        else:
            result = self.sender.send(claimed.url, headers, claimed.payload)
        self._record(claimed, result)
        return result

    def _record(self, claimed: ClaimedAttempt, result: AttemptResult) -> None:
        now = self.clock()
        next_attempt_at = None
        if not result.succeeded:
            next_attempt_at = self.policy.schedule.next_attempt(
                series_started=claimed.series_started_at,
                failed_attempts=claimed.series_attempts,
                now=now,
            )
        with transaction(self.pool) as conn:
            MessageRepository(conn).record(claimed, result, next_attempt_at=next_attempt_at)
            disabled = None
            if not result.succeeded and next_attempt_at is None:
                disabled = EndpointRepository(conn).disable_failing(
                    claimed.endpoint_id,
                    failing_since=claimed.series_started_at,
                    now=now,
                    detail=(
                        f"Disabled after failing every attempt for"
                        f" {self.policy.schedule.horizon}; last error: {result.error}"
                        + (f" (HTTP {result.http_status})" if result.http_status else "")
                        + ". Enable it again once it answers, then redeliver what it missed."
                    ),
                )
            if disabled is not None:
                PostgresEventOutbox(conn).add(
                    endpoint_disabled(
                        disabled,
                        failing_since=claimed.series_started_at,
                        last_error=result.error,
                    )
                )
        _log.info(
            "webhook_attempt",
            message_id=claimed.message_id,
            endpoint_id=claimed.endpoint_id,
            attempt=claimed.number,
            succeeded=result.succeeded,
            http_status=result.http_status,
            error=result.error,
            latency_ms=result.latency_ms,
            next_attempt_at=None if next_attempt_at is None else next_attempt_at.isoformat(),
        )
        if disabled is not None:
            _log.warning("webhook_endpoint_disabled", endpoint_id=claimed.endpoint_id)

    def _listen(self) -> None:
        """Wake the loop when a message is queued; the timed poll covers a lost connection."""
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.database_url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {WAKE_CHANNEL}")
                    while not self._stop.is_set():
                        if list(conn.notifies(timeout=0.5, stop_after=1)):
                            self._wake.set()
            except psycopg.Error as error:
                _log.warning("dispatcher_listen_failed", error=str(error))
                self._stop.wait(1.0)
