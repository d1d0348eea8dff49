"""A once-a-second look at the platform while a rate runs and drains: lag, CPU and memory.

Sampling runs in a thread of its own with its own Kafka clients (kafka-python clients are not
thread-safe, and the driver's event loop must not wait on a broker). A failed sample is kept as
a count and the sampling goes on: the figures are information, the run is the point.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from kafka.errors import KafkaError

from bench.lag import LagProbe, LagSeries
from bench.processes import ProcessUsage, UsageTracker, platform_processes

SAMPLE_EVERY = 1.0


@dataclass
class Observed:
    """What the monitor saw over one rate."""

    lag: LagSeries = field(default_factory=LagSeries)
    processes: list[ProcessUsage] = field(default_factory=list)
    seconds: float = 0.0
    failed_samples: int = 0


class Monitor:
    def __init__(self, bootstrap_servers: str, run_dir: Path) -> None:
        self._probe = LagProbe(bootstrap_servers)
        self._usage = UsageTracker(platform_processes(run_dir))
        self._observed = Observed()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-monitor", daemon=True)
        self._began = 0.0
        self._ended: float | None = None

    def __enter__(self) -> Monitor:
        self._began = time.monotonic()
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self._sample()
        self._ended = time.monotonic()
        self._probe.close()

    @property
    def observed(self) -> Observed:
        """The figures so far (final once the block has ended)."""
        ended = self._ended if self._ended is not None else time.monotonic()
        self._observed.processes = self._usage.usage()
        self._observed.seconds = round(ended - self._began, 1)
        return self._observed

    def _run(self) -> None:
        """Samples on a fixed cadence, so a slow sample does not stretch the series."""
        due = time.monotonic()
        while True:
            due += SAMPLE_EVERY
            if self._stop.wait(max(due - time.monotonic(), 0.0)):
                return
            self._sample()

    def _sample(self) -> None:
        try:
            self._observed.lag.samples.append(self._probe.sample(time.time()))
        except KafkaError:  # a broker slow to answer costs one sample, not the run
            self._observed.failed_samples += 1
        self._usage.sample()
