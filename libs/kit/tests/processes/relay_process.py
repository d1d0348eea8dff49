"""An outbox relay in its own process.

python relay_process.py DB_URL BOOTSTRAP BATCH_SIZE
    publishes one batch, then SIGKILLs itself after the transaction committed and before
    the rows are marked sent: the moment where a careless relay would lose or forget events
python relay_process.py --serve DB_URL BOOTSTRAP HEALTH_FILE
    the relay worker as a service runs it, until SIGTERM
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from paykit.outbox import OutboxRelay, OutboxRow
from paykit.outbox.publisher import transactional_producers
from paykit.outbox.resilience import connect
from paykit.outbox.worker import run_outbox_relay


def die(rows: Sequence[OutboxRow]) -> None:
    print(f"published {len(rows)}", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


def main(args: list[str]) -> None:
    if args[0] == "--serve":
        db_url, bootstrap, health_file = args[1:]
        run_outbox_relay(
            database_url=db_url,
            bootstrap_servers=bootstrap,
            client_id="relay-process",
            liveness_file=Path(health_file),
        )
        print("stopped cleanly", flush=True)
        return
    db_url, bootstrap, batch_size = args[0], args[1], int(args[2])
    producers = transactional_producers(bootstrap, client_id="relay-process")
    relay = OutboxRelay(db_url, producers, batch_size=batch_size, on_published=die)
    with connect(db_url) as conn:
        relay.relay_once(conn)


if __name__ == "__main__":
    main(sys.argv[1:])
