"""How soon the PSP simulator's webhook sender sends an outcome, and how fast it drains a backlog.

Two figures per sender, the senders alternated in one run so the shared machine's noise falls
on each alike:

- lateness: from a charge's outcome being decided (its delivery falling due) to its webhook
  arriving at a local receiver, over charges taken at a steady rate (median, p90, max);
- backlog: webhooks per second while the sender drains deliveries that are all already due.

"after" is the sender of this checkout; "before" is the one at `--before` (a commit), run from
a copy of that commit's source, so both face the same Redis, receiver and charges. Each sender
runs as production runs it (`python -m psp_simulator.entrypoints.webhook_sender`), with its
defaults unless `--sender-env` says otherwise. On a cluster started by `localcluster up`:

    set -a; . .local/<cluster>/cluster.env; set +a
    uv run python benchmarks/psp_webhook_sender.py --before 51d8c08 --rounds 2
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from flask.testing import FlaskClient

from paykit.logging import configure_logging
from paykit.settings import Secret
from paykit.testing import wait_until
from psp_simulator.bootstrap import connect_redis
from psp_simulator.domain.outcomes import Timings
from psp_simulator.entrypoints.app import create_app
from psp_simulator.settings import DEFAULT_TIMINGS, SERVICE_NAME, SimulatorSettings
from psp_simulator.testing import (
    WebhookReceiver,
    admin_deliveries,
    charge_body,
    log_tail,
    process_environment,
    seconds_of,
    sender_process,
    serving,
)

# Signs the benchmark's webhooks only, with a receiver in this process.
SECRET = "whsec_benchmark_0123456789abcdef0123"  # noqa: S105
SENDER_SOURCE = "services/psp_simulator/src"
DRAIN_TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True)
class Sender:
    name: str
    pythonpath: str | None  # None: this checkout


@dataclass(frozen=True)
class Figures:
    lateness_ms: list[float]
    backlog_per_second: float

    def line(self, name: str) -> str:
        late = sorted(self.lateness_ms)
        p90 = late[min(len(late) - 1, int(0.9 * len(late)))]
        return (
            f"{name:<7} lateness median {statistics.median(late):7.1f} ms  p90 {p90:7.1f} ms  "
            f"max {late[-1]:7.1f} ms   backlog {self.backlog_per_second:7.1f} webhooks/s"
        )


def source_of(commit: str, into: Path) -> str:
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit, SENDER_SOURCE],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return str(into / SENDER_SOURCE)


class Bench:
    def __init__(self, redis_url: str, receiver: WebhookReceiver, sender_env: dict[str, str]):
        self.redis_url = redis_url
        self.receiver = receiver
        self.sender_env = sender_env
        self.redis = connect_redis(redis_url)

    def app(self, prefix: str, outcome_delay: float) -> FlaskClient:
        timings = Timings(
            outcome_delay=outcome_delay,
            response_delay=DEFAULT_TIMINGS.response_delay,
            slow_webhook_delay=DEFAULT_TIMINGS.slow_webhook_delay,
            late_webhook_delay=DEFAULT_TIMINGS.late_webhook_delay,
        )
        settings = SimulatorSettings(
            redis_url=Secret(self.redis_url), key_prefix=prefix, timings=timings
        )
        return create_app(settings, redis_client=self.redis).test_client()

    @contextmanager
    def running(self, sender: Sender, prefix: str, log: Path) -> Iterator[None]:
        variables = {"PSP_WEBHOOK_URL": self.receiver.url, "PSP_WEBHOOK_SECRETS": SECRET}
        environment = process_environment(self.redis_url, prefix, **variables, **self.sender_env)
        if sender.pythonpath:
            environment["PYTHONPATH"] = sender.pythonpath
        health = log.with_suffix(".health")
        environment["PAYKIT_HEALTH_DIR"] = str(health)
        with sender_process(environment, log):
            ready = health / "psp-webhook-sender.json"
            assert wait_until(ready.exists, 30, 0.05), log_tail(log)
            yield

    def lateness(self, sender: Sender, charges: int, rate: float, work: Path) -> list[float]:
        prefix = f"bench-late-{uuid.uuid4().hex[:8]}"
        client = self.app(prefix, DEFAULT_TIMINGS.outcome_delay)
        references = [f"PAY_{prefix}_{n}" for n in range(charges)]
        with self.running(sender, prefix, work / f"{prefix}.log"):
            started = time.monotonic()
            for n, reference in enumerate(references):
                time.sleep(max(0.0, started + n / rate - time.monotonic()))
                take_charge(client, reference)
            assert wait_until(lambda: self.arrived(references), DRAIN_TIMEOUT_SECONDS, 0.05)
        return [1000 * late for late in self.lateness_of(client, references)]

    def backlog(self, sender: Sender, deliveries: int, work: Path) -> float:
        prefix = f"bench-backlog-{uuid.uuid4().hex[:8]}"
        client = self.app(prefix, 0.0)
        references = [f"PAY_{prefix}_{n}" for n in range(deliveries)]
        for reference in references:
            take_charge(client, reference)
        with self.running(sender, prefix, work / f"{prefix}.log"):
            assert wait_until(lambda: self.arrived(references), DRAIN_TIMEOUT_SECONDS, 0.05)
        arrivals = sorted(w.at for r in references for w in self.receiver.accepted(r))
        return (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])

    def arrived(self, references: list[str]) -> bool:
        wanted = set(references)
        return len({w.event["paymentRef"] for w in self.receiver.accepted()} & wanted) == len(
            wanted
        )

    def lateness_of(self, client: FlaskClient, references: list[str]) -> list[float]:
        late = []
        for reference in references:
            [delivery] = admin_deliveries(client, reference)
            [webhook] = self.receiver.accepted(reference)
            late.append(webhook.at - seconds_of(delivery["first_due_at"]))
        return late


def take_charge(client: FlaskClient, reference: str) -> None:
    response = client.post(
        "/charges", json=charge_body(reference), headers={"Idempotency-Key": reference}
    )
    assert response.status_code == 201, response.json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", help="commit whose sender to compare with (git rev)")
    parser.add_argument("--charges", type=int, default=200, help="charges per lateness round")
    parser.add_argument("--rate", type=float, default=25.0, help="charges per second")
    parser.add_argument("--backlog", type=int, default=1000, help="deliveries per backlog round")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--receiver-hold-ms", type=float, default=0.0, help="receiver's answer time"
    )
    parser.add_argument(
        "--sender-env", action="append", default=[], metavar="NAME=VALUE", help="for each sender"
    )
    args = parser.parse_args()
    configure_logging(SERVICE_NAME, json=False, level="WARNING")  # no line per charge taken
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # nor per webhook received
    redis_url = os.environ.get("REDIS_URL") or sys.exit(
        "REDIS_URL is not set: load the cluster's env file first (see the module's docstring)"
    )
    sender_env = dict(item.split("=", 1) for item in args.sender_env)
    receiver = WebhookReceiver([SECRET])
    receiver.hold_seconds = args.receiver_hold_ms / 1000
    with tempfile.TemporaryDirectory() as scratch, serving(receiver) as url:
        receiver.url = f"{url}/webhooks/psp"
        work = Path(scratch)
        senders = [Sender("after", None)]
        if args.before:
            senders.insert(0, Sender("before", source_of(args.before, work / "before")))
        bench = Bench(redis_url, receiver, sender_env)
        print(f"{args.charges} charges at {args.rate:g}/s, backlog of {args.backlog}, ", end="")
        print(f"receiver answering in {args.receiver_hold_ms:g} ms")
        for round_number in range(1, args.rounds + 1):
            for sender in senders:
                figures = Figures(
                    bench.lateness(sender, args.charges, args.rate, work),
                    bench.backlog(sender, args.backlog, work),
                )
                print(f"round {round_number}  {figures.line(sender.name)}", flush=True)


if __name__ == "__main__":
    main()
