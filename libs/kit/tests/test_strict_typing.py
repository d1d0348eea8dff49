"""The libraries every service imports stay fully typed: mypy --strict passes on them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_mypy_strict_passes_on_the_libraries() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "libs/events/src", "libs/kit/src",
         "deploy/local/src"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
