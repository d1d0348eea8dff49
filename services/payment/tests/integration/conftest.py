"""The payment API in-process (Flask test client) over the test cluster's real database."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from kafka import KafkaProducer
from psycopg_pool import ConnectionPool

from localcluster.testing import ClusterEnv
from payevents import Envelope, encode
from payevents.topics import Topic
from paykit.auth.jwt import SigningKey
from paykit.consumer import Consumer, ConsumerSettings, Handler
from paykit.db import create_pool
from paykit.kafka_clients import create_consumer, create_producer
from paykit.settings import Secret
from payment_service import settings as settings_module
from payment_service.adapters.unit_of_work import pooled_transactions
from payment_service.bootstrap import PaymentService, bootstrap
from payment_service.entrypoints.app import create_app
from payment_service.service_layer.provider import PaymentProvider
from payment_service.settings import PaymentSettings
from payment_service.testing import FakeProvider


@pytest.fixture(scope="session")
def payment_db(isolated_database: Callable[[str], str]) -> str:
    return isolated_database("payment")


@pytest.fixture(scope="session")
def payment_settings(cluster: ClusterEnv, payment_db: str) -> PaymentSettings:
    loaded = settings_module.load(os.environ)
    return replace(loaded, database_url=Secret(payment_db), json_logs=False)


@pytest.fixture(scope="session")
def app(payment_settings: PaymentSettings) -> Iterator[Flask]:
    application = create_app(payment_settings)
    yield application
    application.extensions["payment_service"].close()


@pytest.fixture(scope="session")
def signing_key(cluster: ClusterEnv) -> SigningKey:
    return SigningKey(
        Path(os.environ["AUTH_SIGNING_KEY_PATH"]).read_bytes(), os.environ["AUTH_SIGNING_KEY_ID"]
    )


@pytest.fixture
def token_for(signing_key: SigningKey) -> Callable[..., str]:
    def issue(merchant: str, scopes: tuple[str, ...] = ("payments:read", "payments:write")) -> str:
        return signing_key.issue(
            issuer=os.environ["AUTH_ISSUER"],
            audience=os.environ["AUTH_AUDIENCE"],
            subject=merchant,
            ttl=timedelta(minutes=5),
            scopes=scopes,
        )

    return issue


@pytest.fixture
def merchant(unique: str) -> str:
    return f"MER_{unique}"


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def headers(token_for: Callable[..., str], merchant: str) -> Callable[..., dict[str, str]]:
    def build(key: str | None = None, merchant_id: str | None = None) -> dict[str, str]:
        result = {"Authorization": f"Bearer {token_for(merchant_id or merchant)}"}
        if key is not None:
            result["Idempotency-Key"] = key
        return result

    return build


@pytest.fixture(scope="session")
def service_pool(payment_db: str) -> Iterator[ConnectionPool]:
    pool = create_pool(payment_db, max_size=6, name="payment-tests")
    yield pool
    pool.close()


@pytest.fixture
def make_service(
    payment_settings: PaymentSettings, service_pool: ConnectionPool
) -> Callable[..., PaymentService]:
    """The service over the tests' database, with the PSP the test gives it."""

    def build(psp: PaymentProvider | None = None) -> PaymentService:
        return bootstrap(
            payment_settings,
            transactions=pooled_transactions(service_pool),
            psp=psp or FakeProvider(),
        )

    return build


@pytest.fixture
def private_topic(cluster: ClusterEnv, unique: str) -> Topic:
    """A main topic of its own with one consumer group whose retry tiers wait 0.3, 0.6, 0.9 s,
    so a test's consumer never meets the running cluster's."""
    return cluster.private_topic(f"payment-tests-{unique}", partitions=2)


@pytest.fixture
def consumer_on(cluster: ClusterEnv, service_pool: ConnectionPool) -> Iterator[Callable[..., Any]]:
    producers: list[KafkaProducer] = []

    def build(topic: Topic, handler: Handler, **settings: Any) -> Consumer:
        group = topic.consumers[0].name
        producer = create_producer(cluster.bootstrap_servers, client_id=group)
        producers.append(producer)
        kafka = create_consumer(cluster.bootstrap_servers, group_id=group, client_id=group)
        return Consumer(
            ConsumerSettings(topic, group, **settings), handler, service_pool, kafka, producer
        )

    yield build
    for producer in producers:
        producer.close()


@pytest.fixture
def publish(cluster: ClusterEnv) -> Iterator[Callable[[str, Envelope], None]]:
    producer = create_producer(cluster.bootstrap_servers, client_id="payment-tests")

    def send(topic: str, envelope: Envelope) -> None:
        value, headers = encode(envelope)
        producer.send(topic, key=envelope.subject.encode(), value=value, headers=headers)
        producer.flush()

    yield send
    producer.close()
