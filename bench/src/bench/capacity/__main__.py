"""``python -m bench.capacity``: the capacity baselines against the local cluster, in one run.

Reads the cluster's addresses from the environment, filled in where unset from
``.local/<PAY_CLUSTER or dev>/cluster.env`` (``bench.cluster``, as ``python -m bench`` does).
The gateway's write limit must be raised when the cluster starts
(``GATEWAY_WRITES_PER_MINUTE`` / ``GATEWAY_WRITES_BURST``), or the gateway's figures count
429s. Prints the table and writes the JSON to ``bench/results/capacity-<UTC time>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.capacity.run import run_capacity
from bench.cluster import cluster_name, load_cluster_env
from bench.merchants import create_merchants

CLUSTER_VARIABLES = ("GATEWAY_URL", "PAYMENT_URL", "PAY_PG_ADMIN_URL", "KAFKA_BOOTSTRAP_SERVERS")
RESULTS_DIR = Path(__file__).resolve().parents[3] / "results"


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.capacity", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seconds", type=_positive, default=10, help="per target per round")
    parser.add_argument("--rounds", type=_count, default=3, help="alternating rounds")
    parser.add_argument("--merchants", type=_count, default=4, help="creates go round them")
    parser.add_argument("--warmup", type=float, default=2, help="seconds per target, not counted")
    parser.add_argument("--kafka-messages", type=_count, default=20_000, help="1 KiB each")
    parser.add_argument("--out", type=Path, default=None, help="JSON file (default results/)")
    args = parser.parse_args(argv)
    load_cluster_env()
    missing = [name for name in CLUSTER_VARIABLES if name not in os.environ]
    if missing:
        sys.exit(
            f"error: {', '.join(missing)} unset and not in cluster {cluster_name()!r}'s env file"
        )
    started = datetime.now(UTC)
    merchants = create_merchants(
        os.environ["GATEWAY_URL"], args.merchants, run_label=f"capacity {int(time.time())}"
    )
    report = run_capacity(
        os.environ,
        merchants,
        seconds=args.seconds,
        rounds=args.rounds,
        warmup_seconds=args.warmup,
        kafka_messages=args.kafka_messages,
        progress=lambda line: print(line, flush=True),
    )
    print(report.table())
    out = args.out or RESULTS_DIR / f"capacity-{started:%Y%m%dT%H%M%SZ}.json"
    document = {
        "started_at": started.isoformat(),
        "cluster": cluster_name(),
        "merchants": args.merchants,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average": os.getloadavg(),
        },
        **report.record(),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
