"""The terminal tables of what happened behind the creates: stages, hops, lag and CPU."""

from __future__ import annotations

import os
from collections.abc import Sequence

from bench.rate_run import RateRun

TOP_PROCESSES = 8


def _cells(values: Sequence[object], widths: Sequence[int]) -> str:
    return " ".join(str(v).rjust(w) for v, w in zip(values, widths, strict=True))


def _header(names: Sequence[str], widths: Sequence[int]) -> list[str]:
    header = _cells(names, widths)
    return [header, "-" * len(header)]


def stages_table(runs: Sequence[RateRun]) -> str:
    """Per rate and stage: how many of the created got there, how long after the send, how fast."""
    widths = (9, 15, 7, 7, 7, 9, 8, 8, 8, 8)
    names = ("offered/s", "stage", "created", "reached", "missing", "per s")
    lines = _header((*names, "p50 ms", "p95 ms", "p99 ms", "max ms"), widths)
    for run in runs:
        for index, stage in enumerate(run.pipeline.stages):
            latency = stage.latency
            figures = (
                (latency.p50_ms, latency.p95_ms, latency.p99_ms, latency.max_ms)
                if latency
                else ("-",) * 4
            )
            rate = f"{run.offered_rate:g}" if index == 0 else ""
            per_second = f"{stage.per_second:.1f}" if stage.per_second else "-"
            created = run.pipeline.created if index == 0 else ""
            lines.append(
                _cells(
                    (rate, stage.name, created, stage.reached, stage.missing, per_second, *figures),
                    widths,
                )
            )
        if run.pipeline.failed:
            lines.append(f"{'':9} {run.pipeline.failed} payments failed at the PSP")
        lines.append(f"{'':9} waited {run.pipeline_wait_seconds:.1f}s for the pipeline to drain")
    return "\n".join(lines)


def hops_table(run: RateRun) -> str:
    """Each hop's median and mean, and its median's share of the median end to end time."""
    pipeline = run.pipeline
    widths = (44, 6, 9, 9, 6)
    lines = [
        f"hops at {run.offered_rate:g}/s (create's scheduled send to settlement item committed)",
        *_header(("hop", "n", "p50 ms", "mean ms", "share"), widths),
    ]
    for hop in pipeline.hops:
        share = f"{hop.share_of_end_to_end:.0%}" if hop.share_of_end_to_end is not None else "-"
        lines.append(_cells((hop.name, hop.count, hop.p50_ms, hop.mean_ms, share), widths))
    lines.append(
        _cells(
            (
                "sum of the hops / end to end",
                "",
                f"{pipeline.hop_p50_sum_ms}/{pipeline.end_to_end_p50_ms}",
                f"{round(sum(h.mean_ms for h in pipeline.hops), 1)}/{pipeline.end_to_end_mean_ms}",
                "",
            ),
            widths,
        )
    )
    return "\n".join(lines)


def lag_table(run: RateRun) -> str:
    lag = run.observed.lag
    widths = (30, 9, 9)
    lines = [
        f"consumer lag at {run.offered_rate:g}/s ({len(lag.samples)} samples, 1 s apart)",
        *_header(("group", "max", "final"), widths),
    ]
    for group in lag.groups():
        final = lag.final_lag(group)
        lines.append(_cells((group, lag.max_lag(group), "-" if final is None else final), widths))
    if run.observed.failed_samples:
        lines.append(f"{run.observed.failed_samples} samples failed (Kafka did not answer)")
    return "\n".join(lines)


def cpu_table(run: RateRun) -> str:
    """The busiest processes over the rate and its drain; CPU % is of one core, and CPU ms per
    payment is over the payments the rate created. The last line adds up every process (the
    driver excepted) and says how many payments a second the machine's cores could carry at
    that cost: the bound CPU sets, whatever else does not."""
    seconds = run.observed.seconds
    payments = len(run.create.created)
    widths = (28, 8, 7, 9, 9)
    lines = [
        f"busiest processes at {run.offered_rate:g}/s (over {seconds:.1f}s)",
        *_header(("process", "cpu s", "cpu %", "ms/pay", "peak MB"), widths),
    ]

    def per_payment(cpu_seconds: float) -> str:
        return f"{cpu_seconds * 1000 / payments:.2f}" if payments else "-"

    for usage in run.observed.processes[:TOP_PROCESSES]:
        share = f"{usage.cpu_seconds / seconds:.0%}" if seconds else "-"
        lines.append(
            _cells(
                (
                    usage.name,
                    usage.cpu_seconds,
                    share,
                    per_payment(usage.cpu_seconds),
                    usage.peak_rss_mb,
                ),
                widths,
            )
        )
    total = sum(usage.cpu_seconds for usage in run.observed.processes)
    if payments and total:
        cores = os.cpu_count() or 1
        lines.append(
            f"all {len(run.observed.processes)} processes: {per_payment(total)} CPU ms per"
            f" payment, so {cores} cores carry at most {cores * payments / total:.0f} payments/s"
        )
    return "\n".join(lines)


def pipeline_report(runs: Sequence[RateRun]) -> str:
    parts = [stages_table(runs)]
    for run in runs:
        parts.extend((hops_table(run), lag_table(run), cpu_table(run)))
    return "\n\n".join(parts)
