"""The simulator's HTTP app; served by gunicorn with the command in the service README."""

import signal
import threading
from types import FrameType

import redis
from flask import Flask

from paykit.logging import configure_logging, get_logger
from paykit.web import create_flask_app
from psp_simulator.bootstrap import build_simulator, connect_redis
from psp_simulator.entrypoints.admin import admin_blueprint
from psp_simulator.entrypoints.api import api_blueprint
from psp_simulator.entrypoints.errors import register_error_handlers
from psp_simulator.entrypoints.payouts_api import payouts_blueprint
from psp_simulator.entrypoints.reports_api import reports_blueprint
from psp_simulator.settings import SERVICE_NAME, SimulatorSettings, load_simulator_settings

EXTENSION = "psp_simulator"

_log = get_logger(__name__)


def create_app(
    settings: SimulatorSettings | None = None,
    *,
    redis_client: redis.Redis | None = None,
    stopping: threading.Event | None = None,
) -> Flask:
    """Without settings this is a process starting: settings come from the environment, logging
    is configured, and SIGTERM cuts deliberate delays short so a worker can shut down. Given
    settings (tests, embedding), the caller owns logging, signals and `stopping`."""
    starting_process = settings is None
    if settings is None:
        settings = load_simulator_settings()
        configure_logging(SERVICE_NAME, json=settings.log.json, level=settings.log.level)
    stopping = stopping or threading.Event()
    client = redis_client or connect_redis(settings.redis_url.reveal())
    simulator = build_simulator(settings, client=client, stopping=stopping)

    def redis_answers() -> None:
        client.ping()

    app = create_flask_app(
        SERVICE_NAME, readiness_checks={"redis": redis_answers}, import_name=__name__
    )
    app.register_blueprint(api_blueprint(simulator))
    app.register_blueprint(payouts_blueprint(simulator))
    app.register_blueprint(reports_blueprint(simulator))
    app.register_blueprint(admin_blueprint(simulator))
    register_error_handlers(app)
    app.extensions[EXTENSION] = simulator
    if starting_process:
        _stop_delays_on_sigterm(stopping)
        _log.info("psp_simulator_ready", key_prefix=settings.key_prefix)
    return app


def _stop_delays_on_sigterm(stopping: threading.Event) -> None:
    """Chain onto the server's own SIGTERM handler (gunicorn's worker installs one), so a
    response held back for a timeout scenario does not hold up a graceful shutdown.

    Only done where a server handler exists to chain to: otherwise SIGTERM is left alone.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)
    if not callable(previous):
        return

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        stopping.set()
        previous(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)
