"""Writes each service's Dockerfile and .dockerignore from deploy/docker/python.Dockerfile.

    uv run --frozen python deploy/docker/render_dockerfiles.py

Every service with a process in the Procfile gets one: the one recipe with its package and its
web command from the Procfile filled in. The compose tests fail while a file differs from what
this writes.
"""

from __future__ import annotations

from localcluster.config import PROJECT_ROOT
from localcluster.containers import DOCKERIGNORE_TEMPLATE, processes, service_dockerfile


def main() -> None:
    for service in {process.service for process in processes().values()}:
        for name, text in (
            (service.dockerfile, service_dockerfile(service)),
            (f"{service.dockerfile}.dockerignore", DOCKERIGNORE_TEMPLATE.read_text()),
        ):
            path = PROJECT_ROOT / name
            if not path.exists() or path.read_text() != text:
                path.write_text(text)
                print(f"wrote {name}")


if __name__ == "__main__":
    main()
