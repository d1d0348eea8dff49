"""Killed processes lose nothing and apply nothing twice (real Kafka and PostgreSQL)."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import psycopg
import pytest
from kafka import TopicPartition

from localcluster.testing import ClusterEnv
from payevents import decode
from payevents.topics import Topic
from paykit.health import check
from paykit.kafka_clients import create_consumer
from paykit.outbox import OutboxRelay, enqueue
from paykit.outbox.publisher import transactional_producers
from paykit.testing import read_topic, running, wait_until

pytestmark = pytest.mark.integration
PROCESSES = Path(__file__).with_name("processes")


def _start(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(PROCESSES / script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _committed_total(cluster: ClusterEnv, topic: Topic) -> int:
    group = topic.consumers[0].name
    consumer = create_consumer(cluster.bootstrap_servers, group_id=group, client_id="probe")
    try:
        tps = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
        return sum(consumer.committed(tp) or 0 for tp in tps)
    finally:
        consumer.close(autocommit=False)


def test_a_consumer_killed_between_db_commit_and_offset_commit_applies_each_event_once(
    cluster: ClusterEnv, kit_db: str, topic: Topic, make_event, publish, effects, unique: str
) -> None:
    events = [make_event(f"PAY_{unique}{n:02d}") for n in range(10)]
    for event in events:
        publish(topic.name, event)
    group = topic.consumers[0].name
    dying = _start(
        "consumer_process.py",
        kit_db,
        cluster.bootstrap_servers,
        topic.name,
        group,
        "--die-after-db-commit",
    )
    output, _ = dying.communicate(timeout=60)
    assert dying.returncode == -signal.SIGKILL, output
    assert "db-committed" in output
    applied_before_restart = len(effects(f"PAY_{unique}"))
    assert applied_before_restart > 0
    assert _committed_total(cluster, topic) == 0  # the offsets never made it

    survivor = _start("consumer_process.py", kit_db, cluster.bootstrap_servers, topic.name, group)
    try:
        assert wait_until(lambda: _committed_total(cluster, topic) == 10, timeout=60)
    finally:
        survivor.send_signal(signal.SIGTERM)
        survivor.communicate(timeout=60)
    assert Counter(row[0] for row in effects(f"PAY_{unique}")) == {e.id: 1 for e in events}


def test_sigterm_finishes_the_batch_commits_and_exits_cleanly(
    cluster: ClusterEnv, kit_db: str, topic: Topic, make_event, publish, effects, unique: str
) -> None:
    for n in range(200):
        publish(topic.name, make_event(f"PAY_{unique}{n:03d}"))
    group = topic.consumers[0].name
    worker = _start(
        "consumer_process.py", kit_db, cluster.bootstrap_servers, topic.name, group, "--slow"
    )
    assert wait_until(lambda: len(effects(f"PAY_{unique}")) > 0, timeout=60)
    worker.send_signal(signal.SIGTERM)
    output, _ = worker.communicate(timeout=60)
    assert worker.returncode == 0, output
    assert "stopped cleanly" in output
    applied = len(effects(f"PAY_{unique}"))
    assert applied < 200  # it stopped part way, at a batch boundary
    assert _committed_total(cluster, topic) == applied  # and committed exactly what it applied


def test_a_relay_killed_between_publish_and_mark_sent_loses_nothing(
    cluster: ClusterEnv,
    kit_db: str,
    kit_pool,
    topic: Topic,
    make_consumer,
    make_event,
    effects,
    unique: str,
) -> None:
    _drain(cluster, kit_db)  # rows another test may have left unsent
    events = [make_event(f"PAY_{unique}{n:02d}") for n in range(30)]
    with kit_pool.connection() as conn, conn.transaction():
        for event in events:
            enqueue(conn, event, topic=topic.name)

    dying = _start("relay_process.py", kit_db, cluster.bootstrap_servers, "10")
    output, _ = dying.communicate(timeout=60)
    assert dying.returncode == -signal.SIGKILL and "published 10" in output, output
    assert _unsent(kit_db, topic) == 30  # ten were published, but the marks died with it

    _drain(cluster, kit_db)
    assert _unsent(kit_db, topic) == 0
    published = Counter(
        decode(r.value).id for r in read_topic(cluster.bootstrap_servers, topic.name)
    )
    assert published == {e.id: 2 for e in events[:10]} | {e.id: 1 for e in events[10:]}
    with running(make_consumer(topic)):
        assert wait_until(lambda: len(effects(f"PAY_{unique}")) == 30)
    assert Counter(row[0] for row in effects(f"PAY_{unique}")) == {e.id: 1 for e in events}


def test_the_relay_process_keeps_its_health_file_fresh_while_idle_and_stops_on_sigterm(
    cluster: ClusterEnv, kit_db: str, tmp_path: Path
) -> None:
    health = tmp_path / "relay.json"
    relay = _start("relay_process.py", "--serve", kit_db, cluster.bootstrap_servers, str(health))
    try:
        assert wait_until(health.exists, timeout=30)
        first_sign = health.stat().st_mtime_ns
        # Nothing to publish: the relay only waits for writers, and says it is alive meanwhile.
        assert wait_until(lambda: health.stat().st_mtime_ns > first_sign, timeout=5)
        assert wait_until(lambda: check(health, max_age=5, live_only=False)[0], timeout=5)
    finally:
        relay.send_signal(signal.SIGTERM)
        output, _ = relay.communicate(timeout=60)
    assert relay.returncode == 0, output
    assert "stopped cleanly" in output


def _drain(cluster: ClusterEnv, db_url: str) -> None:
    producers = transactional_producers(cluster.bootstrap_servers, client_id="drain")
    relay = OutboxRelay(db_url, producers, batch_size=200)
    try:
        with psycopg.connect(db_url, autocommit=True) as conn:
            while relay.relay_once(conn):
                pass
    finally:
        relay.close()


def _unsent(db_url: str, topic: Topic) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM outbox WHERE topic = %s AND sent_at IS NULL", (topic.name,)
        ).fetchone()
    return int(row[0]) if row else 0
