"""The outbox relay process: ``python -m webhook_service.entrypoints.relay``.

Publishes the webhook database's outbox to Kafka (webhook-events). Run one or more: they elect
a leader through the database and the others wait as hot standbys.
"""

from __future__ import annotations

from paykit.logging import configure_logging
from paykit.workers import run_outbox_relay
from webhook_service.settings import load_relay_settings

CLIENT_ID = "webhook-outbox-relay"


def main() -> None:
    settings = load_relay_settings()
    configure_logging("webhook-relay", json=settings.log.json, level=settings.log.level)
    run_outbox_relay(
        database_url=settings.database_url.reveal(),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=CLIENT_ID,
        metrics_port=settings.metrics_port,
        liveness_file=settings.liveness_file,
    )


if __name__ == "__main__":
    main()
