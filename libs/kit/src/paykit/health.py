"""Liveness and readiness of a worker process, in one file a probe can read.

A worker has no HTTP server a probe could ask, so it keeps a small JSON file instead: the main
loop refreshes its modification time (liveness: a loop that hangs stops refreshing it) and
rewrites its content when readiness changes (a consumer parked by its DLQ limit, or waiting for
its database, is alive but not ready, and says why).

    python -m paykit.health FILE [--max-age SECONDS] [--live]

exits 0 when the file is fresh (and, without ``--live``, ready), else 1 with one line saying why.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from paykit.settings import load_settings


class HealthFile:
    def __init__(
        self,
        path: Path | None,
        *,
        name: str,
        min_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.name = name
        self.min_interval = min_interval
        self.clock = clock
        self._last_beat = float("-inf")
        self._state: tuple[bool, str] | None = None

    def beat(self) -> None:
        """Prove the loop is alive; cheap enough to call on every iteration."""
        if self.path is None or self.clock() - self._last_beat < self.min_interval:
            return
        self._last_beat = self.clock()
        if self._state is None:
            self.report(ready=True)
            return
        try:
            os.utime(self.path)
        except FileNotFoundError:
            self._write(*self._state)

    def report(self, *, ready: bool, reason: str = "") -> None:
        if self._state == (ready, reason):
            return
        self._state = (ready, reason)
        if self.path is not None:
            self._write(ready, reason)

    def _write(self, ready: bool, reason: str) -> None:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        content = {
            "name": self.name,
            "pid": os.getpid(),
            "ready": ready,
            "reason": reason,
            "since": datetime.now(UTC).isoformat(),
        }
        scratch = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        scratch.write_text(json.dumps(content) + "\n")
        scratch.replace(self.path)  # atomic: a probe never reads half a file
        self._last_beat = self.clock()


def health_file_for(name: str, environ: Mapping[str, str] | None = None) -> Path | None:
    """Where worker ``name`` keeps its health file: ``$PAYKIT_HEALTH_DIR/<name>.json``, if set."""
    directory = load_settings(lambda env: env.str("PAYKIT_HEALTH_DIR", None), environ)
    return Path(directory) / f"{name}.json" if directory else None


def read(path: Path) -> dict[str, Any]:
    content: dict[str, Any] = json.loads(path.read_text())
    content["age_seconds"] = time.time() - path.stat().st_mtime
    return content


def check(path: Path, *, max_age: float, live_only: bool) -> tuple[bool, str]:
    try:
        content = read(path)
    except FileNotFoundError:
        return False, f"{path}: no health file (the worker has not started)"
    except (OSError, ValueError) as error:
        return False, f"{path}: unreadable health file: {error}"
    if content["age_seconds"] > max_age:
        return (
            False,
            f"{content['name']}: stale, last sign of life {content['age_seconds']:.0f}s ago",
        )
    if not live_only and not content["ready"]:
        return False, f"{content['name']}: not ready: {content['reason']}"
    return True, f"{content['name']}: {'alive' if live_only else 'ready'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="paykit.health", description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--max-age", type=float, default=30.0, metavar="SECONDS")
    parser.add_argument("--live", action="store_true", help="check liveness only")
    args = parser.parse_args(argv)
    ok, message = check(args.file, max_age=args.max_age, live_only=args.live)
    print(message, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
