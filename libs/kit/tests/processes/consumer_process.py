"""A consumer in its own process, for tests that kill or signal it.

    python consumer_process.py DB_URL BOOTSTRAP TOPIC GROUP [--die-after-db-commit] [--slow]

The handler writes one ``effects`` row per event. ``--die-after-db-commit`` SIGKILLs the process
after the first batch's database commit and before its offset commit: the worst moment.
"""

from __future__ import annotations

import argparse
import os
import signal
import time
from typing import Any

from payevents import Envelope
from payevents.topics import ConsumerGroup, Topic
from paykit.consumer import Consumer, ConsumerSettings
from paykit.db import Connection, create_pool
from paykit.kafka_clients import create_consumer, create_producer


class DiesAfterDbCommit(Consumer):
    def _route(self, outcomes: Any) -> Any:
        print("db-committed", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("db_url", "bootstrap", "topic", "group"):
        parser.add_argument(name)
    parser.add_argument("--die-after-db-commit", action="store_true")
    parser.add_argument("--slow", action="store_true")
    args = parser.parse_args()

    def handler(conn: Connection, envelope: Envelope) -> None:
        if args.slow:
            time.sleep(0.05)
        conn.execute(
            "INSERT INTO effects (event_id, key, label) VALUES (%s, %s, %s)",
            (envelope.id, envelope.subject, envelope.data.get("description", "")),
        )

    topic = Topic(args.topic, 3, "payment id", (ConsumerGroup(args.group, (0.3, 0.6, 0.9)),))
    settings = ConsumerSettings(topic, args.group, batch_size=20)
    pool = create_pool(args.db_url, max_size=2)
    kafka = create_consumer(args.bootstrap, group_id=args.group, client_id=args.group)
    producer = create_producer(args.bootstrap, client_id=args.group)
    kind = DiesAfterDbCommit if args.die_after_db_commit else Consumer
    print("starting", flush=True)
    kind(settings, handler, pool, kafka, producer).run()
    producer.close()
    pool.close()
    print("stopped cleanly", flush=True)


if __name__ == "__main__":
    main()
