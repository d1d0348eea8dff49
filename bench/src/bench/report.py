"""The run's output: a terminal table and a JSON file, both from the same per-rate results."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.driver import RateResult

COLUMNS = (
    ("offered/s", 9),
    ("sent", 6),
    ("answered", 8),
    ("created/s", 9),
    ("p50 ms", 8),
    ("p95 ms", 8),
    ("p99 ms", 8),
    ("max ms", 8),
    ("send lag ms", 11),
)


def result_record(result: RateResult) -> dict[str, Any]:
    """One rate as plain data for the JSON file."""
    latency = result.create_latency()
    return {
        "offered_rate": result.offered_rate,
        "seconds": result.seconds,
        "sent": result.sent,
        "answered": result.answered,
        "created_per_second": round(result.created_per_second, 1),
        "answers": dict(sorted(result.answers.items())),
        "errors": result.errors,
        "create_latency_ms": asdict(latency) if latency else None,
        "latest_send_lag_ms": round(result.latest_send_lag * 1000, 1),
    }


def table(results: list[RateResult]) -> str:
    """A fixed-width table, one row per rate, errors listed under the rows that had any."""
    header = " ".join(name.rjust(width) for name, width in COLUMNS)
    lines = [header, "-" * len(header)]
    for result in results:
        latency = result.create_latency()
        figures = (
            (latency.p50_ms, latency.p95_ms, latency.p99_ms, latency.max_ms)
            if latency
            else ("-", "-", "-", "-")
        )
        cells = (
            f"{result.offered_rate:g}",
            result.sent,
            result.answered,
            f"{result.created_per_second:.1f}",
            *figures,
            f"{result.latest_send_lag * 1000:.1f}",
        )
        lines.append(" ".join(str(c).rjust(w) for c, (_, w) in zip(cells, COLUMNS, strict=True)))
        if result.errors:
            listed = ", ".join(f"{status}: {n}" for status, n in result.errors.items())
            lines.append(f"{'':9} errors at {result.offered_rate:g}/s: {listed}")
    return "\n".join(lines)


def write_json(path: Path, run: dict[str, Any], results: list[RateResult]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {**run, "rates": [result_record(r) for r in results]}
    path.write_text(json.dumps(document, indent=2) + "\n")
