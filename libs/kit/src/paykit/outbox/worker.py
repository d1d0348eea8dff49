"""The outbox relay as a process: what a service's ``relay`` entry point runs.

It serves Prometheus metrics when given a port, stops gracefully on SIGTERM or SIGINT, keeps
its health file fresh from the relay's loops (standing by, publishing, waiting for writers,
backing off) and reports not ready, with the reason, while the database or Kafka fails it.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from pathlib import Path

import structlog
from prometheus_client import start_http_server

from payevents import physical_topics
from paykit.health import HealthFile, health_file_for
from paykit.outbox.publisher import transactional_producers
from paykit.outbox.relay import OutboxRelay
from paykit.signals import on_stop_signals

log = structlog.get_logger(__name__)

CATALOGUE_TOPICS = frozenset(spec.name for spec in physical_topics())


def run_outbox_relay(
    *,
    database_url: str,
    bootstrap_servers: str,
    client_id: str,
    metrics_port: int | None = None,
    liveness_file: Path | None = None,
    known_topics: Collection[str] | None = CATALOGUE_TOPICS,
) -> None:
    """Relay until a stop signal; a lost database or broker is waited out, never fatal.

    A row for a topic outside ``known_topics`` (every topic of the platform's catalogue) is
    quarantined without asking the broker; with None, the broker alone decides.
    """
    if metrics_port:
        start_http_server(metrics_port, addr="127.0.0.1")
    stop = threading.Event()
    on_stop_signals(stop.set)
    relay = OutboxRelay(
        database_url,
        transactional_producers(bootstrap_servers, client_id=client_id),
        known_topics=known_topics,
        health=HealthFile(liveness_file or health_file_for(client_id), name=client_id),
    )
    log.info("outbox_relay_started", client_id=client_id)
    relay.run(stop)
    log.info(
        "outbox_relay_stopped", published=relay.published_total, quarantined=relay.quarantined_total
    )
