"""Payments created per second through the gateway, beside the payment service called directly.

What the gateway's hop costs: the same creates (``POST /v1/payments`` at the gateway with a token
it issued, ``POST /payments`` at ``PAYMENT_URL`` with a token from ``localcluster token`` for the
same merchant, signed by the same key), the same number of requests and the same threads, in one
run, alternating direct, gateway, direct, gateway, ... so that drift of a shared machine (the
cluster's workers charging the payments just made, other processes) falls on both sides alike.
Each thread is one merchant with one keep-alive connection; every create has its own
``Idempotency-Key``. The target is a gateway rate of at least 0.8 of the direct one.

The gateway limits writes per merchant (300/min, bursts of 50 by default), far below what this
measures: start the cluster with the limits raised, or the gateway's figures count 429s instead
of payments (they are reported, and the run says so)::

    export GATEWAY_WRITES_PER_MINUTE=1000000 GATEWAY_WRITES_BURST=100000
    uv run --frozen localcluster up
    set -a; . .local/$PAY_CLUSTER/cluster.env; set +a
    uv run --frozen python benchmarks/gateway_hop.py --requests 800 --threads 4 --rounds 2
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx

TARGET_RATIO = 0.8
PAYMENT_BODY = {"amount": 1500, "currency": "EUR", "payment_method": "pm_card_visa"}


@dataclass(frozen=True)
class Path:
    """One way to create a payment: where, and the bearer token of each thread's merchant."""

    name: str
    base_url: str
    create_path: str
    tokens: tuple[str, ...]


@dataclass
class Round:
    path: str
    seconds: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def created(self) -> int:
        return self.statuses[201]

    @property
    def rate(self) -> float:
        return self.created / self.seconds if self.seconds else 0.0


def _localcluster_token(*args: str) -> str:
    command = shutil.which("localcluster")
    if command is None:
        sys.exit("error: localcluster is not on PATH (run with uv run)")
    made = subprocess.run([command, "token", *args], capture_output=True, text=True, check=True)
    return made.stdout.strip()


def _merchants(gateway_url: str, count: int) -> list[tuple[str, str]]:
    """``count`` fresh merchants: (merchant id, gateway-issued token) each."""
    admin = _localcluster_token("--admin")
    made: list[tuple[str, str]] = []
    with httpx.Client(base_url=gateway_url, timeout=15) as gateway:
        for index in range(count):
            merchant = gateway.post(
                "/v1/admin/merchants",
                json={"name": f"bench {index} {uuid.uuid4().hex[:8]}"},
                headers={"Authorization": f"Bearer {admin}"},
            )
            merchant.raise_for_status()
            body = merchant.json()
            issued = gateway.post(
                "/v1/auth/token",
                json={"client_id": body["client_id"], "client_secret": body["client_secret"]},
            )
            issued.raise_for_status()
            made.append((body["merchant_id"], issued.json()["access_token"]))
    return made


def _drive(path: Path, requests_per_thread: int) -> Round:
    """Every thread creates its share as fast as its one connection allows."""
    outcome = Round(path.name)
    lock = threading.Lock()
    start = threading.Barrier(len(path.tokens) + 1)

    def worker(token: str) -> None:
        seen: Counter[int] = Counter()
        with httpx.Client(
            base_url=path.base_url, timeout=30, headers={"Authorization": f"Bearer {token}"}
        ) as client:
            start.wait()
            for _ in range(requests_per_thread):
                response = client.post(
                    path.create_path,
                    json=PAYMENT_BODY,
                    headers={"Idempotency-Key": uuid.uuid4().hex},
                )
                seen[response.status_code] += 1
        with lock:
            outcome.statuses.update(seen)

    threads = [threading.Thread(target=worker, args=(token,)) for token in path.tokens]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    outcome.seconds = time.perf_counter() - began
    return outcome


def _total_rate(rounds: list[Round]) -> float:
    seconds = sum(r.seconds for r in rounds)
    return sum(r.created for r in rounds) / seconds if seconds else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=800, help="creates per round")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2, help="rounds per path, alternated")
    parser.add_argument("--warmup", type=int, default=40, help="creates per path, not counted")
    args = parser.parse_args()
    gateway_url, payment_url = os.environ["GATEWAY_URL"], os.environ["PAYMENT_URL"]

    merchants = _merchants(gateway_url, args.threads)
    direct = Path(
        "direct",
        payment_url,
        "/payments",
        tuple(_localcluster_token("--merchant", merchant_id) for merchant_id, _ in merchants),
    )
    gateway = Path("gateway", gateway_url, "/v1/payments", tuple(t for _, t in merchants))
    per_thread = max(1, args.requests // args.threads)
    for path in (direct, gateway):
        _drive(path, max(1, args.warmup // args.threads))

    rounds: dict[str, list[Round]] = {direct.name: [], gateway.name: []}
    print(
        f"{per_thread * args.threads} creates per round, {args.threads} threads "
        f"(one merchant and connection each), {args.rounds} rounds per path, alternated"
    )
    for number in range(1, args.rounds + 1):
        for path in (direct, gateway):
            outcome = _drive(path, per_thread)
            rounds[path.name].append(outcome)
            others = {s: n for s, n in outcome.statuses.items() if s != 201}
            not_created = f"  other answers: {others}" if others else ""
            print(
                f"round {number} {path.name:8} {outcome.rate:8.1f} created/s "
                f"({outcome.created} in {outcome.seconds:.2f} s){not_created}"
            )
    direct_rate, gateway_rate = _total_rate(rounds["direct"]), _total_rate(rounds["gateway"])
    ratio = gateway_rate / direct_rate if direct_rate else 0.0
    print(f"direct   {direct_rate:8.1f} payments created/s")
    print(f"gateway  {gateway_rate:8.1f} payments created/s")
    verdict = "meets" if ratio >= TARGET_RATIO else "misses"
    print(f"ratio    {ratio:8.2f} (gateway / direct; {verdict} the target of {TARGET_RATIO})")
    limited = sum(r.statuses[429] for r in rounds["gateway"])
    if limited:
        print(f"warning: {limited} creates were rate limited (429): raise GATEWAY_WRITES_*")
    return 0


if __name__ == "__main__":
    sys.exit(main())
