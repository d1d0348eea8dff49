"""The run's output: the creates' terminal table and the JSON file of every figure per rate."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.driver import RateResult
from bench.rate_run import RateRun

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


def rate_record(run: RateRun) -> dict[str, Any]:
    """One rate with its pipeline, lag series and processes, as plain data for the JSON file."""
    lag = run.observed.lag
    pipeline = asdict(run.pipeline)
    pipeline["hop_p50_sum_ms"] = run.pipeline.hop_p50_sum_ms
    pipeline["wait_seconds"] = round(run.pipeline_wait_seconds, 1)
    return {
        **result_record(run.create),
        "pipeline": pipeline,
        "lag": {
            "groups": {
                group: {"max": lag.max_lag(group), "final": lag.final_lag(group)}
                for group in lag.groups()
            },
            "series": [{"at": round(s.at, 3), "lag": s.lag} for s in lag.samples],
            "failed_samples": run.observed.failed_samples,
        },
        "observed_seconds": run.observed.seconds,
        "processes": [asdict(usage) for usage in run.observed.processes],
    }


def write_json(path: Path, run: dict[str, Any], runs: list[RateRun]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {**run, "rates": [rate_record(r) for r in runs]}
    path.write_text(json.dumps(document, indent=2) + "\n")
