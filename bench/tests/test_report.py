import json
import os
from collections import Counter
from pathlib import Path

from bench.chart import write_chart
from bench.driver import RateResult
from bench.lag import LagSample, LagSeries
from bench.monitor import Observed
from bench.pipeline import HOPS, SuccessPath, summarise
from bench.pipeline_report import pipeline_report
from bench.processes import ProcessUsage
from bench.rate_run import RateRun
from bench.report import write_json

from .conftest import Journey

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _run(journey: Journey, rate: float, payments: int) -> RateRun:
    made = [journey(f"PAY_{rate:g}_{n}", sent_at=1_000.0 + n / rate) for n in range(payments)]
    created = RateResult(
        offered_rate=rate,
        seconds=payments / rate,
        sent=payments,
        answers=Counter({"201": payments}),
        create_latencies=[0.05] * payments,
        started_at=1_000.0,
        created=[c for c, _ in made],
    )
    observed = Observed(
        lag=LagSeries([LagSample(1_000.0, {"ledger-poster": 4}), LagSample(1_001.0, {})]),
        processes=[ProcessUsage("payment-api", 1.25, 180.0), ProcessUsage("kafka", 0.5, 400.0)],
        seconds=2.0,
    )
    pipeline = summarise(created.created, [e for _, events in made for e in events])
    return RateRun(created, pipeline, observed, pipeline_wait_seconds=1.5)


def test_the_json_holds_creates_stages_hops_lag_series_and_processes_per_rate(
    tmp_path: Path, journey: Journey
) -> None:
    out = tmp_path / "run.json"

    write_json(out, {"cluster": "unit"}, [_run(journey, 10, 20), _run(journey, 20, 40)])

    document = json.loads(out.read_text())
    assert document["cluster"] == "unit"
    first = document["rates"][0]
    assert first["offered_rate"] == 10
    assert first["answers"] == {"201": 20}
    stages = first["pipeline"]["stages"]
    assert [stage["name"] for stage in stages] == ["succeeded", "ledger posted", "settlement item"]
    assert stages[0]["reached"] == 20 and stages[0]["missing"] == 0
    assert stages[2]["latency"]["p50_ms"] == 1500.0
    assert [hop["name"] for hop in first["pipeline"]["hops"]] == [
        hop.name for hop in HOPS if hop.path is not SuccessPath.CHARGE_ANSWER
    ]
    assert first["pipeline"]["end_to_end_p50_ms"] == first["pipeline"]["hop_p50_sum_ms"]
    assert first["lag"]["groups"]["ledger-poster"] == {"max": 4, "final": None}
    assert first["lag"]["series"][0] == {"at": 1000.0, "lag": {"ledger-poster": 4}}
    assert first["processes"][0] == {
        "name": "payment-api",
        "cpu_seconds": 1.25,
        "peak_rss_mb": 180.0,
    }
    assert document["rates"][1]["pipeline"]["created"] == 40


def test_the_chart_is_a_png_file(tmp_path: Path, journey: Journey) -> None:
    chart = tmp_path / "results" / "run.png"

    write_chart(chart, [_run(journey, 10, 20), _run(journey, 20, 40)], "unit run")

    assert chart.read_bytes()[:8] == PNG_SIGNATURE
    assert chart.stat().st_size > 10_000


def test_the_terminal_report_lists_stages_hops_lag_and_the_busiest_processes(
    journey: Journey,
) -> None:
    text = pipeline_report([_run(journey, 10, 20)])

    assert "settlement item" in text
    assert "ledger poster: posting committed" in text
    assert "sum of the hops / end to end" in text
    assert "ledger-poster" in text
    assert "payment-api" in text and "62%" in text  # 1.25 cpu s over 2 s


def test_the_cpu_table_says_what_each_payment_costs_and_the_rate_that_cost_allows(
    journey: Journey,
) -> None:
    text = pipeline_report([_run(journey, 10, 20)])

    # payment-api 1.25 cpu s and kafka 0.5 over 20 payments: 62.50 and 25.00 ms each, 87.50 in
    # all, so each core carries 1000 / 87.5 = 11.4 payments a second
    assert "62.50" in text and "25.00" in text
    cores = os.cpu_count() or 1
    assert f"87.50 CPU ms per payment, so {cores} cores carry at most {cores * 20 / 1.75:.0f}" in (
        text
    )
