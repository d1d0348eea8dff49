"""Everything one offered rate gave: the creates, the pipeline behind them, what the monitor saw."""

from __future__ import annotations

from dataclasses import dataclass

from bench.driver import RateResult
from bench.monitor import Observed
from bench.pipeline import PipelineSummary, StageSummary


@dataclass(frozen=True)
class RateRun:
    create: RateResult
    pipeline: PipelineSummary
    observed: Observed
    pipeline_wait_seconds: float

    @property
    def offered_rate(self) -> float:
        return self.create.offered_rate

    def stage(self, name: str) -> StageSummary | None:
        return next((stage for stage in self.pipeline.stages if stage.name == name), None)
