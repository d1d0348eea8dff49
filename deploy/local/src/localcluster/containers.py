"""The Procfile's processes as containers: which image runs each, with which command and probe.

The Procfile is the one list of the platform's long-running processes. docker compose, the
Kubernetes manifests and each service's Dockerfile run the same commands, changed only where a
container differs from a process on this machine: the web processes listen on 0.0.0.0:8080
instead of 127.0.0.1 and a port from cluster.env, and the workers' metrics ports (bound to
127.0.0.1 inside the process, so of no use across containers) are left unset. The tests compare
what those files say with what this module derives, so none of them drifts from the Procfile.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from localcluster.config import PROJECT_ROOT
from localcluster.services import PROCFILE
from localcluster.supervisor import parse_procfile

CONTAINER_HTTP_PORT = 8080
HEALTH_DIR = "/tmp/paykit-health"  # noqa: S108  (inside the container, owned by its user)
IMAGE_PREFIX = "payments/"
BOOTSTRAP_IMAGE = f"{IMAGE_PREFIX}bootstrap"
# `env NAME=$((METRICS_HTTP_PORT + n))` before a worker's command: a port on this machine only.
_LEADING_ENV = re.compile(r"^env\s+((?:[A-Z_][A-Z0-9_]*=(?:\$\(\([^)]*\)\)|\S+)\s+)+)")
_LOCAL_BIND = re.compile(r"^127\.0\.0\.1:\$[A-Z_][A-Z0-9_]*$")


@dataclass(frozen=True)
class ServiceImage:
    """A service folder and the image built from its Dockerfile."""

    folder: str  # services/<folder>
    package: str  # the workspace package its Dockerfile installs
    module: str  # the import name its processes run from

    @property
    def image(self) -> str:
        return IMAGE_PREFIX + self.folder.replace("_", "-")

    @property
    def dockerfile(self) -> str:
        return f"services/{self.folder}/Dockerfile"


@dataclass(frozen=True)
class Process:
    """One Procfile entry as a container runs it."""

    name: str
    command: tuple[str, ...]
    service: ServiceImage

    @property
    def is_web(self) -> bool:
        return self.command[0] == "gunicorn"

    @property
    def health_file(self) -> str:
        """A worker's health file: its client id names it, and every client id is its name."""
        return f"{HEALTH_DIR}/{self.name}.json"


@cache
def service_images(root: Path = PROJECT_ROOT) -> dict[str, ServiceImage]:
    """Every service folder with a Dockerfile, by the import name of its package."""
    images: dict[str, ServiceImage] = {}
    for pyproject in sorted((root / "services").glob("*/pyproject.toml")):
        folder = pyproject.parent
        package = tomllib.loads(pyproject.read_text())["project"]["name"]
        for source in sorted((folder / "src").iterdir()):
            if (source / "__init__.py").is_file():
                images[source.name] = ServiceImage(folder.name, package, source.name)
    return images


def container_command(command: str) -> tuple[str, ...]:
    """A Procfile command as a container's argv: no shell, no host-specific port."""
    argv = shlex.split(_LEADING_ENV.sub("", command))
    for index, arg in enumerate(argv[:-1]):
        if arg == "-b" and _LOCAL_BIND.match(argv[index + 1]):
            argv[index + 1] = f"0.0.0.0:{CONTAINER_HTTP_PORT}"
    expanded = [arg for arg in argv if "$" in arg]
    if expanded:
        raise ValueError(f"{command!r}: a container has no shell to expand {expanded}")
    return tuple(argv)


def _module_of(argv: tuple[str, ...]) -> str:
    if argv[0] == "gunicorn":
        return argv[-1].split(":", 1)[0]
    if argv[:2] == ("python", "-m"):
        return argv[2]
    raise ValueError(f"{shlex.join(argv)}: neither gunicorn nor python -m")


def processes(procfile: Path = PROCFILE) -> dict[str, Process]:
    """Every Procfile entry, by name, with the image of the service it runs from."""
    images = service_images()
    found: dict[str, Process] = {}
    for name, command in parse_procfile(procfile):
        argv = container_command(command)
        package = _module_of(argv).split(".", 1)[0]
        if package not in images:
            raise ValueError(f"{name}: {package} is not the package of any service folder")
        found[name] = Process(name, argv, images[package])
    return found


def web_process(service: ServiceImage, procfile: Path = PROCFILE) -> Process:
    """The service's HTTP process: what its image runs when given no command."""
    webs = [p for p in processes(procfile).values() if p.service == service and p.is_web]
    if len(webs) != 1:
        raise ValueError(f"{service.folder}: {len(webs)} web processes in the Procfile, not 1")
    return webs[0]


DOCKERFILE_TEMPLATE = PROJECT_ROOT / "deploy" / "docker" / "python.Dockerfile"
DOCKERIGNORE_TEMPLATE = DOCKERFILE_TEMPLATE.with_name("python.Dockerfile.dockerignore")
RENDER_SCRIPT = "deploy/docker/render_dockerfiles.py"


def service_dockerfile(service: ServiceImage, template: str | None = None) -> str:
    """``services/<folder>/Dockerfile``: the one recipe with the service's package and command.

    Its header says what it is, ``ARG SERVICE`` gets the package as its default, and the last
    ``CMD`` becomes the service's web process from the Procfile.
    """
    lines = (template or DOCKERFILE_TEMPLATE.read_text()).splitlines()
    syntax, rest = lines[0], lines[1:]
    while rest and rest[0].startswith("#"):
        rest = rest[1:]
    header = [
        syntax,
        f"# The {service.folder} service's image. Written by {RENDER_SCRIPT} from",
        "# deploy/docker/python.Dockerfile: edit that file, then run the script. From the root:",
        f"#   docker build -f {service.dockerfile} -t {service.image} .",
        "# The web process is the default command; the same image runs the service's workers",
        "# and commands (docker-compose.yml, deploy/k8s).",
    ]
    cmd_at = max(i for i, line in enumerate(rest) if line.startswith("CMD "))
    web = web_process(service).command
    body = list(rest)
    body[body.index("ARG SERVICE")] = f"ARG SERVICE={service.package}"  # the global one
    body[cmd_at] = "CMD " + json.dumps(list(web))
    return "\n".join(header + body) + "\n"
