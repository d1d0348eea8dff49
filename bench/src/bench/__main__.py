"""``python -m bench``: payments through the gateway at each offered rate, one after another.

Reads the cluster's addresses from the environment (``GATEWAY_URL``; ``PAY_CLUSTER`` and its
ports for ``localcluster token``), or, when ``GATEWAY_URL`` is unset, from
``.local/<PAY_CLUSTER or dev>/cluster.env``. The gateway's per-merchant write limit must be
raised for the run (``GATEWAY_WRITES_PER_MINUTE`` / ``GATEWAY_WRITES_BURST`` when the cluster
starts), or the figures count 429s instead of payments.
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

from bench.driver import RateResult, drive_rate, open_client
from bench.merchants import create_merchants
from bench.report import table, write_json

RESULTS_DIR = Path(__file__).resolve().parents[2] / "results"


def _load_cluster_env() -> None:
    """Fill the environment from the cluster's env file when the caller did not source it."""
    if "GATEWAY_URL" in os.environ:
        return
    cluster = os.environ.get("PAY_CLUSTER", "dev")
    env_file = Path.cwd() / ".local" / cluster / "cluster.env"
    if not env_file.exists():
        sys.exit(f"error: GATEWAY_URL is unset and {env_file} does not exist: start the cluster")
    for line in env_file.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            os.environ.setdefault(name.strip(), value.strip())


def _rates(text: str) -> list[float]:
    rates = [float(part) for part in text.split(",") if part.strip()]
    if not rates or any(rate <= 0 for rate in rates):
        raise argparse.ArgumentTypeError("rates must be positive numbers, comma separated")
    return rates


async def _run(args: argparse.Namespace, gateway_url: str) -> list[RateResult]:
    merchants = create_merchants(gateway_url, args.merchants, run_label=str(int(time.time())))
    results: list[RateResult] = []
    async with open_client(gateway_url, timeout=args.timeout) as client:
        if args.warmup > 0:
            await drive_rate(client, merchants, rate=10, seconds=args.warmup, drain_seconds=10)
        for rate in args.rates:
            result = await drive_rate(
                client, merchants, rate, args.seconds, drain_seconds=args.timeout
            )
            results.append(result)
            print(f"{rate:g}/s: {result.answers['201']} created of {result.sent} sent", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--rates", type=_rates, default=[25.0, 50.0, 100.0], help="e.g. 25,50")
    parser.add_argument("--seconds", type=float, default=10, help="duration of each rate")
    parser.add_argument("--merchants", type=int, default=4, help="requests go round them")
    parser.add_argument("--warmup", type=float, default=2, help="seconds at 10/s, not counted")
    parser.add_argument("--timeout", type=float, default=30, help="per request, and the drain")
    parser.add_argument("--out", type=Path, default=None, help="JSON file (default results/)")
    args = parser.parse_args(argv)
    _load_cluster_env()
    gateway_url = os.environ["GATEWAY_URL"]
    started = datetime.now(UTC)
    results = asyncio.run(_run(args, gateway_url))
    print(table(results))
    out = args.out or RESULTS_DIR / f"bench-{started:%Y%m%dT%H%M%SZ}.json"
    run = {
        "started_at": started.isoformat(),
        "gateway_url": gateway_url,
        "cluster": os.environ.get("PAY_CLUSTER", "dev"),
        "merchants": args.merchants,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
    }
    write_json(out, run, results)
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
