"""payctl against the real platform: the ledger's database and Kafka of the test cluster, and,
when ``GATEWAY_URL`` names a running gateway, one journey per command group through it.

``make test`` gives the cluster; the gateway tests are skipped, saying why, where no gateway runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from localcluster.testing import ClusterEnv
from localcluster.topics import ensure_topics
from payctl.cli import cli
from payctl.standin import Payctl
from payevents.topics import ConsumerGroup, Topic
from paykit.consumer.routing import Failure, route_failure
from paykit.kafka_clients import create_producer

pytestmark = pytest.mark.integration


def test_ledger_verify_runs_the_ledgers_own_check_on_its_database(
    isolated_database: Callable[[str], str], payctl: Payctl
) -> None:
    url = isolated_database("ledger")
    result = payctl("ledger", "verify", PAYCTL_LEDGER_DATABASE_URL=url)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "ledger verified"
    as_json = json.loads(
        payctl("ledger", "verify", "--json", PAYCTL_LEDGER_DATABASE_URL=url).stdout
    )
    assert as_json["verified"] is True


def test_dlq_lists_and_replays_a_real_dead_letter(
    cluster: ClusterEnv, unique: str, payctl: Payctl
) -> None:
    topic = Topic(
        name=f"payctl-{unique}",
        partitions=1,
        key="payment id",
        consumers=(ConsumerGroup(f"payctl-{unique}", retry_delays=(0.3,)),),
    )
    ensure_topics(cluster.bootstrap_servers, (topic,))
    group = topic.consumers[0].name
    route = route_failure(
        topic,
        group,
        (),
        record_topic=topic.name,
        partition=0,
        offset=7,
        headers=None,
        failure=Failure("invalid", ValueError("bad amount")),
    )
    producer = create_producer(cluster.bootstrap_servers, client_id=f"payctl-{unique}")
    producer.send(route.topic, key=b"PAY_1", value=b"{}", headers=route.headers).get(timeout=10)
    producer.close()
    dlq = topic.dlq_topic(group)
    servers = {"KAFKA_BOOTSTRAP_SERVERS": cluster.bootstrap_servers}

    listed = payctl("dlq", "list", dlq, "--json", **servers)
    assert listed.exit_code == 0, listed.stderr
    [letter] = json.loads(listed.stdout)
    assert letter["reason"] == "invalid" and letter["error"]["message"] == "bad amount"
    assert letter["original"]["topic"] == topic.name
    text = payctl("dlq", "list", dlq, **servers)
    assert text.stdout.splitlines()[-1] == f"1 message(s) in {dlq}"
    replayed = payctl("dlq", "replay", dlq, **servers)
    assert replayed.stdout == f"replayed 1 message(s) from {dlq}\n"
    again = payctl("dlq", "replay", dlq, **servers)
    assert again.stdout == f"replayed 0 message(s) from {dlq}\n"


GATEWAY_URL = os.environ.get("GATEWAY_URL")
needs_gateway = pytest.mark.skipif(
    not GATEWAY_URL,
    reason="no gateway runs here: set GATEWAY_URL (and LEDGER_URL, "
    "SETTLEMENT_URL, as cluster.env does) to run payctl against the real platform",
)


@pytest.fixture
def on_cluster(tmp_path: Path) -> Payctl:
    """payctl as an operator of the local cluster runs it: its addresses, its admin token."""

    def run(*args: str, input: str | None = None, **env: str | None) -> Result:
        environment: dict[str, str | None] = {
            "PAYCTL_GATEWAY_URL": GATEWAY_URL,
            "PAYCTL_LEDGER_URL": os.environ.get("LEDGER_URL"),
            "PAYCTL_SETTLEMENT_URL": os.environ.get("SETTLEMENT_URL"),
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            **env,
        }
        return CliRunner().invoke(cli, list(args), input=input, env=environment)

    return run


def _merchant(on_cluster: Payctl, unique: str) -> dict[str, str]:
    made = on_cluster("merchants", "create", "--name", f"payctl {unique}", "--json")
    assert made.exit_code == 0, made.stderr
    credentials: dict[str, str] = json.loads(made.stdout)
    return credentials


@needs_gateway
def test_on_the_cluster_merchants_and_keys(on_cluster: Payctl, unique: str) -> None:
    merchant = _merchant(on_cluster, unique)
    listed = json.loads(on_cluster("merchants", "list", "--json").stdout)
    assert merchant["merchant_id"] in json.dumps(listed)
    key = json.loads(
        on_cluster("keys", "create", "--merchant", merchant["merchant_id"], "--json").stdout
    )
    keys = on_cluster("keys", "list", "--merchant", merchant["merchant_id"], "--json")
    # the gateway lists a merchant's keys by id (its client id is the merchant's), never a secret
    assert key["key_id"] in keys.stdout and key["client_secret"] not in keys.stdout


@needs_gateway
def test_on_the_cluster_a_merchant_logs_in_and_takes_a_payment(
    on_cluster: Payctl, unique: str
) -> None:
    merchant = _merchant(on_cluster, unique)
    login = on_cluster(
        "login", "--client-id", merchant["client_id"], "--client-secret", merchant["client_secret"]
    )
    assert login.exit_code == 0, login.stderr
    made = on_cluster(
        "payments",
        "create",
        "--amount",
        "3000",
        "--currency",
        "EUR",
        "--method",
        "pm_card_visa",
        "--json",
    )
    assert made.exit_code == 0, made.stderr
    payment_id = json.loads(made.stdout)["id"]
    followed = on_cluster("payments", "follow", payment_id, "--interval", "0.5", "--timeout", "1")
    assert "created" in followed.stdout
    assert payment_id in on_cluster("payments", "list", "--json").stdout
    assert on_cluster("balances", "--json").exit_code == 0
    assert on_cluster("settlements", "list", "--json").exit_code == 0


@needs_gateway
def test_on_the_cluster_the_ledger_settlement_and_reconciliation(on_cluster: Payctl) -> None:
    trial = on_cluster("ledger", "trial-balance", "--json")
    assert trial.exit_code == 0, trial.stderr
    assert json.loads(trial.stdout)["balanced"] is True
    today = datetime.now(UTC).date().isoformat()
    report = on_cluster("reconcile", "--date", today, "--json")
    assert report.exit_code in (0, 1), report.stderr
    assert set(json.loads(report.stdout)["checks"]) == {
        "settlement_vs_ledger",
        "platform_vs_psp",
        "batches_vs_bank",
    }
