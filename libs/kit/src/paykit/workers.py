"""Entry points for a service's long-running processes: consumers and the outbox relay.

``run_outbox_relay`` lives with the relay (``paykit.outbox.worker``) and is re-exported here.

Each builds its clients, serves Prometheus metrics when given a port, stops gracefully on
SIGTERM or SIGINT, and closes everything it opened. Services call these from their own
``main()`` with their settings, so no worker hand-rolls its lifecycle.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable
from typing import TypeVar

import structlog
from kafka import KafkaConsumer
from kafka.errors import KafkaError
from prometheus_client import start_http_server

from paykit.consumer import Consumer, ConsumerConfigError, ConsumerSettings, Handler
from paykit.db import create_pool
from paykit.health import HealthFile, health_file_for
from paykit.kafka_clients import create_consumer, create_producer, instance_id
from paykit.outbox.worker import run_outbox_relay
from paykit.settings import ConfigError, load_settings

log = structlog.get_logger(__name__)

T = TypeVar("T")

EXIT_CONFIG = 78  # EX_CONFIG: restarting will not help until the configuration changes


def exit_on_config_error(main: Callable[[], int]) -> int:
    """Run ``main``; a configuration error ends the process with one line and EX_CONFIG."""
    try:
        return main()
    except (ConfigError, ConsumerConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_CONFIG


def _serve_metrics(port: int | None) -> None:
    if port:
        start_http_server(port, addr="127.0.0.1")


def _when_kafka_answers(make: Callable[[], T], health: HealthFile) -> T:
    """Build a Kafka client, waiting for the broker rather than exiting (and crash-looping)."""
    delay = 0.5
    while True:
        try:
            return make()
        except KafkaError as error:
            health.report(ready=False, reason=f"waiting for Kafka: {error}")
            log.warning("kafka_unavailable_at_start", error=str(error), retry_in=delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def run_consumer(
    settings: ConsumerSettings,
    handler: Handler,
    *,
    database_url: str,
    bootstrap_servers: str,
    client_id: str,
    metrics_port: int | None = None,
) -> None:
    """Consume until a stop signal; a DLQ limit or a lost database holds it, never ends it."""
    if settings.health_file is None:
        settings = dataclasses.replace(settings, health_file=health_file_for(client_id))
    health = HealthFile(settings.health_file, name=client_id)
    member = instance_id(client_id, load_settings(lambda env: env.str("PAYKIT_INSTANCE_ID", None)))
    _serve_metrics(metrics_port)
    # a connection per concurrent handler; two at least, for a handler's transaction and the
    # runtime's own (parks, inbox pruning)
    pool = create_pool(database_url, max_size=max(2, settings.handler_concurrency), name=client_id)
    producer = _when_kafka_answers(
        lambda: create_producer(bootstrap_servers, client_id=client_id), health
    )
    kafka = _when_kafka_answers(
        lambda: create_consumer(
            bootstrap_servers,
            group_id=settings.group,
            client_id=client_id,
            group_instance_id=member,
        ),
        health,
    )

    def lag_client() -> KafkaConsumer:
        return create_consumer(
            bootstrap_servers, group_id=settings.group, client_id=f"{client_id}-lag"
        )

    consumer = Consumer(settings, handler, pool, kafka, producer, lag_client=lag_client)
    try:
        consumer.run()
    finally:
        producer.close()
        pool.close()


__all__ = ["EXIT_CONFIG", "exit_on_config_error", "run_consumer", "run_outbox_relay"]
