"""Accepted webhook deliveries per second through the real webhook service, beside bare Flask.

Every tier runs under the same gunicorn settings (``-w 2 --threads 4`` by default) on
127.0.0.1, one after the other, driven by the same load generator (processes x threads, one
keep-alive connection per thread, each delivery a distinct signed PSP event):

  bare Flask        a Flask view that reads the body and answers 200: the ceiling of this
                    machine, gunicorn and the load generator together
  kit Flask         the platform's Flask app (request ids, a log line per request), no I/O
  webhook service   the real thing: signature, parsing, one transaction writing the delivery
                    row and the outbox row, Redis fast path when REDIS_URL is set
  service, replays  the same deliveries posted again, re-signed: all answered as duplicates
  service, 1 client one connection, one delivery at a time: latency without queueing

The service writes to a scratch database (kit and webhook migrations applied) that is dropped
afterwards. Nothing is published to Kafka. Load a cluster's environment first, e.g. the
private bench cluster:

    PAY_CLUSTER=bench uv run localcluster up --no-services
    set -a; . .local/bench/cluster.env; set +a
    uv run python benchmarks/webhook_throughput.py --deliveries 4000
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path

import psycopg

from paykit.auth.jwks import jwks_document
from paykit.auth.jwt import generate_signing_key, public_keys
from paykit.auth.webhook_signature import SIGNATURE_HEADER, sign
from paykit.migrations import KIT_MIGRATIONS
from paykit.testing import scratch_database

BENCH_DIR = Path(__file__).resolve().parent
WEBHOOK_MIGRATIONS = (
    BENCH_DIR.parent / "services" / "webhook" / "src" / "webhook_service" / "migrations"
)
BENCH_SECRET = "whsec_bench_" + hashlib.sha256(b"webhook-bench").hexdigest()[:32]
START_DELAY_SECONDS = 2.0
BASELINE = "bare Flask"


@dataclass(frozen=True)
class Load:
    deliveries: int
    warmup: int
    processes: int
    threads: int
    deadline_seconds: float


@dataclass
class Outcome:
    name: str
    sent: int = 0
    seconds: float = 0.0
    verdicts: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    stopped_by_deadline: bool = False

    @property
    def per_second(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def delivery(run: str, number: int) -> bytes:
    return json.dumps(
        {
            "id": f"evt_{run}_{number:07d}",
            "type": "payment.status",
            "paymentRef": f"PAY_bench_{number % 1000:04d}",
            "status": "SUCCESS" if number % 10 else "FAILED",
            "gatewayData": {
                "amount": 1000 + number % 5000,
                "currency": "EUR",
                "chargeId": f"ch_{run}_{number}",
                "failureCode": None if number % 10 else "card_declined",
            },
        },
        separators=(",", ":"),
    ).encode()


def drive(
    port: int, run: str, numbers: range, threads: int, start_at: float, deadline: float
) -> tuple[Counter[str], list[float], float, float, int]:
    """One load-generator process: ``threads`` keep-alive connections sharing ``numbers``."""
    verdicts: Counter[str] = Counter()
    latencies: list[float] = []
    spans: list[tuple[float, float]] = []
    lock = threading.Lock()
    share = [numbers[i::threads] for i in range(threads)]

    def worker(mine: range) -> None:
        now = int(time.time())
        bodies = [delivery(run, number) for number in mine]
        signed = [(body, sign(body, BENCH_SECRET, now)) for body in bodies]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        local: Counter[str] = Counter()
        times: list[float] = []
        while time.time() < start_at:
            time.sleep(0.005)
        began = time.perf_counter()
        for body, signature in signed:
            if time.time() > deadline:
                break
            sent = time.perf_counter()
            status, answer = _post(conn, port, body, signature)
            times.append((time.perf_counter() - sent) * 1000)
            local[_verdict(status, answer)] += 1
        ended = time.perf_counter()
        conn.close()
        with lock:
            verdicts.update(local)
            latencies.extend(times)
            spans.append((began, ended))

    pool = [threading.Thread(target=worker, args=(mine,)) for mine in share]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    first = min(start for start, _ in spans)
    last = max(end for _, end in spans)
    # perf_counter is per process: report the span as wall-clock instants for the parent.
    offset = time.time() - time.perf_counter()
    return verdicts, latencies, first + offset, last + offset, sum(verdicts.values())


def _post(
    conn: http.client.HTTPConnection, port: int, body: bytes, signature: str
) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature}
    for attempt in (1, 2):
        try:
            conn.request("POST", "/webhooks/psp", body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        except (http.client.HTTPException, ConnectionError):
            conn.close()  # the server closed an idle keep-alive connection: reconnect once
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _verdict(status: int, answer: bytes) -> str:
    if status != 200:
        return f"http {status}"
    if b'"duplicate"' in answer:
        return "duplicate"
    return "accepted" if b'"accepted"' in answer else "unexpected"


def measure(name: str, port: int, run: str, load: Load, first: int = 0) -> Outcome:
    """Warm up, then send ``load.deliveries`` numbered from ``first`` and time them."""
    ctx = get_context("spawn")
    with ProcessPoolExecutor(load.processes, mp_context=ctx) as executor:
        if load.warmup:
            warmup = range(first, first + load.warmup)
            executor.submit(drive, port, run, warmup, 2, time.time(), time.time() + 60).result()
        start_at = time.time() + START_DELAY_SECONDS
        deadline = start_at + load.deadline_seconds
        numbers = range(first + load.warmup, first + load.warmup + load.deliveries)
        futures = [
            executor.submit(
                drive, port, run, numbers[i :: load.processes], load.threads, start_at, deadline
            )
            for i in range(load.processes)
        ]
        results = [future.result() for future in futures]
    outcome = Outcome(name)
    for verdicts, latencies, _, _, sent in results:
        outcome.verdicts.update(verdicts)
        outcome.latencies_ms.extend(latencies)
        outcome.sent += sent
    outcome.seconds = max(r[3] for r in results) - min(r[2] for r in results)
    outcome.stopped_by_deadline = outcome.sent < load.deliveries
    return outcome


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def gunicorn(
    app: str, env: Mapping[str, str], workers: int, threads: int, log: Path
) -> Iterator[int]:
    """``app`` under gunicorn on a free port, until the block ends."""
    port = free_port()
    command = [
        sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", str(workers),
        "--threads", str(threads), "--pythonpath", str(BENCH_DIR), "--log-level", "warning",
        app,
    ]  # fmt: skip
    with log.open("ab") as output:
        server = subprocess.Popen(command, env=dict(env), stdout=output, stderr=output)
    try:
        _wait_until_serving(server, port, log)
        yield port
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_until_serving(server: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}; see {log}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"gunicorn did not serve on {port} within 30 s; see {log}")


def stored(database_url: str, run: str) -> tuple[int, int, int]:
    """Accepted rows, duplicate rows and outbox rows this run wrote."""
    with psycopg.connect(database_url) as conn:
        counts: dict[str, int] = dict(
            conn.execute(
                "SELECT verdict, count(*) FROM webhook_deliveries"
                " WHERE psp_event_id LIKE %s GROUP BY verdict",
                (f"evt_{run}_%",),
            ).fetchall()
        )
        (outbox,) = conn.execute("SELECT count(*) FROM outbox").fetchone() or (0,)
    return counts.get("accepted", 0), counts.get("duplicate", 0), outbox


def service_env(base: Mapping[str, str], database_url: str, jwks: Path) -> dict[str, str]:
    return {
        **base,
        "WEBHOOK_DATABASE_URL": database_url,
        "PSP_WEBHOOK_SECRETS": BENCH_SECRET,
        "AUTH_ISSUER": base.get("AUTH_ISSUER", "payments-gateway"),
        "AUTH_AUDIENCE": base.get("AUTH_AUDIENCE", "payments-api"),
        "AUTH_JWKS_PATH": str(jwks),
        "PYTHONUNBUFFERED": "1",
    }


def report(outcomes: list[Outcome], load: Load, workers: int, threads: int) -> None:
    baseline = next(o for o in outcomes if o.name == BASELINE)
    print(
        f"\n{load.deliveries} deliveries per tier after {load.warmup} warm-up "
        f"(a quarter, one at a time, for the 1-client tier), "
        f"{load.processes}x{load.threads} client connections, gunicorn -w {workers} "
        f"--threads {threads}, {os.cpu_count()} CPUs shared by server and client\n"
    )
    print(f"{'tier':<20}{'sent':>7}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'vs bare':>9}  answers")
    for o in outcomes:
        answers = ", ".join(f"{name} {count}" for name, count in sorted(o.verdicts.items()))
        flag = "  (deadline hit)" if o.stopped_by_deadline else ""
        print(
            f"{o.name:<20}{o.sent:>7}{o.per_second:>9.0f}{o.percentile(0.5):>9.1f}"
            f"{o.percentile(0.99):>9.1f}{o.per_second / baseline.per_second:>9.2f}  {answers}{flag}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=4000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--processes", type=int, default=2, help="load-generator processes")
    parser.add_argument("--threads", type=int, default=8, help="connections per process")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--worker-threads", type=int, default=4, help="gunicorn threads")
    parser.add_argument("--deadline", type=float, default=60.0, help="seconds per tier, at most")
    args = parser.parse_args()
    if not 1 <= args.deliveries <= 200_000:
        raise SystemExit("--deliveries must be between 1 and 200000")
    admin_url = os.environ.get("PAY_PG_ADMIN_URL")
    if not admin_url:
        raise SystemExit("PAY_PG_ADMIN_URL is not set: load a cluster's env first (see --help)")
    load = Load(args.deliveries, args.warmup, args.processes, args.threads, args.deadline)
    run = f"b{uuid.uuid4().hex[:8]}"
    sources = {"kit": KIT_MIGRATIONS, "webhook": WEBHOOK_MIGRATIONS}
    outcomes: list[Outcome] = []
    with (
        tempfile.TemporaryDirectory(prefix="webhook-bench-") as scratch,
        scratch_database(admin_url, sources, prefix="webhook_bench") as database_url,
    ):
        log = Path(scratch) / "gunicorn.log"
        jwks = Path(scratch) / "jwks.json"
        jwks.write_text(json.dumps(jwks_document(public_keys([generate_signing_key("bench")]))))
        env = service_env(os.environ, database_url, jwks)
        tiers = [
            (BASELINE, "webhook_baseline_app:bare_app()"),
            ("kit Flask", "webhook_baseline_app:kit_app()"),
        ]
        for name, app in tiers:
            with gunicorn(app, env, args.workers, args.worker_threads, log) as port:
                outcomes.append(measure(name, port, run + "x" + str(len(outcomes)), load))
        service_app = "webhook_service.entrypoints.app:create_app()"
        with gunicorn(service_app, env, args.workers, args.worker_threads, log) as port:
            outcomes.append(measure("webhook service", port, run, load))
            outcomes.append(measure("service, replays", port, run, load))
            single = replace(load, deliveries=max(1, load.deliveries // 4), warmup=0)
            single = replace(single, processes=1, threads=1)
            first_new = load.warmup + load.deliveries
            outcomes.append(measure("service, 1 client", port, run, single, first=first_new))
        accepted, duplicates, outbox = stored(database_url, run)
        report(outcomes, load, args.workers, args.worker_threads)
        expected = first_new + single.deliveries
        print(
            f"\nstored: {accepted} accepted deliveries, {duplicates} duplicates, {outbox} outbox "
            f"rows (expected {expected} accepted and as many outbox rows if no tier hit its "
            "deadline)"
        )


if __name__ == "__main__":
    main()
