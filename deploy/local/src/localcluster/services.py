"""The platform's own services, run together under honcho from the root Procfile."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from localcluster.config import PROJECT_ROOT, ClusterConfig
from localcluster.errors import ClusterError
from localcluster.processes import ManagedProcess

PROCFILE = PROJECT_ROOT / "Procfile"


def procfile_entries(procfile: Path = PROCFILE) -> list[str]:
    if not procfile.exists():
        return []
    return [
        line.split(":", 1)[0].strip()
        for line in procfile.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#") and ":" in line
    ]


class ServiceGroup:
    def __init__(self, config: ClusterConfig) -> None:
        self.config = config
        self.log_file = config.log_dir / "services.log"
        self.process = ManagedProcess("services", config.run_dir)

    def start(self) -> list[str]:
        """Start every Procfile entry under honcho; return their names (empty when none exist)."""
        entries = procfile_entries()
        if not entries or self.process.running():
            return entries
        honcho = shutil.which("honcho", path=str(Path(sys.executable).parent))
        if honcho is None:
            raise ClusterError("honcho is not installed in the project environment: run uv sync")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process.start(
            [
                honcho,
                "start",
                "-f",
                str(PROCFILE),
                "-d",
                str(PROJECT_ROOT),
                "-e",
                str(self.config.env_file),
            ],
            self.log_file,
            env=env,
            cwd=PROJECT_ROOT,
        )
        return entries

    def stop(self) -> bool:
        return self.process.stop(timeout=30)
