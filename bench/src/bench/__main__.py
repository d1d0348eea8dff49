"""``python -m bench``: payments through the gateway at each offered rate, one after another,
each followed through the pipeline to its settlement item.

Reads the cluster's addresses from the environment (``GATEWAY_URL``, ``KAFKA_BOOTSTRAP_SERVERS``;
``PAY_CLUSTER`` and its ports for ``localcluster token``), or, when ``GATEWAY_URL`` is unset,
from ``.local/<PAY_CLUSTER or dev>/cluster.env``. With ``--start-cluster`` a cluster that does
not answer is started first (with the gateway's write limit raised) and stopped after. On a
cluster already running, the gateway's per-merchant write limit must have been raised when it
started (``GATEWAY_WRITES_PER_MINUTE`` / ``GATEWAY_WRITES_BURST``), or the figures count 429s
instead of payments.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.capacity.idle import pipeline_paused, wait_drained
from bench.capacity.report import CapacityReport
from bench.capacity.run import run_capacity
from bench.chart import write_chart
from bench.cluster import cluster_name, ensure_cluster, load_cluster_env, stop_cluster
from bench.driver import RateResult, drive_rate, open_client
from bench.event_log import EventLog, collect_milestones
from bench.merchants import Merchant, create_merchants
from bench.monitor import Monitor
from bench.pipeline import summarise
from bench.pipeline_report import pipeline_report
from bench.processes import run_dir
from bench.rate_run import RateRun
from bench.report import table, write_json

RESULTS_DIR = Path(__file__).resolve().parents[2] / "results"
WARMUP_RATE = 10.0
# The event log is read from a little before the rate's first send, in case the relay's clock
# and the driver's disagree by a few milliseconds.
READ_FROM_BEFORE = 1.0


def _rates(text: str) -> list[float]:
    rates = [float(part) for part in text.split(",") if part.strip()]
    if not rates or any(rate <= 0 for rate in rates):
        raise argparse.ArgumentTypeError("rates must be positive numbers, comma separated")
    return rates


async def _drive(
    gateway_url: str, merchants: list[Merchant], rate: float, seconds: float, timeout: float
) -> RateResult:
    async with open_client(gateway_url, timeout=timeout) as client:
        return await drive_rate(client, merchants, rate, seconds, drain_seconds=timeout)


def measure_rate(
    gateway_url: str,
    merchants: list[Merchant],
    rate: float,
    seconds: float,
    *,
    timeout: float = 30,
    pipeline_timeout: float = 60,
) -> RateRun:
    """One rate: creates on schedule, then its events until they drain, watched throughout."""
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    with Monitor(bootstrap, run_dir()) as monitor:
        created = asyncio.run(_drive(gateway_url, merchants, rate, seconds, timeout))
        print(f"{rate:g}/s: {created.answers['201']} created of {created.sent} sent", flush=True)
        with EventLog(bootstrap, since=created.started_at - READ_FROM_BEFORE) as log:
            events, waited = collect_milestones(log, created.created, pipeline_timeout)
    return RateRun(created, summarise(created.created, events), monitor.observed, waited)


def _warm_up(args: argparse.Namespace, gateway_url: str, merchants: list[Merchant]) -> None:
    """A few payments through the whole pipeline, uncounted: connections, pools and consumer
    groups are up before the first measured send (a freshly started cluster's are not)."""
    created = asyncio.run(_drive(gateway_url, merchants, WARMUP_RATE, args.warmup, args.timeout))
    with EventLog(os.environ["KAFKA_BOOTSTRAP_SERVERS"], since=created.started_at) as log:
        collect_milestones(log, created.created, args.pipeline_timeout)


def _capacity(args: argparse.Namespace, merchants: list[Merchant]) -> CapacityReport:
    """The closed-loop baselines with the pipeline held still, then its backlog drained."""
    with pipeline_paused(run_dir()) as paused:
        print(f"capacity: {len(paused)} pipeline processes paused", flush=True)
        report = run_capacity(
            os.environ,
            merchants,
            seconds=args.capacity_seconds,
            rounds=args.capacity_rounds,
            progress=lambda line: print(f"capacity: {line}", flush=True),
            run_dir=run_dir(),
        )
    print("capacity: pipeline continued, waiting for it to drain", flush=True)
    took = wait_drained(os.environ["KAFKA_BOOTSTRAP_SERVERS"], timeout=args.drain_timeout)
    print(f"capacity: drained in {took:.0f} s", flush=True)
    return report


def _run(args: argparse.Namespace, gateway_url: str) -> tuple[CapacityReport | None, list[RateRun]]:
    merchants = create_merchants(gateway_url, args.merchants, run_label=str(int(time.time())))
    capacity = _capacity(args, merchants) if args.capacity_rounds > 0 else None
    if args.warmup > 0:
        _warm_up(args, gateway_url, merchants)
    return capacity, [
        measure_rate(
            gateway_url,
            merchants,
            rate,
            args.seconds,
            timeout=args.timeout,
            pipeline_timeout=args.pipeline_timeout,
        )
        for rate in args.rates
    ]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--rates", type=_rates, default=[25.0, 50.0, 100.0], help="e.g. 25,50")
    parser.add_argument("--seconds", type=float, default=10, help="duration of each rate")
    parser.add_argument("--merchants", type=int, default=4, help="requests go round them")
    parser.add_argument("--warmup", type=float, default=2, help="seconds at 10/s, not counted")
    parser.add_argument("--timeout", type=float, default=30, help="per request, and the drain")
    parser.add_argument(
        "--pipeline-timeout",
        type=float,
        default=60,
        help="longest wait after a rate for its payments' settlement items",
    )
    parser.add_argument(
        "--capacity-rounds",
        type=int,
        default=3,
        help="closed-loop baseline rounds before the rates, pipeline paused (0: none)",
    )
    parser.add_argument(
        "--capacity-seconds", type=float, default=10, help="each target's time in a round"
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=900,
        help="longest wait for the pipeline to work off the baselines' creates",
    )
    parser.add_argument("--out", type=Path, default=None, help="JSON file (default results/)")
    parser.add_argument(
        "--start-cluster", action="store_true", help="start the cluster if it does not answer"
    )
    parser.add_argument(
        "--keep-cluster", action="store_true", help="leave a cluster started here running"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    started_here = False
    if args.start_cluster:
        started_here = ensure_cluster()
    else:
        load_cluster_env()
    missing = [
        name for name in ("GATEWAY_URL", "KAFKA_BOOTSTRAP_SERVERS") if name not in os.environ
    ]
    if missing:
        sys.exit(
            f"error: {', '.join(missing)} unset and not in cluster {cluster_name()!r}'s env file"
        )
    gateway_url = os.environ["GATEWAY_URL"]
    started = datetime.now(UTC)
    try:
        capacity, runs = _run(args, gateway_url)
    finally:
        if started_here and not args.keep_cluster:
            stop_cluster()
    if capacity is not None:
        print(capacity.table())
        print()
    print(table([run.create for run in runs]))
    print()
    print(pipeline_report(runs))
    out = args.out or RESULTS_DIR / f"bench-{started:%Y%m%dT%H%M%SZ}.json"
    run = {
        "started_at": started.isoformat(),
        "gateway_url": gateway_url,
        "cluster": cluster_name(),
        "cluster_started_for_the_run": started_here,
        "merchants": args.merchants,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "load_average": os.getloadavg(),
        "capacity": capacity.record() if capacity is not None else None,
    }
    write_json(out, run, runs)
    chart = out.with_suffix(".png")
    write_chart(chart, runs, f"{cluster_name()} cluster, {started:%Y-%m-%d %H:%M} UTC")
    print(f"written {out} and {chart}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
