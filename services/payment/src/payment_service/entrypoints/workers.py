"""The payment service's long-running processes.

python -m payment_service.entrypoints.workers charger|status-applier|relay|janitor
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

import structlog

from payevents.topics import PAYMENT_EVENTS, WEBHOOK_EVENTS
from paykit.consumer import ConsumerSettings
from paykit.health import HealthFile, health_file_for
from paykit.logging import configure_logging
from paykit.signals import on_stop_signals
from paykit.workers import exit_on_config_error, run_consumer, run_outbox_relay
from payment_service import settings as settings_module
from payment_service.bootstrap import PaymentService, bootstrap
from payment_service.entrypoints.consumers import charger, status_applier
from payment_service.service_layer import janitor
from payment_service.settings import CHARGER_GROUP, STATUS_GROUP, PaymentSettings

log = structlog.get_logger(__name__)

# The consumer's max.poll.interval.ms (paykit.kafka_clients): a batch must end well inside it.
MAX_POLL_INTERVAL_SECONDS = 300.0
JANITOR_BATCH = 50


def _seconds_per_event(psp_timeout_seconds: float) -> float:
    """The longest a charger handler takes: one PSP call that times out, plus the connect."""
    return psp_timeout_seconds + 2.0


def charger_batch_size(psp_timeout_seconds: float, concurrency: int = 1) -> int:
    """Small enough that a batch whose every PSP call times out ends within half the poll
    interval: the consumer is never evicted.

    With ``concurrency`` handlers at once, a batch of distinct payments takes a ``concurrency``-th
    of the time, so it may be that many times bigger; the bigger batch also keeps every handler
    busy until near the batch's end (the runtime waits for the slowest before it commits). A
    batch whose events share a payment runs them one after another, which the size cannot
    bound: ``charger_batch_deadline`` does.
    """
    per_handler = int(MAX_POLL_INTERVAL_SECONDS / 2 // _seconds_per_event(psp_timeout_seconds))
    return max(1, min(20, per_handler)) * concurrency


def charger_batch_deadline(psp_timeout_seconds: float, concurrency: int) -> float | None:
    """No handler starts later than this into a batch, so the last one started still ends
    within half the poll interval; at least a second, so a batch always starts its first
    handlers. None with one handler at a time: the batch size bounds that batch on its own."""
    if concurrency == 1:
        return None
    return max(1.0, MAX_POLL_INTERVAL_SECONDS / 2 - _seconds_per_event(psp_timeout_seconds))


def charger_settings(config: PaymentSettings) -> ConsumerSettings:
    concurrency = config.charger_concurrency
    return ConsumerSettings(
        PAYMENT_EVENTS,
        CHARGER_GROUP,
        batch_size=charger_batch_size(config.psp_timeout_seconds, concurrency),
        transaction_per_batch=False,
        handler_transactions=True,
        handler_concurrency=concurrency,
        batch_deadline=charger_batch_deadline(config.psp_timeout_seconds, concurrency),
        retry_delays=config.charge_retry_delays,
    )


def run_charger(config: PaymentSettings) -> None:
    # each handler runs its short transactions on a connection of this pool, one at a time
    pool_size = max(2, config.charger_concurrency)
    service = bootstrap(config, name="payment-charger-work", pool_size=pool_size, with_psp=True)
    settings = charger_settings(config)
    try:
        run_consumer(
            settings,
            charger(service),
            database_url=config.database_url.reveal(),
            bootstrap_servers=config.kafka_bootstrap_servers,
            client_id="payment-charger",
            metrics_port=config.metrics_port,
        )
    finally:
        service.close()


def run_status_applier(config: PaymentSettings) -> None:
    service = bootstrap(config, name="payment-status-applier-work", pool_size=1)
    settings = ConsumerSettings(WEBHOOK_EVENTS, STATUS_GROUP, batch_size=100)
    try:
        run_consumer(
            settings,
            status_applier(service),
            database_url=config.database_url.reveal(),
            bootstrap_servers=config.kafka_bootstrap_servers,
            client_id="payment-status-applier",
            metrics_port=config.metrics_port,
        )
    finally:
        service.close()


def run_janitor(config: PaymentSettings, stop: threading.Event | None = None) -> None:
    """Every interval: check what is due at the PSP, then prune old idempotency keys."""
    stop = stop or threading.Event()
    on_stop_signals(stop.set)
    service = bootstrap(config, name="payment-janitor", pool_size=1, with_psp=True)
    health = HealthFile(health_file_for("payment-janitor"), name="payment-janitor", min_interval=0)
    try:
        while not stop.is_set():
            health.beat()
            janitor_pass(service)
            _wait_beating(stop, config.janitor_interval_seconds, health)
    finally:
        service.close()


def _wait_beating(stop: threading.Event, seconds: float, health: HealthFile) -> None:
    """Wait for the next pass, keeping the health file fresh however long the interval is."""
    deadline = time.monotonic() + seconds
    while not stop.wait(min(5.0, max(0.0, deadline - time.monotonic()))):
        health.beat()
        if time.monotonic() >= deadline:
            return


def janitor_pass(service: PaymentService) -> janitor.PassResult:
    """One pass; whatever goes wrong is logged and the next pass comes all the same."""
    result = janitor.PassResult()
    try:
        result = janitor.run_pass(service.provider, limit=JANITOR_BATCH)
    except Exception:
        log.exception("janitor_pass_failed")
    try:
        with service.transactions() as uow:
            pruned = uow.idempotency.prune(service.settings.idempotency_retention_hours)
    except Exception:
        log.exception("idempotency_prune_failed")
        pruned = 0
    if result.checked or result.failed or pruned:
        log.info(
            "janitor_pass",
            checked=result.checked,
            failed=result.failed,
            idempotency_keys_pruned=pruned,
        )
    return result


def main(argv: list[str] | None = None) -> int:
    return exit_on_config_error(lambda: _main(sys.argv[1:] if argv is None else argv))


def _main(args: list[str]) -> int:
    commands: dict[str, Callable[[PaymentSettings], None]] = {
        "charger": run_charger,
        "status-applier": run_status_applier,
        "janitor": run_janitor,
        "relay": lambda config: run_outbox_relay(
            database_url=config.database_url.reveal(),
            bootstrap_servers=config.kafka_bootstrap_servers,
            client_id="payment-relay",
            metrics_port=config.metrics_port,
        ),
    }
    if len(args) != 1 or args[0] not in commands:
        print(f"usage: workers {{{'|'.join(commands)}}}", file=sys.stderr)
        return 2
    config = settings_module.load()
    configure_logging(f"payment-{args[0]}", json=config.json_logs)
    commands[args[0]](config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
