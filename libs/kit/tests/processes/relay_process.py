"""An outbox relay in its own process that SIGKILLs itself after publishing one batch and
before marking it sent: the moment where a careless relay would lose or forget events.

    python relay_process.py DB_URL BOOTSTRAP BATCH_SIZE
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence

import psycopg

from paykit.kafka_clients import create_producer
from paykit.outbox import OutboxRelay, OutboxRow


def die(rows: Sequence[OutboxRow]) -> None:
    print(f"published {len(rows)}", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    db_url, bootstrap, batch_size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    relay = OutboxRelay(
        db_url,
        create_producer(bootstrap, client_id="relay-process"),
        batch_size=batch_size,
        on_published=die,
    )
    with psycopg.connect(db_url, autocommit=True) as conn:
        relay.relay_once(conn)


if __name__ == "__main__":
    main()
