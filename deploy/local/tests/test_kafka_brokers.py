"""One broker by default; ``PAY_KAFKA_BROKERS=3`` for three, on ports derived from the cluster's."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from localcluster.config import DEFAULT_PORTS, EPHEMERAL_START, HTTP_OFFSETS, load_config
from localcluster.errors import ClusterError
from localcluster.kafka import KafkaBroker, KafkaCluster, new_cluster_id
from localcluster.processes import ManagedProcess, alive


def properties(broker: KafkaBroker) -> dict[str, str]:
    lines = broker.server_properties().splitlines()
    return dict(line.split("=", 1) for line in lines)


def test_a_cluster_has_one_broker_unless_told_otherwise() -> None:
    config = load_config({"PAY_CLUSTER": "dev"})
    assert config.kafka_brokers == 1
    assert config.bootstrap_servers == "127.0.0.1:19092"
    assert (config.replication_factor, config.min_insync_replicas) == (1, 1)
    assert config.kafka_heap_mb == 512


def test_three_brokers_listen_ten_ports_apart_and_clients_are_given_all_three() -> None:
    config = load_config({"PAY_CLUSTER": "dev", "PAY_KAFKA_BROKERS": "3"})
    assert config.kafka_ports == (19092, 19102, 19112)
    assert config.controller_ports == (19093, 19103, 19113)
    assert config.bootstrap_servers == "127.0.0.1:19092,127.0.0.1:19102,127.0.0.1:19112"
    assert (config.replication_factor, config.min_insync_replicas) == (3, 2)
    assert config.kafka_heap_mb == 256  # per broker: three JVMs on a small machine


def test_three_brokers_of_each_default_cluster_keep_to_their_own_ports() -> None:
    def every_port(name: str) -> set[int]:
        config = load_config({"PAY_CLUSTER": name, "PAY_KAFKA_BROKERS": "3"})
        metrics = {config.http_port("metrics") + n for n in range(10)}
        return set(config.ports().values()) | {config.http_port(p) for p in HTTP_OFFSETS} | metrics

    names = sorted(DEFAULT_PORTS)
    for name in names:
        assert max(every_port(name)) < EPHEMERAL_START, name
        for other in names[names.index(name) + 1 :]:
            assert every_port(name).isdisjoint(every_port(other)), (name, other)


@pytest.mark.parametrize("count", ["2", "4", "three"])
def test_only_one_or_three_brokers_are_offered(count: str) -> None:
    with pytest.raises(ClusterError, match=f"PAY_KAFKA_BROKERS={count!r}"):
        load_config({"PAY_CLUSTER": "dev", "PAY_KAFKA_BROKERS": count})


def test_a_derived_broker_port_taken_by_another_component_is_refused() -> None:
    environ = {"PAY_CLUSTER": "dev", "PAY_PG_PORT": "19112"}
    load_config(environ)  # one broker: 19112 is free
    with pytest.raises(ClusterError, match="one port twice"):
        load_config({**environ, "PAY_KAFKA_BROKERS": "3"})


def test_each_of_three_nodes_is_a_broker_and_a_voter_with_its_own_ports(tmp_path: Path) -> None:
    config = load_config(
        {"PAY_CLUSTER": "dev", "PAY_KAFKA_BROKERS": "3", "PAY_STATE_DIR": str(tmp_path)}
    )
    second = properties(KafkaCluster(config).broker(2))
    assert second["node.id"] == "2" and second["process.roles"] == "broker,controller"
    assert second["controller.quorum.voters"] == (
        "1@127.0.0.1:19093,2@127.0.0.1:19103,3@127.0.0.1:19113"
    )
    assert "controller.quorum.bootstrap.servers" not in second
    assert second["listeners"] == "PLAINTEXT://127.0.0.1:19102,CONTROLLER://127.0.0.1:19103"
    assert second["min.insync.replicas"] == "2"
    for internal in ("offsets.topic", "transaction.state.log", "share.coordinator.state.topic"):
        assert second[f"{internal}.replication.factor"] == "3"
    assert second["transaction.state.log.min.isr"] == "2"
    assert KafkaCluster(config).broker(2).log_file == tmp_path / "dev" / "logs" / "kafka-2.log"


def test_the_one_broker_cluster_keeps_its_standalone_quorum_and_names(tmp_path: Path) -> None:
    config = load_config({"PAY_CLUSTER": "dev", "PAY_STATE_DIR": str(tmp_path)})
    only = KafkaBroker(config)
    assert properties(only)["controller.quorum.bootstrap.servers"] == "127.0.0.1:19093"
    assert only.name == "kafka" and only.home == tmp_path / "dev" / "kafka"
    with pytest.raises(ClusterError, match="brokers 1 to 1, not 2"):
        KafkaBroker(config, 2)


def test_storage_formatted_for_one_broker_is_not_started_as_three(tmp_path: Path) -> None:
    one = load_config({"PAY_CLUSTER": "dev", "PAY_STATE_DIR": str(tmp_path)})
    data = KafkaBroker(one).data_dir
    data.mkdir(parents=True)
    (data / "meta.properties").write_text(f"cluster.id={new_cluster_id()}\nnode.id=1\n")
    three = load_config(
        {"PAY_CLUSTER": "dev", "PAY_STATE_DIR": str(tmp_path), "PAY_KAFKA_BROKERS": "3"}
    )
    with pytest.raises(ClusterError, match="formatted for 1 Kafka broker"):
        KafkaCluster(three).check_environment()


def test_a_cluster_id_is_kafkas_22_character_form() -> None:
    ids = {new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 22 and not i.startswith("-") and "=" not in i for i in ids)


def test_down_stops_brokers_started_under_another_broker_count(tmp_path: Path) -> None:
    """``up`` with PAY_KAFKA_BROKERS=3, ``down`` without it: brokers 2 and 3 go too."""
    one = load_config({"PAY_CLUSTER": "dev", "PAY_STATE_DIR": str(tmp_path)})
    leftover = ManagedProcess("kafka-3", one.run_dir)
    # detached, as `up` leaves a broker: not a child of this process
    shell = subprocess.run(
        ["sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $!"], capture_output=True, text=True
    )
    pid = int(shell.stdout)
    leftover.record(pid)

    assert KafkaCluster(one).stop()

    assert not alive(pid) and not leftover.pid_file.exists()
