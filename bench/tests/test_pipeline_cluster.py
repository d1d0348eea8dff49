"""A short rate through a running cluster, followed to the settlement item by its events."""

from __future__ import annotations

import os

import pytest

from bench.__main__ import measure_rate
from bench.merchants import create_merchants
from bench.pipeline import HOPS, SuccessPath
from localcluster.testing import ClusterEnv

RATE, SECONDS = 5.0, 2.0


@pytest.mark.integration
@pytest.mark.timeout(180)
def test_payments_of_a_short_rate_reach_succeeded_and_the_hops_add_up_to_the_end_to_end() -> None:
    gateway_url = os.environ.get("GATEWAY_URL")
    if ClusterEnv.from_environ() is None or gateway_url is None:
        pytest.skip("needs a running cluster's environment (GATEWAY_URL, KAFKA_BOOTSTRAP_SERVERS)")
    merchants = create_merchants(gateway_url, 2, run_label="bench-pipeline-test")

    run = measure_rate(gateway_url, merchants, RATE, SECONDS, timeout=30, pipeline_timeout=90)

    pipeline = run.pipeline
    assert pipeline.created == run.create.sent == 10
    stages = {stage.name: stage for stage in pipeline.stages}
    assert (stages["succeeded"].reached, stages["succeeded"].missing) == (10, 0)
    assert stages["settlement item"].reached == 10
    # one path for all: the PSP's charge answer (a PSP deciding at once) or its later report
    names = [hop.name for hop in pipeline.hops]
    answer_hops = [hop.name for hop in HOPS if hop.path is SuccessPath.CHARGE_ANSWER]
    taken = SuccessPath.CHARGE_ANSWER if set(answer_hops) & set(names) else SuccessPath.REPORT
    assert names == [hop.name for hop in HOPS if hop.path in (None, taken)]
    assert all(hop.count == 10 for hop in pipeline.hops)
    # payment by payment the hops add up exactly, so their means do (each rounded to 0.1 ms)
    assert pipeline.end_to_end_mean_ms is not None
    assert sum(hop.mean_ms for hop in pipeline.hops) == pytest.approx(
        pipeline.end_to_end_mean_ms, abs=1.0
    )
    # medians of parts need not add up to the median of the whole, but they come close
    assert pipeline.end_to_end_p50_ms is not None
    assert pipeline.hop_p50_sum_ms == pytest.approx(pipeline.end_to_end_p50_ms, rel=0.3)
    assert run.observed.lag.samples
    assert "payment-api" in {usage.name for usage in run.observed.processes}
