"""The platform's own services, run from the root Procfile by ``localcluster.supervisor``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from localcluster.config import PROJECT_ROOT, ClusterConfig
from localcluster.processes import ManagedProcess
from localcluster.supervisor import parse_procfile

PROCFILE = PROJECT_ROOT / "Procfile"


def procfile_entries(procfile: Path = PROCFILE) -> list[str]:
    return [name for name, _ in parse_procfile(procfile)] if procfile.exists() else []


class ServiceGroup:
    def __init__(self, config: ClusterConfig) -> None:
        self.config = config
        self.log_file = config.log_dir / "services.log"
        self.process = ManagedProcess("services", config.run_dir)

    def start(self) -> list[str]:
        """Start the supervisor of every Procfile entry; return the entries' names."""
        entries = procfile_entries()
        if not entries or self.process.running():
            return entries
        self.process.start(
            [
                sys.executable,
                "-m",
                "localcluster.supervisor",
                str(PROCFILE),
                str(self.config.env_file),
                str(self.config.state_dir),
            ],
            self.log_file,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            cwd=PROJECT_ROOT,
        )
        return entries

    def stop(self) -> bool:
        return self.process.stop(timeout=40)
