"""The outbound side's processes (``python -m webhook_service.entrypoints.merchant_webhooks``):

    payment-notifier | settlement-notifier | dispatcher

The notifiers consume payment-events and settlement-events (the kit's inbox, retry tiers and
DLQ) and queue a message per subscribed endpoint; the dispatcher calls the endpoints. Several
dispatchers may run: claims skip rows another holds, and the per-endpoint bound counts every
dispatcher's calls in flight.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import partial
from typing import Final

from payevents.topics import PAYMENT_EVENTS, SETTLEMENT_EVENTS, Topic
from paykit.consumer import ConsumerSettings
from paykit.db import create_pool
from paykit.health import HealthFile, health_file_for
from paykit.logging import configure_logging, get_logger
from paykit.settings import ConfigError, ConfigProblem
from paykit.signals import on_stop_signals
from paykit.workers import exit_on_config_error, run_consumer
from webhook_service.adapters.outbound_http import PinnedHttpSender
from webhook_service.adapters.secret_sealing import SecretSealer
from webhook_service.domain.outbound_targets import TargetPolicy
from webhook_service.entrypoints.janitor import Janitor
from webhook_service.outbound_settings import (
    SECRETS_KEY,
    load_dispatcher_settings,
    load_notifier_settings,
)
from webhook_service.service_layer.dispatch import Dispatcher
from webhook_service.service_layer.fanout import merchant_notifier
from webhook_service.service_layer.handlers import utc_now
from webhook_service.service_layer.retention import prune_finished_messages

PAYMENT_NOTIFIER_GROUP: Final = "webhook-payment-notifier"
SETTLEMENT_NOTIFIER_GROUP: Final = "webhook-settlement-notifier"
DISPATCHER: Final = "webhook-dispatcher"

_log = get_logger(__name__)


def notifier_settings(topic: Topic, group: str) -> ConsumerSettings:
    if group not in {consumer.name for consumer in topic.consumers}:
        raise ConfigError(
            ConfigProblem("topic catalogue", f"{topic.name} has no consumer group {group} yet")
        )
    return ConsumerSettings(topic, group, batch_size=100)


def run_notifier(topic: Topic, group: str) -> None:
    consumer_settings = notifier_settings(topic, group)
    settings = load_notifier_settings()
    configure_logging(group, json=settings.json_logs, level=settings.log_level)
    run_consumer(
        consumer_settings,
        merchant_notifier(utc_now),
        database_url=settings.database_url.reveal(),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=group,
        metrics_port=settings.metrics_port,
    )


def run_dispatcher() -> None:
    settings = load_dispatcher_settings()
    configure_logging(DISPATCHER, json=settings.json_logs, level=settings.log_level)
    if settings.trust.secrets_key is None:
        _log.warning("endpoint_secrets_unsealed", detail=f"{SECRETS_KEY} is not set")
    policy = settings.policy
    pool = create_pool(
        settings.database_url.reveal(), max_size=policy.concurrency + 2, name=DISPATCHER
    )
    dispatcher = Dispatcher(
        pool,
        PinnedHttpSender(
            TargetPolicy(settings.trust.allowed_networks), policy.attempt_timeout_seconds
        ),
        SecretSealer(settings.trust.secrets_key),
        policy,
        database_url=settings.database_url.reveal(),
        health=HealthFile(health_file_for(DISPATCHER), name=DISPATCHER),
    )
    on_stop_signals(dispatcher.stop)
    prune = partial(prune_finished_messages, settings.message_retention, pool)
    try:
        with Janitor(prune, interval_seconds=settings.prune_interval_seconds).running():
            dispatcher.run()
    finally:
        pool.close()


def main(argv: list[str] | None = None) -> int:
    commands: dict[str, Callable[[], None]] = {
        "payment-notifier": lambda: run_notifier(PAYMENT_EVENTS, PAYMENT_NOTIFIER_GROUP),
        "settlement-notifier": lambda: run_notifier(SETTLEMENT_EVENTS, SETTLEMENT_NOTIFIER_GROUP),
        "dispatcher": run_dispatcher,
    }
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in commands:
        print(f"usage: merchant_webhooks {{{'|'.join(commands)}}}", file=sys.stderr)
        return 2

    def start() -> int:
        commands[args[0]]()
        return 0

    return exit_on_config_error(start)


if __name__ == "__main__":
    sys.exit(main())
