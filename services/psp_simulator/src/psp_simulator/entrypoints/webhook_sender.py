"""The webhook sender process: `python -m psp_simulator.entrypoints.webhook_sender`.

Delivers until SIGTERM or SIGINT, finishing and recording the attempt in hand before it exits.
Several senders may run against one Redis; each delivery attempt is claimed by one of them.
"""

import dataclasses
import sys
import threading

from paykit.health import HealthFile, health_file_for
from paykit.logging import configure_logging
from paykit.settings import ConfigError
from paykit.signals import on_stop_signals
from psp_simulator.bootstrap import build_http_client, build_sender, connect_redis
from psp_simulator.settings import SERVICE_NAME, load_sender_settings


def main() -> None:
    try:
        settings = load_sender_settings()
    except ConfigError as error:
        sys.exit(f"{SERVICE_NAME} webhook sender: {error}")
    configure_logging(SERVICE_NAME, json=settings.log.json, level=settings.log.level)
    stop = threading.Event()
    on_stop_signals(stop.set)
    client = connect_redis(settings.redis_url.reveal())
    health = HealthFile(health_file_for("psp-webhook-sender"), name="psp-webhook-sender")
    try:
        with build_http_client(settings) as http_client:
            sender = build_sender(settings, client=client, http_client=http_client)
            dataclasses.replace(sender, heartbeat=health.beat).run(stop)
    finally:
        client.close()


if __name__ == "__main__":
    main()
