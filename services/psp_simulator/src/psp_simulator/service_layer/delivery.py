"""Delivering queued webhooks: one attempt at a time, retried with backoff until accepted."""

import threading
from collections.abc import Callable
from dataclasses import dataclass

from paykit.logging import get_logger
from psp_simulator.domain.delivery import AttemptResult, DeliveryState, RetryPolicy
from psp_simulator.service_layer.ports import Clock, DeliveryQueue, Roll, WebhookTransport

_log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class AttemptReport:
    delivery_id: str
    event_id: str
    attempts: int
    result: AttemptResult
    state: DeliveryState
    next_attempt_at: float | None
    recorded: bool


@dataclass(frozen=True, slots=True)
class WebhookSender:
    """Claims due deliveries and sends them; any number of senders may share one queue.

    `lease_seconds` must outlast one attempt (connect, send, wait for the answer): a claim held
    longer than that is taken to belong to a sender that died, and the delivery is tried again.
    """

    queue: DeliveryQueue
    transport: WebhookTransport
    policy: RetryPolicy
    clock: Clock
    roll: Roll
    lease_seconds: float
    poll_interval_seconds: float
    # Queue errors worth waiting out (the store restarting); anything else stops the sender.
    transient_errors: tuple[type[Exception], ...] = ()
    # Called on every turn of the loop: the process's liveness signal (paykit.health).
    heartbeat: Callable[[], None] = lambda: None

    def deliver_next(self) -> AttemptReport | None:
        """Make one attempt at the next due delivery; None when nothing is due."""
        now = self.clock()
        claimed = self.queue.claim(now=now, lease_until=now + self.lease_seconds)
        if claimed is None:
            return None
        result = self.transport.send(claimed.body, claimed.target)
        finished_at = self.clock()
        next_attempt_at: float | None = None
        if result.accepted:
            state = DeliveryState.DELIVERED
        else:
            next_attempt_at = self.policy.next_attempt_at(
                failed_attempts=claimed.attempts,
                first_due_at=claimed.first_due_at,
                now=finished_at,
                roll=self.roll(),
            )
            state = DeliveryState.SCHEDULED if next_attempt_at is not None else DeliveryState.DEAD
        recorded = self.queue.finish(
            claimed, result=result, state=state, next_attempt_at=next_attempt_at, now=finished_at
        )
        report = AttemptReport(
            claimed.id, claimed.event_id, claimed.attempts, result, state, next_attempt_at, recorded
        )
        _log_attempt(report)
        return report

    def run(self, stop: threading.Event) -> None:
        """Deliver until `stop` is set; the attempt in hand is always finished and recorded."""
        _log.info("webhook_sender_started")
        while not stop.is_set():
            self.heartbeat()
            try:
                report = self.deliver_next()
            except self.transient_errors as error:
                _log.warning("webhook_queue_unavailable", error=type(error).__name__)
                stop.wait(max(self.poll_interval_seconds, 1.0))
                continue
            if report is None:
                stop.wait(self.poll_interval_seconds)
        _log.info("webhook_sender_stopped")


def _log_attempt(report: AttemptReport) -> None:
    fields = {
        "delivery_id": report.delivery_id,
        "event_id": report.event_id,
        "attempt": report.attempts,
        "status_code": report.result.status_code,
        "error": report.result.error,
    }
    if not report.recorded:
        _log.warning("webhook_claim_lost", **fields)
    elif report.state is DeliveryState.DELIVERED:
        _log.info("webhook_delivered", **fields)
    elif report.state is DeliveryState.DEAD:
        _log.error("webhook_given_up", **fields)
    else:
        _log.info("webhook_attempt_failed", next_attempt_at=report.next_attempt_at, **fields)
