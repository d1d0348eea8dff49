"""What production throws at the outbox relay: rows Kafka will never accept (quarantined,
holding back only their own key), a lost database session, long waits that must not look like
a hung process. Real Kafka and PostgreSQL; the quarantine tests have a database each, so what
one test quarantines never holds back another's rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from localcluster.testing import ClusterEnv
from localcluster.topics import ensure_topics
from payevents import Envelope, decode
from payevents.topics import Topic
from paykit.migrations import KIT_MIGRATIONS
from paykit.outbox import OutboxRelay, enqueue
from paykit.outbox.__main__ import main as outbox_cli
from paykit.outbox.publisher import transactional_producers
from paykit.outbox.resilience import connect
from paykit.testing import database_name, read_topic, running, scratch_database, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def outbox_db(cluster: ClusterEnv) -> Iterator[str]:
    with scratch_database(cluster.admin_url, {"kit": KIT_MIGRATIONS}, prefix="quarantine") as url:
        yield url


@pytest.fixture
def queue(outbox_db: str, make_event: Callable[..., Envelope]) -> Callable[..., int]:
    """Enqueue one event in its own transaction; return its outbox id."""

    def add(topic: str, key: str, label: str, *, padding: int = 0) -> int:
        """``padding`` bytes ride in a header, making the record that much larger."""
        event = make_event(key, label)
        with psycopg.connect(outbox_db) as conn:
            enqueue(conn, event, topic=topic)
            row = conn.execute(
                "UPDATE outbox SET headers = headers || jsonb_build_array("
                " jsonb_build_array('x-padding', repeat('.', %s))) WHERE event_id = %s"
                " RETURNING id",
                (padding, event.id),
            ).fetchone()
        assert row is not None
        return int(row[0])

    return add


@contextmanager
def relaying(cluster: ClusterEnv, url: str, **settings: Any) -> Iterator[OutboxRelay]:
    """A relay running in a thread for the block (``idle_wait`` 0.2 s unless given)."""
    producers = transactional_producers(cluster.bootstrap_servers, client_id="faults-relay")
    relay = OutboxRelay(url, producers, **{"idle_wait": 0.2, **settings})
    with running(relay):
        yield relay


def published(cluster: ClusterEnv, topic: str) -> list[tuple[str, str]]:
    """(key, label) of every committed event in ``topic``, in log order per partition."""
    events = [decode(r.value) for r in read_topic(cluster.bootstrap_servers, topic)]
    return [(e.subject, e.data["description"]) for e in events]


def state(url: str, outbox_id: int) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT CASE WHEN sent_at IS NOT NULL THEN 'sent'"
            " WHEN quarantined_at IS NOT NULL THEN 'quarantined: ' || quarantine_error"
            " ELSE 'unsent' END FROM outbox WHERE id = %s",
            (outbox_id,),
        ).fetchone()
    assert row is not None
    return str(row[0])


def gauge(name: str) -> float | None:
    return REGISTRY.get_sample_value(name)


def small_limit_topic(cluster: ClusterEnv, name: str, max_message_bytes: int) -> Topic:
    admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap_servers)
    try:
        admin.create_topics(
            [NewTopic(name, 3, 1, topic_configs={"max.message.bytes": str(max_message_bytes)})]
        )
    finally:
        admin.close()
    return Topic(name, 3, "payment id")


def raise_limit(cluster: ClusterEnv, topic: str, max_message_bytes: int) -> None:
    admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap_servers)
    try:
        admin.alter_configs(
            [
                ConfigResource(
                    ConfigResourceType.TOPIC,
                    topic,
                    configs={"max.message.bytes": str(max_message_bytes)},
                )
            ]
        )
    finally:
        admin.close()


def test_a_record_over_the_topics_limit_holds_back_only_its_key_until_requeued(
    cluster: ClusterEnv, outbox_db: str, queue, unique: str, capsys
) -> None:
    topic = small_limit_topic(cluster, f"kit-small-{unique}", max_message_bytes=4096)
    ok, big = f"PAY_{unique}ok", f"PAY_{unique}big"
    first_ok = queue(topic.name, ok, "ok-1")
    too_big = queue(topic.name, big, "big-1", padding=8000)  # over the broker's limit only
    held = queue(topic.name, big, "big-2")
    second_ok = queue(topic.name, ok, "ok-2")

    with capture_logs() as logs, relaying(cluster, outbox_db):
        assert wait_until(lambda: state(outbox_db, second_ok) == "sent", timeout=60)
        assert state(outbox_db, first_ok) == "sent"
        assert state(outbox_db, too_big).startswith("quarantined: MessageSizeTooLargeError")
        assert state(outbox_db, held) == "unsent"
        assert wait_until(lambda: gauge("paykit_outbox_held") == 1, timeout=10)
        assert gauge("paykit_outbox_quarantined") == 1
    assert published(cluster, topic.name) == [(ok, "ok-1"), (ok, "ok-2")]
    [logged] = [entry for entry in logs if entry["event"] == "outbox_row_quarantined"]
    assert (logged["outbox_id"], logged["log_level"]) == (too_big, "error")

    assert outbox_cli(["--database-url", outbox_db, "list-quarantined"]) == 0
    listing = capsys.readouterr().out
    assert f"{too_big}  " in listing and f"key={big}  holds=1  MessageSizeTooLargeError" in listing

    raise_limit(cluster, topic.name, 1024 * 1024)  # the operator's fix
    assert outbox_cli(["--database-url", outbox_db, "requeue", str(too_big)]) == 0
    with relaying(cluster, outbox_db):
        assert wait_until(lambda: state(outbox_db, held) == "sent", timeout=60)
    after = published(cluster, topic.name)  # keys may sit on different partitions: per key
    assert [row for row in after if row[0] == big] == [(big, "big-1"), (big, "big-2")]
    assert [row for row in after if row[0] == ok] == [(ok, "ok-1"), (ok, "ok-2")]


def test_a_record_over_the_producers_request_limit_is_quarantined_before_it_is_sent(
    cluster: ClusterEnv, outbox_db: str, queue, topic: Topic, unique: str
) -> None:
    huge = queue(topic.name, f"PAY_{unique}huge", "huge", padding=1_100_000)
    other = queue(topic.name, f"PAY_{unique}other", "other")
    with relaying(cluster, outbox_db):
        assert wait_until(lambda: state(outbox_db, other) == "sent", timeout=60)
        assert state(outbox_db, huge).startswith("quarantined: MessageSizeTooLargeError")
    assert published(cluster, topic.name) == [(f"PAY_{unique}other", "other")]


def test_a_topic_outside_the_catalogue_is_quarantined_without_asking_the_broker(
    cluster: ClusterEnv, outbox_db: str, queue, topic: Topic, unique: str
) -> None:
    stray = queue(f"kit-stray-{unique}", f"PAY_{unique}a", "stray")
    held = queue(f"kit-stray-{unique}", f"PAY_{unique}a", "stray-2")
    fine = queue(topic.name, f"PAY_{unique}a", "fine")  # same key, other topic: not held
    with relaying(cluster, outbox_db, known_topics={topic.name}):
        assert wait_until(lambda: state(outbox_db, fine) == "sent", timeout=60)
        assert state(outbox_db, stray) == (
            f"quarantined: topic kit-stray-{unique} is not in the topic catalogue"
        )
        assert state(outbox_db, held) == "unsent"


def test_a_topic_the_broker_lacks_is_quarantined_and_flows_in_order_once_created(
    cluster: ClusterEnv, outbox_db: str, queue, topic: Topic, unique: str, capsys
) -> None:
    missing = Topic(f"kit-missing-{unique}", 3, "payment id")
    key = f"PAY_{unique}"
    first = queue(missing.name, key, "first")
    second = queue(missing.name, key, "second")
    elsewhere = queue(topic.name, key, "elsewhere")
    with relaying(cluster, outbox_db, known_topics={topic.name, missing.name}):
        assert wait_until(lambda: state(outbox_db, elsewhere) == "sent", timeout=60)
        assert state(outbox_db, first) == f"quarantined: the broker has no topic {missing.name}"
        assert state(outbox_db, second) == "unsent"

        ensure_topics(cluster.bootstrap_servers, (missing,))  # the operator's fix
        assert outbox_cli(["--database-url", outbox_db, "requeue", "--all"]) == 0
        assert f"requeued 1 row(s): {first}" in capsys.readouterr().out
        assert wait_until(lambda: state(outbox_db, second) == "sent", timeout=60)
    assert published(cluster, missing.name) == [(key, "first"), (key, "second")]


def test_the_quarantine_command_line_says_what_is_wrong_in_one_line(
    outbox_db: str, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert outbox_cli(["list-quarantined"]) == 2
    assert capsys.readouterr().err == "error: give --database-url or set DATABASE_URL\n"

    assert outbox_cli(["--database-url", outbox_db, "requeue", "999999"]) == 1
    assert capsys.readouterr().err == "error: not quarantined: 999999\n"

    assert outbox_cli(["--database-url", outbox_db, "requeue"]) == 2
    assert capsys.readouterr().err.count("\n") == 1

    unreachable = "postgresql://nobody@127.0.0.1:1/none"
    assert outbox_cli(["--database-url", unreachable, "list-quarantined"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: database: ") and error.count("\n") == 1


class RecordedHealth:
    """What a relay told its probe, with the time of each beat."""

    def __init__(self) -> None:
        self.beats: list[float] = []
        self.reports: list[tuple[bool, str]] = []

    def beat(self) -> None:
        self.beats.append(time.monotonic())

    def report(self, *, ready: bool, reason: str = "") -> None:
        self.reports.append((ready, reason))


def published_ids(cluster: ClusterEnv, topic: Topic) -> set[str]:
    return {decode(r.value).id for r in read_topic(cluster.bootstrap_servers, topic.name)}


def test_a_relay_whose_database_session_is_killed_reconnects_and_keeps_publishing(
    cluster: ClusterEnv, kit_db: str, kit_pool, topic: Topic, make_event, unique: str
) -> None:
    health = RecordedHealth()
    before, after = make_event(f"PAY_{unique}before"), make_event(f"PAY_{unique}after")
    with relaying(cluster, kit_db, idle_wait=5.0, health=health) as relay:
        assert relay.leading.wait(timeout=30)
        with kit_pool.connection() as conn, conn.transaction():
            enqueue(conn, before, topic=topic.name)
        assert wait_until(lambda: before.id in published_ids(cluster, topic), timeout=30)

        with psycopg.connect(cluster.admin_url, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = %s AND application_name = 'outbox-relay'",
                (database_name(kit_db),),
            ).fetchone()
        assert killed == (1,)
        assert wait_until(lambda: any(not ready for ready, _ in health.reports), timeout=20)

        with kit_pool.connection() as conn, conn.transaction():
            enqueue(conn, after, topic=topic.name)
        assert wait_until(lambda: after.id in published_ids(cluster, topic), timeout=30)
        assert relay.leading.is_set()
    lost = [reason for ready, reason in health.reports if not ready]
    assert lost and lost[0].startswith("database unreachable: ")
    assert health.reports[-1] == (True, "")


def test_the_leader_waiting_for_writers_and_a_standby_both_keep_beating(
    cluster: ClusterEnv, kit_db: str
) -> None:
    leader_health, standby_health = RecordedHealth(), RecordedHealth()
    with relaying(cluster, kit_db, idle_wait=5.0, health=leader_health) as leader:
        assert leader.leading.wait(timeout=30)
        with relaying(cluster, kit_db, idle_wait=5.0, health=standby_health) as standby:
            started = time.monotonic()
            both = (leader_health, standby_health)
            # Both loops wait up to idle_wait (5 s) at a time, yet beat at least every second.
            assert wait_until(
                lambda: all(len([b for b in h.beats if b > started]) >= 4 for h in both),
                timeout=4.5,
            )
            assert not standby.leading.is_set()


def test_the_relays_connection_gives_up_connecting_and_notices_a_dead_peer(kit_db: str) -> None:
    with connect(kit_db) as conn:
        parameters = conn.info.get_parameters()
    assert {name: parameters.get(name) for name in ("connect_timeout", "keepalives")} == {
        "connect_timeout": "5",
        "keepalives": "1",
    }
    assert {"keepalives_idle", "keepalives_interval", "keepalives_count"} <= parameters.keys()
