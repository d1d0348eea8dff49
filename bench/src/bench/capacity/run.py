"""One capacity run: every target saturated in alternating rounds, then Kafka's plain figures.

Each round runs the bare endpoint, the payment service direct, the gateway and pgbench one after
the other, and each round starts one place further along that list, so no target always runs
first (on a warm cache) or last (after the others' autovacuum and checkpoints). Every HTTP
target is warmed up once before the first round, so the first round does not pay for opening
pools and connections.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import psutil

from bench.capacity.bare_server import serving_bare_app
from bench.capacity.baseline_db import (
    BARE_TABLE,
    PGBENCH_TABLE,
    baseline_database,
    count_rows,
    fresh_insert_table,
)
from bench.capacity.kafka_baseline import kafka_round_trip
from bench.capacity.pgbench import run_pgbench
from bench.capacity.report import BARE, GATEWAY, PAYMENT, CapacityReport, RoundFigures
from bench.capacity.vegeta import VEGETA_VERSION, Target, attack, vegeta_binary
from bench.driver import PAYMENT_BODY
from bench.merchants import Merchant
from bench.processes import UsageTracker, platform_processes

CONNECTIONS = 16
BARE_APP = "bench.capacity.bare_app:create_app()"
PGBENCH = "pgbench"
ROTATION = (BARE, PAYMENT, GATEWAY, PGBENCH)


def watched(run_dir: Path | None) -> dict[str, int]:
    """The processes whose CPU a round records: the platform's, and the bare endpoint's
    gunicorn master (a child of this process; its workers are counted with it)."""
    found = platform_processes(run_dir) if run_dir is not None else {}
    for child in psutil.Process().children():
        try:
            if BARE_APP in " ".join(child.cmdline()):
                found["bare-endpoint"] = child.pid
        except psutil.Error:
            continue
    return found


def rotated(order: tuple[str, ...], round_index: int) -> list[str]:
    """``order`` started ``round_index`` places along, wrapping round."""
    shift = round_index % len(order)
    return [*order[shift:], *order[:shift]]


def payment_targets(url: str, merchants: list[Merchant]) -> list[Target]:
    """A create at ``url`` as each merchant in turn, with the open-loop driver's body."""
    return [
        Target(
            url,
            PAYMENT_BODY,
            {"Authorization": f"Bearer {merchant.access_token}"},
        )
        for merchant in merchants
    ]


def run_capacity(
    env: Mapping[str, str],
    merchants: list[Merchant],
    *,
    seconds: float,
    rounds: int,
    warmup_seconds: float = 1.0,
    kafka_messages: int = 20_000,
    progress: Callable[[str], None] = lambda line: None,
    run_dir: Path | None = None,
) -> CapacityReport:
    """Saturate each target closed loop with 16 connections for ``seconds``, ``rounds`` times.

    ``env`` is the cluster's (``cluster.env``): ``PAY_PG_ADMIN_URL``, ``PAYMENT_URL``,
    ``GATEWAY_URL``, ``KAFKA_BOOTSTRAP_SERVERS``. The bare endpoint runs only inside this call.
    With ``run_dir`` (the cluster's pid files) each HTTP round also records the CPU every
    platform process and the bare endpoint used, so the report can say where a request's CPU
    goes; vegeta's own is not counted.
    """
    if not merchants:
        raise ValueError("the payment and gateway targets need at least one merchant")
    binary = vegeta_binary()
    report = CapacityReport(
        seconds=seconds,
        rounds=rounds,
        connections=CONNECTIONS,
        load_generator=f"vegeta {VEGETA_VERSION}",
    )
    database = baseline_database(env["PAY_PG_ADMIN_URL"])
    fresh_insert_table(database, BARE_TABLE)
    fresh_insert_table(database, PGBENCH_TABLE)
    with serving_bare_app(database) as bare_url:
        targets = {
            BARE: [Target(f"{bare_url}/v1/payments", PAYMENT_BODY)],
            # the payment service's own path; the gateway serves it as /v1/payments
            PAYMENT: payment_targets(f"{env['PAYMENT_URL']}/payments", merchants),
            GATEWAY: payment_targets(f"{env['GATEWAY_URL']}/v1/payments", merchants),
        }
        if warmup_seconds > 0:
            for name, each in targets.items():
                progress(f"warming up {name}")
                attack(binary, each, seconds=warmup_seconds, connections=CONNECTIONS)
        for index in range(rounds):
            for name in rotated(ROTATION, index):
                progress(f"round {index + 1}: {name}")
                if name == PGBENCH:
                    report.pgbench.append(
                        run_pgbench(database, PGBENCH_TABLE, seconds=seconds, clients=CONNECTIONS)
                    )
                else:
                    usage = UsageTracker(watched(run_dir))
                    usage.sample()
                    result = attack(binary, targets[name], seconds=seconds, connections=CONNECTIONS)
                    usage.sample()
                    cpu = {u.name: u.cpu_seconds for u in usage.usage() if u.cpu_seconds > 0}
                    report.http.append(RoundFigures.of(name, index + 1, result, cpu))
    progress(f"kafka: {kafka_messages} messages")
    report.kafka = kafka_round_trip(env["KAFKA_BOOTSTRAP_SERVERS"], messages=kafka_messages)
    report.rows = {table: count_rows(database, table) for table in (BARE_TABLE, PGBENCH_TABLE)}
    return report
