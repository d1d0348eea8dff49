"""Payments per second the charger drains from a backlog, one handler at a time and several.

Each round stores N new payments (straight into the payment database, without their outbox
rows, so the cluster's own charger never sees them), publishes their ``payment.created`` to a
topic of the round's own (as many partitions as payment-events), and drains it through the
charger's handler and consumer settings (``charger_settings``) against a PSP simulator.
Rounds alternate between the concurrencies given, in one run, so the shared machine's noise
falls on each alike. The rate counts from the first handler's start to the last one's end, so
the group join is not in it.

``--psp own`` (the default) starts a PSP web process of the run's own (gunicorn, 2 workers of 8
threads, as the Procfile's) on the cluster's Redis under a key prefix no webhook sender reads:
the charger is measured without the rest of the pipeline reacting to each charge on the same
cores. ``--psp cluster`` charges at the cluster's simulator (``PSP_URL``), whose webhooks then
set the status applier, the ledger and the notifiers to work. On a cluster started by
``localcluster up``:

    set -a; . .local/<cluster>/cluster.env; set +a
    uv run python benchmarks/charger_drain.py --payments 2000 --concurrency 1 8 --rounds 2
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
from kafka import KafkaProducer

from localcluster.topics import ensure_topics
from payevents import Envelope, encode, new_event
from payevents.topics import PAYMENT_EVENTS, ConsumerGroup, Topic
from paykit.consumer import Consumer
from paykit.db import Connection, create_pool
from paykit.kafka_clients import create_consumer, create_producer
from paykit.logging import configure_logging
from paykit.testing import running, wait_until
from payment_service import settings as settings_module
from payment_service.bootstrap import PaymentService, bootstrap
from payment_service.domain.ids import new_payment_id
from payment_service.domain.payment import Payment
from payment_service.entrypoints.consumers import charger
from payment_service.entrypoints.workers import charger_settings
from payment_service.settings import PaymentSettings

STORE_CHUNK = 200
DRAIN_TIMEOUT_SECONDS = 600.0
PSP_START_SECONDS = 30.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def own_psp() -> Iterator[str]:
    """A PSP web process of this run's own; yields its URL."""
    port = _free_port()
    environ = {**os.environ, "PSP_KEY_PREFIX": f"bench-{uuid.uuid4().hex[:10]}"}
    command = [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "2"]
    command += ["--threads", "8", "--log-level", "warning"]
    psp = subprocess.Popen(
        [*command, "psp_simulator.entrypoints.app:create_app()"],
        env={**environ, "LOG_LEVEL": "WARNING"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_until(lambda: _answers(url), PSP_START_SECONDS, 0.2):
            raise RuntimeError(f"the PSP simulator did not answer on {url}")
        yield url
    finally:
        psp.terminate()
        psp.wait(timeout=30)


@dataclasses.dataclass
class Span:
    """When the first handler started and the last one ended, across threads."""

    calls: int = 0
    first_start: float | None = None
    last_end: float = 0.0
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def rate(self) -> float:
        assert self.first_start is not None
        return self.calls / (self.last_end - self.first_start)


def store_backlog(service: PaymentService, count: int, run: str) -> list[Payment]:
    """New payments due for the janitor only in an hour: the charger alone charges them."""
    made: list[Payment] = []
    while len(made) < count:
        with service.transactions() as uow:
            for _ in range(min(STORE_CHUNK, count - len(made))):
                payment = Payment(new_payment_id(), f"MER_{run}", 3000, "EUR", "pm_card_visa")
                payment.recheck.wait_until(service.clock() + timedelta(hours=1))
                uow.payments.add(payment)
                made.append(payment)
    return made


def publish_created(producer: KafkaProducer, topic: str, backlog: list[Payment]) -> None:
    for payment in backlog:
        envelope: Envelope = new_event(
            "payment.created",
            {**payment.facts(), "payment_method": payment.payment_method},
            source="payment",
            subject=payment.id,
        )
        value, headers = encode(envelope)
        producer.send(topic, key=payment.id.encode(), value=value, headers=headers)
    producer.flush()


def drain(config: PaymentSettings, concurrency: int, count: int) -> float:
    run = uuid.uuid4().hex[:10]
    group = f"bench-charger-{run}"
    topic = Topic(
        name=group,
        partitions=PAYMENT_EVENTS.partitions,
        key="payment id",
        consumers=(ConsumerGroup(group, retry_delays=(1.0, 2.0, 4.0)),),
    )
    ensure_topics(config.kafka_bootstrap_servers, (topic,))
    config = dataclasses.replace(config, charger_concurrency=concurrency)
    service = bootstrap(config, name=f"{group}-work", pool_size=max(2, concurrency), with_psp=True)
    runtime_pool = create_pool(config.database_url.reveal(), max_size=2, name=group)
    producer = create_producer(config.kafka_bootstrap_servers, client_id=group)
    span = Span()
    charge = charger(service)

    def timed_charge(conn: Connection, envelope: Envelope) -> None:
        started = time.monotonic()
        charge(conn, envelope)
        with span.lock:
            span.calls += 1
            span.first_start = min(span.first_start or started, started)
            span.last_end = max(span.last_end, time.monotonic())

    try:
        publish_created(producer, topic.name, store_backlog(service, count, run))
        settings = dataclasses.replace(charger_settings(config), topic=topic, group=group)
        kafka = create_consumer(config.kafka_bootstrap_servers, group_id=group, client_id=group)
        consumer = Consumer(settings, timed_charge, runtime_pool, kafka, producer)
        with running(consumer):
            if not wait_until(lambda: span.calls >= count, DRAIN_TIMEOUT_SECONDS, 0.2):
                raise TimeoutError(f"{span.calls} of {count} charged")
    finally:
        producer.close()
        runtime_pool.close()
        service.close()
    return span.rate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--payments", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--psp", choices=["own", "cluster"], default="own")
    args = parser.parse_args()
    configure_logging("charger-drain", json=False, level="WARNING")
    config = settings_module.load()
    if args.psp == "cluster":
        measure(config, args.payments, args.concurrency, args.rounds)
        return
    with own_psp() as url:
        measure(
            dataclasses.replace(config, psp_url=url), args.payments, args.concurrency, args.rounds
        )


def measure(config: PaymentSettings, count: int, concurrencies: list[int], rounds: int) -> None:
    rates: dict[int, list[float]] = {c: [] for c in concurrencies}
    for round_number in range(1, rounds + 1):
        for concurrency in concurrencies:
            rate = drain(config, concurrency, count)
            rates[concurrency].append(rate)
            print(
                f"round {round_number}  concurrency {concurrency:>2}  "
                f"{count} payments  {rate:7.1f} payments/s",
                flush=True,
            )
    for concurrency, seen in rates.items():
        listed = ", ".join(f"{rate:.1f}" for rate in seen)
        print(f"concurrency {concurrency:>2}: {listed} payments/s")


if __name__ == "__main__":
    main()
