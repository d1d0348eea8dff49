"""Closed-loop saturation of one HTTP endpoint with vegeta, and what its results say.

Why vegeta (``github.com/tsenart/vegeta/v12``) and not a Python client: the machine this runs on
has two cores shared with the server under test, so the load generator's own CPU is taken from
the server. A Go generator spends far less CPU per request than a Python one, so the figures say
more about the server and less about the generator. Its JSON targets format carries headers per
request, which gives every create its own ``Idempotency-Key``. ``-rate=0 -max-workers=16`` is a
closed loop: 16 requests in flight, each worker sending its next request when its answer comes.

The binary is built once from the Go module proxy with ``go install`` into ``<repo>/.cache/bin``
(built into a scratch directory, then moved into place, so two first runs at once both end with
one whole binary).
"""

from __future__ import annotations

import base64
import contextlib
import csv
import json
import os
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from bench.stats import LatencySummary
from localcluster.config import PROJECT_ROOT

VEGETA_MODULE = "github.com/tsenart/vegeta/v12"
VEGETA_VERSION = "v12.13.0"
CACHE_BIN = PROJECT_ROOT / ".cache" / "bin"
BUILD_TIMEOUT_SECONDS = 600


class VegetaUnavailable(RuntimeError):
    """vegeta is not built and cannot be (no Go, or the build failed)."""


def vegeta_binary(cache_bin: Path = CACHE_BIN) -> Path:
    """The vegeta binary at the pinned version, built with ``go install`` when missing."""
    binary = cache_bin / f"vegeta-{VEGETA_VERSION}"
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    go = shutil.which("go")
    if go is None:
        raise VegetaUnavailable("vegeta needs Go to build it (go install); go is not on PATH")
    with tempfile.TemporaryDirectory(prefix="vegeta-build-") as scratch:
        built = subprocess.run(
            [go, "install", f"{VEGETA_MODULE}@{VEGETA_VERSION}"],
            env={**os.environ, "GOBIN": scratch, "GOFLAGS": "-mod=mod"},
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_SECONDS,
            check=False,
        )
        if built.returncode != 0:
            raise VegetaUnavailable(f"go install {VEGETA_MODULE} failed: {built.stderr.strip()}")
        cache_bin.mkdir(parents=True, exist_ok=True)
        os.replace(Path(scratch) / "vegeta", binary)
    return binary


@dataclass(frozen=True)
class Target:
    """What each request of an attack sends; every request gets a fresh Idempotency-Key."""

    url: str
    body: Mapping[str, object]
    headers: Mapping[str, str] = field(default_factory=dict)


def target_lines(targets: list[Target]) -> Iterator[bytes]:
    """vegeta's JSON targets, one a line, going round ``targets`` for as long as it reads."""
    encoded = [
        (
            target.url,
            base64.b64encode(json.dumps(target.body).encode()).decode(),
            {"Content-Type": ["application/json"], **{k: [v] for k, v in target.headers.items()}},
        )
        for target in targets
    ]
    index = 0
    while True:
        url, body, headers = encoded[index % len(encoded)]
        index += 1
        request = {
            "method": "POST",
            "url": url,
            "body": body,
            "header": {**headers, "Idempotency-Key": [uuid.uuid4().hex]},
        }
        yield json.dumps(request).encode() + b"\n"


@dataclass
class AttackResult:
    """One closed-loop attack: answers by status, and the latencies of the 2xx."""

    answers: Counter[str] = field(default_factory=Counter)
    success_latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def successes(self) -> int:
        return len(self.success_latencies)

    @property
    def success_per_second(self) -> float:
        """2xx answers over the time from the first send to the last answer."""
        return self.successes / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def failures(self) -> dict[str, int]:
        """Every answer but a 2xx, by status code or, for no answer, by what went wrong."""
        return {k: n for k, n in sorted(self.answers.items()) if not k.startswith("2")}

    def latency(self) -> LatencySummary | None:
        return LatencySummary.of_seconds(self.success_latencies)


def _no_answer(error: str) -> str:
    """A short name for a request that got no HTTP answer: the end of Go's error text
    (``Post "http://...": dial tcp ...: connect: connection refused`` is ``connection refused``)."""
    return error.rsplit(": ", 1)[-1].strip() or "no answer"


def parse_results(rows: Iterable[list[str]]) -> AttackResult:
    """An attack's results from ``vegeta encode --to csv`` rows (timestamp ns, code, latency ns,
    bytes out, bytes in, error, body, attack name, sequence, method, URL, headers)."""
    result = AttackResult()
    first_sent: int | None = None
    last_answered = 0
    for row in rows:
        if len(row) < 10 or not row[9]:
            continue  # no request went out: "no targets to attack" when targets ran out
        sent_ns, code, latency_ns, error = int(row[0]), int(row[1]), int(row[2]), row[5]
        first_sent = sent_ns if first_sent is None else min(first_sent, sent_ns)
        last_answered = max(last_answered, sent_ns + latency_ns)
        if code == 0:
            result.answers[_no_answer(error)] += 1
            continue
        result.answers[str(code)] += 1
        if 200 <= code < 300:
            result.success_latencies.append(latency_ns / 1e9)
    if first_sent is not None:
        result.elapsed = (last_answered - first_sent) / 1e9
    return result


def _feed(lines: Iterator[bytes], sink: IO[bytes]) -> None:
    """Write targets until vegeta stops reading (it closes its end when the attack is over)."""
    try:
        for line in lines:
            sink.write(line)
    except (OSError, ValueError):  # a broken pipe, or the pipe closed under the write
        return
    finally:
        with contextlib.suppress(OSError):
            sink.close()


def attack(
    binary: Path,
    targets: list[Target],
    *,
    seconds: float,
    connections: int = 16,
    timeout_seconds: float = 10.0,
) -> AttackResult:
    """Saturate ``targets`` closed loop with ``connections`` requests in flight for ``seconds``."""
    with tempfile.TemporaryDirectory(prefix="vegeta-") as scratch:
        results = Path(scratch) / "results.bin"
        command = [
            str(binary),
            "attack",
            "-format=json",
            "-lazy",
            "-rate=0",
            f"-workers={connections}",
            f"-max-workers={connections}",
            f"-duration={seconds}s",
            f"-timeout={timeout_seconds}s",
            "-max-body=0",
            f"-output={results}",
        ]
        log = Path(scratch) / "attack.log"
        with (
            log.open("wb") as stderr,
            subprocess.Popen(command, stdin=subprocess.PIPE, stderr=stderr) as running,
        ):
            assert running.stdin is not None
            feeder = threading.Thread(
                target=_feed, args=(target_lines(targets), running.stdin), daemon=True
            )
            feeder.start()
            try:
                running.wait(timeout=seconds + timeout_seconds + 30)
            except BaseException:
                running.kill()
                raise
            finally:
                feeder.join(timeout=5)
        if running.returncode != 0:
            failure = log.read_text(errors="replace").strip()
            raise RuntimeError(f"vegeta attack failed ({running.returncode}): {failure}")
        encoded = subprocess.run(
            [str(binary), "encode", "--to=csv", str(results)],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
    return parse_results(csv.reader(encoded.stdout.splitlines()))
