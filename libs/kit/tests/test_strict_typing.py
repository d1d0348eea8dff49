"""The libraries and the services stay fully typed: mypy --strict passes on all of them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_mypy_strict_passes_on_libraries_and_services() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "libs/events/src",
            "libs/kit/src",
            "deploy/local/src",
            *sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("services/*/src")),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
