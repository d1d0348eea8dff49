from pathlib import Path

import pytest

from localcluster.config import DEFAULT_PORTS, EPHEMERAL_START, HTTP_OFFSETS, load_config
from localcluster.errors import ClusterError


def test_clusters_with_default_ports_use_disjoint_ports() -> None:
    def every_port(name: str) -> set[int]:
        config = load_config({"PAY_CLUSTER": name})
        # metrics take a block of ten from their offset
        metrics = {config.http_port("metrics") + n for n in range(10)}
        return set(config.ports().values()) | {config.http_port(p) for p in HTTP_OFFSETS} | metrics

    assert set(DEFAULT_PORTS) == {"dev", "test", "bench", "chaos", "broker-loss"}
    names = sorted(DEFAULT_PORTS)
    for index, name in enumerate(names):
        for other in names[index + 1 :]:
            assert every_port(name).isdisjoint(every_port(other)), (name, other)


def test_default_ports_stay_below_the_ephemeral_range() -> None:
    for name in DEFAULT_PORTS:
        config = load_config({"PAY_CLUSTER": name})
        highest = max(*config.ports().values(), config.http_port("metrics") + 9)
        assert highest < EPHEMERAL_START, name


def test_every_port_can_be_overridden_from_the_environment(tmp_path: Path) -> None:
    config = load_config(
        {
            "PAY_CLUSTER": "other",
            "PAY_STATE_DIR": str(tmp_path),
            "PAY_KAFKA_PORT": "31000",
            "PAY_KAFKA_CONTROLLER_PORT": "31001",
            "PAY_PG_PORT": "31002",
            "PAY_REDIS_PORT": "31003",
            "PAY_HTTP_PORT_BASE": "32000",
        }
    )
    assert config.http_port("payment") == 32001 and config.http_port("psp") == 32005
    assert config.ports() == {
        "kafka": 31000,
        "controller": 31001,
        "postgres": 31002,
        "redis": 31003,
    }
    assert config.state_dir == tmp_path / "other"


def test_a_cluster_without_default_ports_names_the_missing_variable() -> None:
    with pytest.raises(ClusterError, match="PAY_KAFKA_PORT"):
        load_config({"PAY_CLUSTER": "other"})


@pytest.mark.parametrize("value", ["abc", "80", "70000", "-1"])
def test_a_malformed_port_is_refused(value: str) -> None:
    with pytest.raises(ClusterError, match=f"PAY_PG_PORT={value!r}"):
        load_config({"PAY_CLUSTER": "dev", "PAY_PG_PORT": value})


def test_one_port_used_twice_is_refused() -> None:
    with pytest.raises(ClusterError, match="one port twice"):
        load_config({"PAY_CLUSTER": "dev", "PAY_REDIS_PORT": "15432"})
    with pytest.raises(ClusterError, match="one port twice"):
        load_config({"PAY_CLUSTER": "dev", "PAY_HTTP_PORT_BASE": "15430"})
