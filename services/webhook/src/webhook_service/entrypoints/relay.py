"""The outbox relay process: ``python -m webhook_service.entrypoints.relay``.

Publishes the webhook database's outbox to Kafka (webhook-events). Run one or more: they elect
a leader through the database and the others wait as hot standbys. Beside the relay, a janitor
thread prunes rejected deliveries past their retention.
"""

from __future__ import annotations

from functools import partial

from paykit.db import create_pool
from paykit.logging import configure_logging
from paykit.workers import run_outbox_relay
from webhook_service.adapters.postgres_unit_of_work import PostgresUnitOfWork
from webhook_service.entrypoints.janitor import Janitor
from webhook_service.service_layer.retention import prune_rejected_deliveries
from webhook_service.settings import load_relay_settings

CLIENT_ID = "webhook-outbox-relay"


def main() -> None:
    settings = load_relay_settings()
    configure_logging("webhook-relay", json=settings.log.json, level=settings.log.level)
    pool = create_pool(settings.database_url.reveal(), max_size=1, name="webhook-janitor")
    prune = partial(
        prune_rejected_deliveries,
        settings.retention,
        unit_of_work=partial(PostgresUnitOfWork, pool),
    )
    try:
        with Janitor(prune, interval_seconds=settings.prune_interval_seconds).running():
            run_outbox_relay(
                database_url=settings.database_url.reveal(),
                bootstrap_servers=settings.kafka_bootstrap_servers,
                client_id=CLIENT_ID,
                metrics_port=settings.metrics_port,
                liveness_file=settings.liveness_file,
            )
    finally:
        pool.close()


if __name__ == "__main__":
    main()
