"""`python -m paykit.dlq` against real Kafka: it ends whatever retention left; one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from kafka import KafkaAdminClient, KafkaProducer, TopicPartition

from localcluster.testing import ClusterEnv
from localcluster.topics import ensure_topics
from payevents.topics import Topic
from paykit.consumer.routing import Failure, route_failure
from paykit.dlq import DlqError, main, read_to_end
from paykit.kafka_clients import create_producer
from paykit.testing import read_topic, wait_until

AtPartition = Callable[[int, int], None]


@pytest.fixture
def dlq(cluster: ClusterEnv, topic: Topic) -> str:
    """The group's DLQ grown to three partitions, so retention can leave each a different part."""
    ensure_topics(cluster.bootstrap_servers, (replace(topic, retry_partitions=3),))
    return topic.dlq_topic(topic.consumers[0].name)


@pytest.fixture
def dead_letter(cluster: ClusterEnv, topic: Topic, dlq: str) -> Iterator[AtPartition]:
    """Writes ``count`` letters to one partition of the group's DLQ, as the runtime would."""
    producer: KafkaProducer = create_producer(cluster.bootstrap_servers, client_id="dlq-tests")
    group = topic.consumers[0].name
    assert wait_until(lambda: len(producer.partitions_for(dlq)) == 3)

    def write(partition: int, count: int) -> None:
        for n in range(count):
            route = route_failure(
                topic,
                group,
                (),
                record_topic=topic.name,
                partition=partition,
                offset=n,
                headers=None,
                failure=Failure("invalid", ValueError(f"letter {partition}-{n}")),
            )
            producer.send(
                route.topic,
                key=f"key-{partition}-{n}".encode(),
                value=b"{}",
                headers=route.headers,
                partition=partition,
            )
        producer.flush()

    yield write
    producer.close()


@pytest.fixture
def expire(cluster: ClusterEnv, dlq: str) -> Iterator[AtPartition]:
    """Removes a partition's letters below an offset, as retention does."""
    admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap_servers, client_id="dlq-tests")

    def before(partition: int, offset: int) -> None:
        admin.delete_records({TopicPartition(dlq, partition): offset})

    yield before
    admin.close()


