"""Ledger postings per second through the poster, by batch size and number of consumer processes.

Each run fills a fresh topic (six partitions) with payment.succeeded events for 50 merchants,
one in ten followed by a refund, and lets 1, 2 or 3 poster processes post them into a fresh
ledger database, with the real consumer runtime (inbox, one transaction per batch, outbox row
for ledger.transaction_posted, the triggers and the seal chain). The rate is measured from the
moment every process holds its partitions (the group is stable) to the last seal, so start-up
and the first rebalances are not counted. Beside it, PostgreSQL's own rate of single-row
inserts (pgbench, one client) on the same server in the same run. Run it on a private cluster:

    set -a; . .local/<cluster>/cluster.env; set +a
    uv run python benchmarks/ledger_throughput.py --events 6000
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import psycopg
from kafka import KafkaAdminClient
from psycopg import sql
from psycopg.conninfo import make_conninfo

from ledger_service.bootstrap import bootstrap
from ledger_service.entrypoints.cli import migration_sources
from ledger_service.entrypoints.consumers import poster
from ledger_service.settings import LedgerSettings
from localcluster.topics import ensure_topics
from payevents import Envelope, encode, new_event
from payevents.topics import ConsumerGroup, Topic
from paykit.consumer import Consumer, ConsumerSettings
from paykit.db import create_pool
from paykit.kafka_clients import create_consumer, create_producer
from paykit.migrations import migrate
from paykit.settings import Secret

MERCHANTS = 50
DEADLINE_SECONDS = 600.0


def events(count: int) -> list[Envelope]:
    made: list[Envelope] = []
    rng = random.Random(7)  # noqa: S311 - a repeatable workload, not a secret
    while len(made) < count:
        payment = f"PAY_{uuid.uuid4().hex[:16]}"
        amount = rng.randrange(500, 50_000)
        facts: dict[str, str | int] = {
            "payment_id": payment,
            "merchant_id": f"MER_bench_{rng.randrange(MERCHANTS)}",
            "amount": amount,
            "currency": "EUR",
        }
        made.append(new_event("payment.succeeded", facts, source="bench", subject=payment))
        if rng.random() < 0.1:
            refund = {**facts, "refund_id": f"ref_{payment}", "amount": amount // 2}
            made.append(new_event("refund.succeeded", refund, source="bench", subject=payment))
    return made[:count]


def fill_topic(bootstrap_servers: str, topic: Topic, envelopes: Sequence[Envelope]) -> None:
    producer = create_producer(bootstrap_servers, client_id="ledger-bench")
    for envelope in envelopes:
        value, headers = encode(envelope)
        producer.send(topic.name, key=envelope.subject.encode(), value=value, headers=headers)
    producer.flush()
    producer.close()


def new_database(admin_url: str, ledger_url: str) -> tuple[str, str]:
    name = f"ledger_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} OWNER ledger").format(sql.Identifier(name)))
    url = make_conninfo(ledger_url, dbname=name)
    migrate(url, migration_sources())
    return name, url


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def sealed(url: str) -> tuple[int, float]:
    """How many transactions are sealed, and the database's clock at the moment of counting."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*), extract(epoch FROM clock_timestamp()) FROM ledger_seals"
        ).fetchone()
    assert row is not None
    return int(row[0]), float(row[1])


def last_seal(url: str) -> float:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT extract(epoch FROM max(sealed_at)) FROM ledger_seals").fetchone()
    assert row is not None and row[0] is not None
    return float(row[0])


def group_is_stable(admin: KafkaAdminClient, group: str, members: int) -> bool:
    described = admin.describe_groups([group]).get(group, {})
    return described.get("group_state") == "Stable" and len(described.get("members", [])) == members


