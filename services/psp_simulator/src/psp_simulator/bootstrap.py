"""Builds the simulator's processes from settings: the one place that knows every adapter.

Tests call the same functions with their own settings (a private key prefix, short delays) and,
where they need to, their own clock or Redis client.
"""

import secrets
import threading
import time
from typing import Final

import httpx
import redis

from psp_simulator.adapters.redis_deliveries import RedisDeliveryLog, RedisDeliveryQueue
from psp_simulator.adapters.redis_delivery_notices import RedisDeliveryNotices
from psp_simulator.adapters.redis_faults import RedisFaultStore
from psp_simulator.adapters.redis_keys import KeySpace
from psp_simulator.adapters.redis_unit_of_work import RedisUnitOfWork
from psp_simulator.adapters.webhook_transport import HttpWebhookTransport
from psp_simulator.service_layer.delivery import WebhookSender
from psp_simulator.service_layer.delivery_loops import DeliveryLoops
from psp_simulator.service_layer.doorbell import Doorbell
from psp_simulator.service_layer.ports import Clock, Pause
from psp_simulator.service_layer.simulator import Simulator
from psp_simulator.settings import SenderSettings, SimulatorSettings

_RANDOM: Final = secrets.SystemRandom()
# Errors of a Redis that is restarting or unreachable: worth waiting out, not worth dying for.
REDIS_TRANSIENT_ERRORS: Final = (redis.ConnectionError, redis.TimeoutError)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def connect_redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=5,
        socket_timeout=10,
        health_check_interval=30,
    )


def interruptible_pause(stopping: threading.Event) -> Pause:
    def pause(seconds: float) -> None:
        if seconds > 0:
            stopping.wait(seconds)

    return pause


def build_simulator(
    settings: SimulatorSettings,
    *,
    client: redis.Redis | None = None,
    stopping: threading.Event | None = None,
    clock: Clock = time.time,
) -> Simulator:
    """`stopping`, once set, cuts every deliberate delay short (a held-back response, latency)."""
    redis_client = client or connect_redis(settings.redis_url.reveal())
    keys = KeySpace(settings.key_prefix)
    return Simulator(
        uow=RedisUnitOfWork(redis_client, keys, settings.retention_seconds),
        faults=RedisFaultStore(redis_client, keys),
        deliveries=RedisDeliveryLog(redis_client, keys),
        timings=settings.timings,
        default_faults=settings.default_faults,
        clock=clock,
        pause=interruptible_pause(stopping or threading.Event()),
        roll=_RANDOM.random,
        new_id=new_id,
        report_fee_bps=settings.report_fee_bps,
    )


def build_http_client(settings: SenderSettings) -> httpx.Client:
    """One client for all the sender's loops: each sends one request at a time, so a
    connection per loop is all they can use at once, and all are kept alive between sends."""
    timeout = settings.http_timeout_seconds
    loops = settings.sender_threads
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        limits=httpx.Limits(max_connections=loops, max_keepalive_connections=loops),
        follow_redirects=False,
        trust_env=False,
    )


def build_sender(
    settings: SenderSettings,
    *,
    client: redis.Redis | None = None,
    http_client: httpx.Client,
    clock: Clock = time.time,
) -> WebhookSender:
    redis_client = client or connect_redis(settings.redis_url.reveal())
    keys = KeySpace(settings.key_prefix)
    return WebhookSender(
        queue=RedisDeliveryQueue(redis_client, keys),
        transport=HttpWebhookTransport(
            http_client, settings.webhook_urls, settings.signing_secret, clock
        ),
        policy=settings.retry,
        clock=clock,
        roll=_RANDOM.random,
        lease_seconds=settings.lease_seconds,
        poll_interval_seconds=settings.poll_interval_seconds,
        transient_errors=REDIS_TRANSIENT_ERRORS,
        doorbell=Doorbell(keep=settings.sender_threads),
    )


def build_delivery_loops(
    settings: SenderSettings,
    *,
    client: redis.Redis | None = None,
    http_client: httpx.Client,
    clock: Clock = time.time,
) -> DeliveryLoops:
    """The sender process: `settings.sender_threads` loops over one queue and one HTTP client."""
    redis_client = client or connect_redis(settings.redis_url.reveal())
    return DeliveryLoops(
        sender=build_sender(settings, client=redis_client, http_client=http_client, clock=clock),
        notices=RedisDeliveryNotices(
            redis_client,
            KeySpace(settings.key_prefix),
            transient_errors=REDIS_TRANSIENT_ERRORS,
        ),
        threads=settings.sender_threads,
    )