def servers(cluster: ClusterEnv) -> list[str]:
    return ["--bootstrap-servers", cluster.bootstrap_servers, "--timeout", "5"]


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_list_after_retention_shows_what_is_left_and_ends(
    cluster: ClusterEnv,
    dlq: str,
    dead_letter: AtPartition,
    expire: AtPartition,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dead_letter(0, 5)
    dead_letter(1, 2)
    dead_letter(2, 1)
    expire(0, 3)
    expire(2, 1)  # retention took every letter of partition 2
    assert main([*servers(cluster), "list", dlq]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == ["0:3", "0:4", "1:0", "1:1"]
    assert lines[-1] == f"4 message(s) in {dlq}"


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_show_finds_a_kept_letter_and_names_one_retention_removed(
    cluster: ClusterEnv,
    dlq: str,
    dead_letter: AtPartition,
    expire: AtPartition,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dead_letter(0, 4)
    expire(0, 2)
    assert main([*servers(cluster), "show", dlq, "--at", "0:3"]) == 0
    assert '"message": "letter 0-3"' in capsys.readouterr().out
    assert main([*servers(cluster), "show", dlq, "--at", "0:1", "--at", "0:3"]) == 1
    captured = capsys.readouterr()
    assert '"message": "letter 0-3"' in captured.out
    assert captured.err == f"error: no letter at 0:1 in {dlq}\n"


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_replay_after_retention_passed_the_replayers_position_sends_only_what_is_left(
    cluster: ClusterEnv,
    topic: Topic,
    dlq: str,
    dead_letter: AtPartition,
    expire: AtPartition,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dead_letter(0, 2)
    assert main([*servers(cluster), "replay", dlq]) == 0  # the replayer is now at 0:2
    dead_letter(0, 2)
    dead_letter(1, 3)
    expire(0, 4)  # past the replayer's position: nothing is left in partition 0
    expire(1, 1)
    capsys.readouterr()
    assert main([*servers(cluster), "replay", dlq]) == 0
    assert capsys.readouterr().out == f"replayed 2 message(s) from {dlq}\n"
    assert main([*servers(cluster), "replay", dlq]) == 0
    assert capsys.readouterr().out == f"replayed 0 message(s) from {dlq}\n"
    replayed = sorted(r.key for r in read_topic(cluster.bootstrap_servers, topic.name))
    assert replayed == [b"key-0-0", b"key-0-1", b"key-1-1", b"key-1-2"]


class StalledConsumer:
    """A consumer whose partition never advances: a broker that stopped answering mid-read."""

    def partitions_for_topic(self, topic: str) -> set[int]:
        return {0}

    def assign(self, partitions: list[TopicPartition]) -> None:
        pass

    def beginning_offsets(
        self, partitions: list[TopicPartition], timeout_ms: int | None = None
    ) -> dict[TopicPartition, int]:
        return dict.fromkeys(partitions, 0)

    def end_offsets(
        self, partitions: list[TopicPartition], timeout_ms: int | None = None
    ) -> dict[TopicPartition, int]:
        return dict.fromkeys(partitions, 10)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        pass

    def position(self, partition: TopicPartition, timeout_ms: int | None = None) -> int:
        return 0

    def poll(self, timeout_ms: int = 0) -> dict[TopicPartition, list[object]]:
        return {}


@pytest.mark.timeout(30)
def test_a_read_that_makes_no_progress_ends_with_an_error() -> None:
    with pytest.raises(DlqError, match=r"no progress for 0.5 s .*partition 0 at 0 of 10"):
        list(read_to_end(StalledConsumer(), "t.dlq", from_committed=False, timeout=0.5))


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    return subprocess.run(
        [sys.executable, "-m", "paykit.dlq", *args],
        env={**environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_one_error_line(result: subprocess.CompletedProcess[str], expected: str) -> None:
    assert result.returncode != 0
    assert result.stderr.splitlines() == [expected], result.stderr


@pytest.mark.parametrize("spot", ["5", "x", "0:", "0:1:2", "1:-3"])
def test_an_at_without_partition_and_offset_is_one_line_and_exit_2(spot: str) -> None:
    result = run_cli("--bootstrap-servers", "127.0.0.1:1", "show", "t.dlq", "--at", spot)
    assert_one_error_line(result, f"error: --at takes PARTITION:OFFSET, not {spot!r}")
    assert result.returncode == 2


@pytest.mark.integration
def test_an_unknown_topic_is_one_line(cluster: ClusterEnv, unique: str) -> None:
    result = run_cli(*servers(cluster), "list", f"no-such-{unique}.dlq")
    assert_one_error_line(result, f"error: topic no-such-{unique}.dlq does not exist")


def test_no_broker_at_the_address_is_one_line() -> None:
    result = run_cli("--bootstrap-servers", "127.0.0.1:1", "--timeout", "2", "list", "t.dlq")
    assert_one_error_line(result, "error: no Kafka broker answered at 127.0.0.1:1 within 2 s")


def test_missing_bootstrap_servers_is_one_line() -> None:
    result = run_cli("list", "t.dlq")
    assert_one_error_line(result, "error: give --bootstrap-servers or set KAFKA_BOOTSTRAP_SERVERS")
    assert result.returncode == 2


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), "the following arguments are required: command"),
        (("purge", "t.dlq"), "argument command: invalid choice: 'purge'"),
        (("list",), "the following arguments are required: dlq_topic"),
        (("list", "t.dlq", "--at", "0:1"), "unrecognized arguments: --at 0:1"),
    ],
)
def test_a_malformed_command_line_is_one_line(args: tuple[str, ...], expected: str) -> None:
    result = run_cli(*args, env={"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"})
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: {expected}")
    assert result.returncode == 2