def one_run(env: dict[str, str], count: int, batch: int, processes: int) -> float:
    unique = uuid.uuid4().hex[:8]
    group = f"ledger-bench-{unique}"
    topic = Topic(f"ledger-bench-{unique}", 6, "payment id", (ConsumerGroup(group),))
    ensure_topics(env["KAFKA_BOOTSTRAP_SERVERS"], (topic,))
    fill_topic(env["KAFKA_BOOTSTRAP_SERVERS"], topic, events(count))
    name, url = new_database(env["PAY_PG_ADMIN_URL"], env["LEDGER_DATABASE_URL"])
    workers = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", url, topic.name, group, str(batch)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(processes)
    ]
    admin = KafkaAdminClient(bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"])
    try:
        deadline = time.monotonic() + DEADLINE_SECONDS
        start: tuple[int, float] | None = None
        while (now := sealed(url))[0] < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{now[0]} of {count} posted")
            if start is None and group_is_stable(admin, group, processes):
                start = now
            time.sleep(0.2)
        if start is None or start[0] > count * 0.8:
            raise RuntimeError(f"the group was not stable before {count} events were posted")
        posted, seconds = count - start[0], last_seal(url) - start[1]
    finally:
        admin.close()
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=60)
        drop_database(env["PAY_PG_ADMIN_URL"], name)
    return posted / seconds


def pgbench_inserts(admin_url: str, seconds: int) -> float:
    """PostgreSQL's single-row insert rate, one client, a commit per insert."""
    name = f"pgbench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_conninfo(admin_url, dbname=name)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE rows (id bigserial PRIMARY KEY, amount bigint NOT NULL)")
        with tempfile.NamedTemporaryFile("w", suffix=".sql") as script:
            script.write("INSERT INTO rows (amount) VALUES (1);\n")
            script.flush()
            result = subprocess.run(
                ["pgbench", "-n", "-c", "1", "-T", str(seconds), "-f", script.name, url],
                capture_output=True,
                text=True,
                check=True,
            )
        match = re.search(r"tps = ([0-9.]+)", result.stdout)
        assert match is not None, result.stdout
        return float(match.group(1))
    finally:
        drop_database(admin_url, name)


def worker(url: str, topic_name: str, group: str, batch: int) -> None:
    bootstrap_servers = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    config = LedgerSettings(
        database_url=Secret(url),
        kafka_bootstrap_servers=bootstrap_servers,
        auth_issuer="bench",
        auth_jwks_path=Path("/nonexistent"),
    )
    topic = Topic(topic_name, 6, "payment id", (ConsumerGroup(group),))
    pool = create_pool(url, max_size=2)
    kafka = create_consumer(bootstrap_servers, group_id=group, client_id=f"{group}-{os.getpid()}")
    producer = create_producer(bootstrap_servers, client_id=group)
    settings = ConsumerSettings(topic, group, batch_size=batch)
    Consumer(settings, poster(bootstrap(config, with_pool=False)), pool, kafka, producer).run()
    producer.close()
    pool.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=6_000, help="events per run (batches)")
    parser.add_argument("--events-unbatched", type=int, default=1_000, help="at batch size 1")
    parser.add_argument("--batches", default="1,100,500")
    parser.add_argument("--processes", default="1,2,3")
    parser.add_argument("--worker", nargs=4, metavar=("URL", "TOPIC", "GROUP", "BATCH"))
    args = parser.parse_args(argv)
    if args.worker:
        url, topic, group, batch = args.worker
        worker(url, topic, group, int(batch))
        return 0
    env = dict(os.environ)
    inserts = pgbench_inserts(env["PAY_PG_ADMIN_URL"], 10)
    print(f"pgbench single-row inserts, 1 client: {inserts:,.0f}/s")
    print(f"{'batch':>6} {'processes':>10} {'postings/s':>12}")
    for batch in (int(b) for b in args.batches.split(",")):
        count = args.events_unbatched if batch == 1 else args.events
        for processes in (int(p) for p in args.processes.split(",")):
            rate = one_run(env, count, batch, processes)
            print(f"{batch:>6} {processes:>10} {rate:>12,.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
