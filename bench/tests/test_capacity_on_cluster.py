"""The capacity run against the real cluster, with one-second rounds: every target did real work.

Needs the whole platform running (gateway and payment service included), as ``make test`` or
``localcluster up`` starts it; skipped where no cluster env is set.
"""

import math
import os
import time
from collections.abc import Mapping

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from bench.capacity import run_capacity
from bench.capacity.baseline_db import BARE_TABLE, PGBENCH_TABLE, baseline_database, count_rows
from bench.merchants import Merchant, create_merchants

CLUSTER_VARIABLES = ("GATEWAY_URL", "PAYMENT_URL", "PAY_PG_ADMIN_URL", "KAFKA_BOOTSTRAP_SERVERS")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not all(os.environ.get(name) for name in CLUSTER_VARIABLES),
        reason="no cluster here: source .local/<cluster>/cluster.env of a running platform",
    ),
    pytest.mark.timeout(240),
]


def _payments_of(admin_url: str, merchants: list[Merchant]) -> int:
    with psycopg.connect(make_conninfo(admin_url, dbname="payment")) as conn:
        counted = conn.execute(
            "SELECT count(*) FROM payments WHERE merchant_id = ANY(%s)",
            ([m.merchant_id for m in merchants],),
        ).fetchone()
    return int(counted[0]) if counted else 0


def test_a_short_capacity_run_creates_rows_and_payments_and_gives_finite_ratios() -> None:
    env: Mapping[str, str] = os.environ
    # eight merchants keep the gateway's default write burst (50 each) clear of a short run
    merchants = create_merchants(env["GATEWAY_URL"], 8, run_label=f"capacity-test {time.time()}")

    report = run_capacity(
        env, merchants, seconds=1, rounds=1, warmup_seconds=0.5, kafka_messages=2_000
    )

    successes = {figures.target: figures.successes for figures in report.http}
    assert all(successes[target] > 0 for target in ("bare", "payment", "gateway"))
    database = baseline_database(env["PAY_PG_ADMIN_URL"])
    assert count_rows(database, BARE_TABLE) >= successes["bare"]
    assert count_rows(database, PGBENCH_TABLE) >= report.pgbench[0].transactions > 0
    created = _payments_of(env["PAY_PG_ADMIN_URL"], merchants)
    assert created >= successes["payment"] + successes["gateway"]
    for name, value in report.ratios().items():
        assert value is not None and math.isfinite(value) and value > 0, name
    assert report.kafka is not None
    assert report.kafka.produced == report.kafka.consumed == 2_000
    assert "payment/bare" in report.table()
