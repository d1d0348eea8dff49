"""The settlement service's long-running processes.

python -m settlement_service.entrypoints.workers itemizer|scheduler|payout-applier|relay|janitor
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

import structlog

from payevents.topics import LEDGER_EVENTS, WEBHOOK_EVENTS
from paykit.consumer import ConsumerSettings
from paykit.health import HealthFile, health_file_for
from paykit.logging import configure_logging
from paykit.settings import ConfigError, ConfigProblem
from paykit.signals import on_stop_signals
from paykit.workers import exit_on_config_error, run_consumer, run_outbox_relay
from settlement_service import settings as settings_module
from settlement_service.bootstrap import SettlementService, bootstrap
from settlement_service.entrypoints.consumers import itemizer, payout_applier
from settlement_service.entrypoints.scheduler import run_scheduler
from settlement_service.service_layer import janitor
from settlement_service.settings import ITEMIZER_GROUP, PAYOUT_APPLIER_GROUP, SettlementSettings

log = structlog.get_logger(__name__)
JANITOR_BATCH = 50


def run_itemizer(config: SettlementSettings) -> None:
    run_consumer(
        ConsumerSettings(LEDGER_EVENTS, ITEMIZER_GROUP, batch_size=200),
        itemizer(),
        database_url=config.database_url.reveal(),
        bootstrap_servers=config.kafka_bootstrap_servers,
        client_id="settlement-itemizer",
        metrics_port=config.metrics_port,
    )


def run_payout_applier(config: SettlementSettings) -> None:
    if PAYOUT_APPLIER_GROUP not in {group.name for group in WEBHOOK_EVENTS.consumers}:
        raise ConfigError(
            ConfigProblem(
                "topic catalogue",
                f"webhook-events has no consumer group {PAYOUT_APPLIER_GROUP} yet",
            )
        )
    service = bootstrap(config, name="settlement-payout-applier-work", with_bank=True)
    settings = ConsumerSettings(
        WEBHOOK_EVENTS,
        PAYOUT_APPLIER_GROUP,
        batch_size=20,
        transaction_per_batch=False,
        handler_transactions=True,
    )
    try:
        run_consumer(
            settings,
            payout_applier(service),
            database_url=config.database_url.reveal(),
            bootstrap_servers=config.kafka_bootstrap_servers,
            client_id="settlement-payout-applier",
            metrics_port=config.metrics_port,
        )
    finally:
        service.close()


def run_janitor(config: SettlementSettings, stop: threading.Event | None = None) -> None:
    """Every interval: finish every payout nobody finished (``service_layer.janitor``)."""
    stop = stop or threading.Event()
    on_stop_signals(stop.set)
    service = bootstrap(config, name="settlement-janitor", with_bank=True)
    health = HealthFile(
        health_file_for("settlement-janitor"), name="settlement-janitor", min_interval=0
    )
    try:
        while not stop.is_set():
            health.beat()
            janitor_pass(service)
            wait_beating(stop, config.janitor_interval_seconds, health)
    finally:
        service.close()


def wait_beating(stop: threading.Event, seconds: float, health: HealthFile) -> bool:
    """Wait ``seconds`` keeping the health file fresh; True when asked to stop meanwhile."""
    deadline = time.monotonic() + seconds
    while not stop.wait(min(5.0, max(0.0, deadline - time.monotonic()))):
        health.beat()
        if time.monotonic() >= deadline:
            return False
    return True


def janitor_pass(service: SettlementService) -> janitor.PassResult:
    result = janitor.PassResult()
    try:
        result = janitor.run_pass(service, limit=JANITOR_BATCH)
    except Exception:
        log.exception("janitor_pass_failed")
    if result.checked or result.failed:
        log.info(
            "janitor_pass",
            checked=result.checked,
            failed=result.failed,
            awaiting_ledger=result.awaiting_ledger,
        )
    return result


def main(argv: list[str] | None = None) -> int:
    return exit_on_config_error(lambda: _main(sys.argv[1:] if argv is None else argv))


def _main(args: list[str]) -> int:
    commands: dict[str, Callable[[SettlementSettings], None]] = {
        "itemizer": run_itemizer,
        "scheduler": run_scheduler,
        "payout-applier": run_payout_applier,
        "janitor": run_janitor,
        "relay": lambda config: run_outbox_relay(
            database_url=config.database_url.reveal(),
            bootstrap_servers=config.kafka_bootstrap_servers,
            client_id="settlement-relay",
            metrics_port=config.metrics_port,
        ),
    }
    if len(args) != 1 or args[0] not in commands:
        print(f"usage: workers {{{'|'.join(commands)}}}", file=sys.stderr)
        return 2
    config = settings_module.load()
    configure_logging(f"settlement-{args[0]}", json=config.json_logs)
    commands[args[0]](config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
