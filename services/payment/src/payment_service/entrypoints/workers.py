"""The payment service's long-running processes.

python -m payment_service.entrypoints.workers charger|status-applier|relay|janitor
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable

import structlog
from psycopg_pool import ConnectionPool

from payevents.topics import PAYMENT_EVENTS, WEBHOOK_EVENTS
from paykit.consumer import ConsumerSettings
from paykit.db import create_pool
from paykit.health import HealthFile, health_file_for
from paykit.logging import configure_logging
from paykit.signals import on_stop_signals
from paykit.workers import exit_on_config_error, run_consumer, run_outbox_relay
from payment_service import settings as settings_module
from payment_service.adapters.psp import HttpPaymentProvider
from payment_service.adapters.repository import PostgresUnitOfWork
from payment_service.entrypoints.consumers import charger, status_applier
from payment_service.service_layer import handlers
from payment_service.service_layer.provider import PaymentProvider, ProviderUnavailable
from payment_service.settings import CHARGER_GROUP, STATUS_GROUP, PaymentSettings

log = structlog.get_logger(__name__)


def run_charger(config: PaymentSettings) -> None:
    psp = HttpPaymentProvider(config.psp_url, timeout_seconds=config.psp_timeout_seconds)
    settings = ConsumerSettings(
        PAYMENT_EVENTS,
        CHARGER_GROUP,
        batch_size=20,
        transaction_per_batch=False,
        retry_delays=config.charge_retry_delays,
    )
    try:
        run_consumer(
            settings,
            charger(psp),
            database_url=config.database_url.reveal(),
            bootstrap_servers=config.kafka_bootstrap_servers,
            client_id="payment-charger",
            metrics_port=config.metrics_port,
        )
    finally:
        psp.close()


def run_status_applier(config: PaymentSettings) -> None:
    settings = ConsumerSettings(WEBHOOK_EVENTS, STATUS_GROUP, batch_size=100)
    run_consumer(
        settings,
        status_applier(),
        database_url=config.database_url.reveal(),
        bootstrap_servers=config.kafka_bootstrap_servers,
        client_id="payment-status-applier",
        metrics_port=config.metrics_port,
    )


def run_janitor(config: PaymentSettings, stop: threading.Event | None = None) -> None:
    """Every interval: re-check stuck payments at the PSP and prune old idempotency keys."""
    stop = stop or threading.Event()
    on_stop_signals(stop.set)
    psp = HttpPaymentProvider(config.psp_url, timeout_seconds=config.psp_timeout_seconds)
    pool = create_pool(config.database_url.reveal(), max_size=1, name="payment-janitor")
    health = HealthFile(health_file_for("payment-janitor"), name="payment-janitor", min_interval=0)
    try:
        while not stop.is_set():
            health.beat()
            janitor_pass(config, pool, psp)
            stop.wait(config.janitor_interval_seconds)
    finally:
        psp.close()
        pool.close()


def janitor_pass(config: PaymentSettings, pool: ConnectionPool, psp: PaymentProvider) -> int:
    try:
        with pool.connection() as conn, conn.transaction():
            uow = PostgresUnitOfWork(conn)
            rechecked = handlers.recheck_unsettled(
                uow, psp, older_than_seconds=config.stuck_after_seconds, limit=10
            )
            pruned = uow.idempotency.prune(config.idempotency_retention_hours)
    except ProviderUnavailable as error:
        log.warning("janitor_psp_unavailable", error=str(error))
        return 0
    if rechecked or pruned:
        log.info("janitor_pass", rechecked=rechecked, idempotency_keys_pruned=pruned)
    return rechecked


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
