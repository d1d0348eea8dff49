"""The run as one PNG: latency percentiles and throughput against the offered rate.

Drawn with matplotlib's Agg backend (files only, no display), so it works on a headless
machine and in CI. Latency is on a log scale: at rates the pipeline keeps up with it is tens
to hundreds of milliseconds, past saturation tens of seconds, and both must stay readable.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported, which picks a backend on import

import matplotlib.pyplot as plt

from bench.rate_run import RateRun
from bench.stats import LatencySummary

STAGE_COLOURS = {
    "succeeded": "tab:green",
    "ledger posted": "tab:orange",
    "settlement item": "tab:red",
}


def _percentiles(summaries: Sequence[LatencySummary | None]) -> tuple[list[float], list[float]]:
    nan = float("nan")
    return (
        [s.p50_ms if s else nan for s in summaries],
        [s.p99_ms if s else nan for s in summaries],
    )


def write_chart(path: Path, runs: Sequence[RateRun], title: str) -> None:
    """Left: create and create-to-stage p50 (solid) and p99 (dashed); right: per-second rates."""
    rates = [run.offered_rate for run in runs]
    figure, (latency, throughput) = plt.subplots(1, 2, figsize=(12, 5))
    p50, p99 = _percentiles([run.create.create_latency() for run in runs])
    latency.plot(rates, p50, "o-", color="tab:blue", label="create p50")
    latency.plot(rates, p99, "^--", color="tab:blue", label="create p99")
    for name, colour in STAGE_COLOURS.items():
        stages = [run.stage(name) for run in runs]
        p50, p99 = _percentiles([stage.latency if stage else None for stage in stages])
        latency.plot(rates, p50, "o-", color=colour, label=f"to {name} p50")
        latency.plot(rates, p99, "^--", color=colour, label=f"to {name} p99")
    latency.set(xlabel="offered payments/s", ylabel="ms from the scheduled send", yscale="log")
    latency.set_title("latency")
    latency.grid(True, which="both", alpha=0.3)
    latency.legend(fontsize="small", loc="upper left")

    throughput.plot(rates, rates, ":", color="grey", label="offered")
    throughput.plot(rates, [run.create.created_per_second for run in runs], "o-", label="created/s")
    for name in ("succeeded", "ledger posted"):
        stages = [run.stage(name) for run in runs]
        per_second = [s.per_second if s and s.per_second else float("nan") for s in stages]
        throughput.plot(rates, per_second, "o-", color=STAGE_COLOURS[name], label=f"{name}/s")
    throughput.set(xlabel="offered payments/s", ylabel="per second")
    throughput.set_title("throughput")
    throughput.grid(True, alpha=0.3)
    throughput.legend(fontsize="small")

    figure.suptitle(title, fontsize="medium")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
