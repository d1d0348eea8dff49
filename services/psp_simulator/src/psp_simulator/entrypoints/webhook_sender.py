"""The webhook sender process: `python -m psp_simulator.entrypoints.webhook_sender`.

Delivers on `PSP_SENDER_THREADS` loops until SIGTERM or SIGINT, each finishing and recording
the attempt in hand before the process exits. Several senders may run against one Redis; each
delivery attempt is claimed by one loop of one of them.
"""

import sys
import threading

from paykit.health import HealthFile, health_file_for
from paykit.logging import configure_logging
from paykit.settings import ConfigError
from paykit.signals import on_stop_signals
from psp_simulator.bootstrap import build_delivery_loops, build_http_client, connect_redis
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
            loops = build_delivery_loops(settings, client=client, http_client=http_client)
            loops.run(stop, heartbeat=health.beat)
    finally:
        client.close()


if __name__ == "__main__":
    main()
