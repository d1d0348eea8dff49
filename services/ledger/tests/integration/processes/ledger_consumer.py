"""The ledger's poster in a process of its own, for tests that run several or kill one.

    python ledger_consumer.py DB_URL BOOTSTRAP TOPIC GROUP [--die-after-db-commit] [--batch N]

``--die-after-db-commit`` SIGKILLs the process after its first batch's database commit and
before the offset commit: the worst moment to die.
"""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path
from typing import Any

from ledger_service.bootstrap import bootstrap
from ledger_service.entrypoints.consumers import poster
from ledger_service.settings import LedgerSettings
from payevents.topics import ConsumerGroup, Topic
from paykit.consumer import Consumer, ConsumerSettings
from paykit.db import create_pool
from paykit.kafka_clients import create_consumer, create_producer
from paykit.settings import Secret


class DiesAfterDbCommit(Consumer):
    def _route(self, outcomes: Any) -> Any:
        print("db-committed", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("db_url", "bootstrap", "topic", "group"):
        parser.add_argument(name)
    parser.add_argument("--die-after-db-commit", action="store_true")
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    config = LedgerSettings(
        database_url=Secret(args.db_url),
        kafka_bootstrap_servers=args.bootstrap,
        auth_issuer="tests",
        auth_jwks_path=Path("/nonexistent"),
    )
    service = bootstrap(config, with_pool=False)
    topic = Topic(args.topic, 6, "payment id", (ConsumerGroup(args.group, (0.3, 0.6, 0.9)),))
    settings = ConsumerSettings(topic, args.group, batch_size=args.batch)
    pool = create_pool(args.db_url, max_size=2)
    kafka = create_consumer(
        args.bootstrap, group_id=args.group, client_id=f"{args.group}-{os.getpid()}"
    )
    producer = create_producer(args.bootstrap, client_id=args.group)
    kind = DiesAfterDbCommit if args.die_after_db_commit else Consumer
    print("starting", flush=True)
    kind(settings, poster(service), pool, kafka, producer).run()
    producer.close()
    pool.close()
    print("stopped cleanly", flush=True)


if __name__ == "__main__":
    main()
