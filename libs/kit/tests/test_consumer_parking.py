"""The DLQ limit parks a consumer group until an operator resumes it (real Kafka, PostgreSQL)."""

from __future__ import annotations

from collections import Counter

import pytest
from prometheus_client import REGISTRY

from localcluster.testing import ClusterEnv
from payevents import Envelope
from payevents.topics import Topic
from paykit.consumer import DlqLimit
from paykit.consumer.__main__ import main as consumer_cli
from paykit.db import Connection
from paykit.dlq import list_dead_letters
from paykit.health import check
from paykit.testing import running, wait_until

pytestmark = pytest.mark.integration


def test_a_tripped_dlq_limit_parks_the_group_until_resumed_and_dead_letters_nothing_twice(
    cluster: ClusterEnv,
    kit_db: str,
    topic: Topic,
    make_consumer,
    make_event,
    publish,
    effects,
    unique: str,
    tmp_path,
    capsys,
) -> None:
    group = topic.consumers[0].name
    dlq = topic.dlq_topic(group)
    fixed = {"yet": False}

    def bad_deploy(conn: Connection, envelope: Envelope) -> None:
        if not fixed["yet"]:
            raise KeyError("amount")
        conn.execute(
            "INSERT INTO effects (event_id, key, label) VALUES (%s, %s, 'fixed')",
            (envelope.id, envelope.subject),
        )

    events = [make_event(f"PAY_{unique}{n:02d}") for n in range(30)]
    for event in events:
        publish(topic.name, event)
    health = tmp_path / "health.json"
    settings = {
        "retry_delays": (),
        "batch_size": 5,
        "dlq_limit": DlqLimit(max_ratio=0.8, window=10, min_messages=10),
        "health_file": health,
        "hold_check_interval": 0.2,
    }
    consumer = make_consumer(topic, bad_deploy, **settings)
    with running(consumer) as thread:
        assert wait_until(lambda: consumer.held is not None and consumer.held.kind == "parked")
        parked_with = len(list_dead_letters(cluster.bootstrap_servers, dlq))
        ready, why = check(health, max_age=10, live_only=False)
        assert not ready and "not ready: DLQ limit" in why and "KeyError" in why
        assert REGISTRY.get_sample_value("paykit_consumer_parked", {"group": group}) == 1
        # parked, still alive: its health file keeps being refreshed, it consumes nothing more
        beat = health.stat().st_mtime_ns
        assert wait_until(lambda: health.stat().st_mtime_ns > beat, timeout=10)
        assert thread.is_alive()
    assert len(list_dead_letters(cluster.bootstrap_servers, dlq)) == parked_with
    assert parked_with == 9  # the tenth failure tripped the limit and was not sent

    # a restart (or another replica) finds the park in the database and stays parked
    restarted = make_consumer(topic, bad_deploy, **settings)
    with running(restarted):
        assert wait_until(lambda: restarted.held is not None and restarted.held.kind == "parked")
        assert consumer_cli(["--database-url", kit_db, "parks"]) == 0
        assert f"{group}  PARKED" in capsys.readouterr().out

        fixed["yet"] = True
        assert consumer_cli(["--database-url", kit_db, "resume", group, "--by", "ops"]) == 0
        assert f"resumed {group}" in capsys.readouterr().out
        assert wait_until(lambda: len(effects(f"PAY_{unique}")) == 30 - parked_with)
        assert restarted.held is None
        assert check(health, max_age=10, live_only=False)[0]

    letters = list_dead_letters(cluster.bootstrap_servers, dlq)
    assert len(letters) == parked_with  # nothing dead-lettered twice, nothing after the fix
    applied = Counter(row[0] for row in effects(f"PAY_{unique}"))
    assert set(applied.values()) == {1}
    assert consumer_cli(["--database-url", kit_db, "resume", group]) == 1
    assert "is not parked" in capsys.readouterr().err
