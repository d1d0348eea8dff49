"""The test cluster's real Kafka, PostgreSQL and Redis behave as the platform relies on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import redis
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from psycopg.conninfo import conninfo_to_dict

from localcluster.testing import ClusterEnv
from localcluster.topics import ensure_topics, existing_partitions
from payevents.topics import physical_topics

pytestmark = pytest.mark.integration


def _consumer(cluster: ClusterEnv, group: str, topic: str) -> KafkaConsumer:
    consumer = KafkaConsumer(
        bootstrap_servers=cluster.bootstrap_servers,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        consumer_timeout_ms=10_000,
    )
    consumer.subscribe([topic])
    return consumer


def test_manually_committed_offsets_survive_a_consumer_restart(
    cluster: ClusterEnv, unique: str
) -> None:
    topic, group = f"roundtrip-{unique}", f"group-{unique}"
    admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap_servers)
    admin.create_topics([NewTopic(topic, 1, 1)])
    admin.close()
    producer = KafkaProducer(
        bootstrap_servers=cluster.bootstrap_servers, enable_idempotence=True, acks="all"
    )
    for n in range(10):
        producer.send(topic, key=b"k", value=f"message-{n}".encode()).get(timeout=10)
    producer.close()

    first = _consumer(cluster, group, topic)
    read = []
    for record in first:
        read.append(record.value.decode())
        if len(read) == 6:
            break
    first.commit()  # offsets of the six records handed out so far
    first.close()
    assert read == [f"message-{n}" for n in range(6)]

    second = _consumer(cluster, group, topic)
    rest = [record.value.decode() for record in second]
    committed = second.committed(TopicPartition(topic, 0))
    second.close()
    assert rest == [f"message-{n}" for n in range(6, 10)]
    assert committed == 6


def test_every_catalogue_topic_exists_with_its_declared_partitions(cluster: ClusterEnv) -> None:
    admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap_servers)
    current = existing_partitions(admin)
    admin.close()
    for spec in physical_topics():
        assert current.get(spec.name) == spec.partitions, spec.name


def test_creating_topics_again_changes_nothing(cluster: ClusterEnv) -> None:
    admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap_servers)
    before = existing_partitions(admin)
    report = ensure_topics(cluster.bootstrap_servers)
    after = existing_partitions(admin)
    admin.close()
    assert report.created == [] and report.grown == []
    assert len(report.unchanged) == len(physical_topics())
    assert before == after


def test_a_service_role_cannot_connect_to_another_services_database(
    cluster: ClusterEnv,
) -> None:
    ledger_on_payment_db = cluster.database_urls["ledger"].rsplit("/", 1)[0] + "/payment"
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(ledger_on_payment_db).close()


@pytest.mark.parametrize("service", ["gateway", "payment", "webhook", "settlement"])
def test_each_role_creates_tables_in_its_own_database(
    cluster: ClusterEnv, service: str, unique: str
) -> None:
    with psycopg.connect(cluster.database_urls[service]) as conn:
        conn.execute(f"CREATE TABLE probe_{unique} (id bigint PRIMARY KEY)")
        conn.execute(f"INSERT INTO probe_{unique} VALUES (1)")
        count = conn.execute(f"SELECT count(*) FROM probe_{unique}").fetchone()
        assert count == (1,)
        conn.rollback()


def test_redis_answers_on_its_port(cluster: ClusterEnv) -> None:
    client = redis.Redis.from_url(cluster.redis_url)
    assert client.ping() is True
    client.close()


def test_bootstrap_on_external_infrastructure_is_idempotent(
    cluster: ClusterEnv, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "PAY_PG_ADMIN_URL": cluster.admin_url,
        "KAFKA_BOOTSTRAP_SERVERS": cluster.bootstrap_servers,
        "PAY_SECRETS_DIR": str(tmp_path / "secrets"),
    }
    for service, url in cluster.database_urls.items():
        env[f"{service.upper()}_DB_PASSWORD"] = str(conninfo_to_dict(url)["password"])
    owner_url = os.environ["LEDGER_OWNER_DATABASE_URL"]
    env["LEDGER_OWNER_DB_PASSWORD"] = str(conninfo_to_dict(owner_url)["password"])
    result = subprocess.run(
        [sys.executable, "-m", "localcluster", "bootstrap"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "migrations: 0 applied" in result.stdout and "0 created" in result.stdout
    assert (tmp_path / "secrets" / "jwks.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "secrets" / "jwt-signing.pem").stat().st_mode & 0o777 == 0o600
    with psycopg.connect(cluster.database_urls["payment"]) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("payment",)
