"""payctl's configuration, read once from the environment into one frozen object.

Each address is ``PAYCTL_<NAME>_URL``, else the variable a local cluster's ``cluster.env`` sets
(``GATEWAY_URL``, ``LEDGER_URL``, ``SETTLEMENT_URL``), else the development cluster's port, so
the same commands work on the dev cluster with nothing set and on any other after
``set -a; . .local/<cluster>/cluster.env; set +a``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from paykit.settings import Env, Secret, load_settings

DEV_GATEWAY_URL = "http://127.0.0.1:18000"
DEV_LEDGER_URL = "http://127.0.0.1:18003"
DEV_SETTLEMENT_URL = "http://127.0.0.1:18004"


@dataclass(frozen=True)
class PayctlSettings:
    gateway_url: str
    gateway_url_given: bool
    ledger_url: str
    settlement_url: str
    admin_token: Secret | None
    ledger_database_url: Secret | None
    config_dir: Path
    timeout: float

    @property
    def credentials_path(self) -> Path:
        return self.config_dir / "credentials.json"


def _url(environ: Mapping[str, str], name: str, default: str) -> str:
    given = environ.get(f"PAYCTL_{name}_URL") or environ.get(f"{name}_URL") or default
    return given.rstrip("/")


def _config_dir(environ: Mapping[str, str]) -> Path:
    base = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME", "~")) / ".config")
    return Path(base).expanduser() / "payctl"


def load(environ: Mapping[str, str] | None = None) -> PayctlSettings:
    environ = os.environ if environ is None else environ

    def build(env: Env) -> PayctlSettings:
        return PayctlSettings(
            gateway_url=_url(environ, "GATEWAY", DEV_GATEWAY_URL),
            gateway_url_given=bool(environ.get("PAYCTL_GATEWAY_URL") or environ.get("GATEWAY_URL")),
            ledger_url=_url(environ, "LEDGER", DEV_LEDGER_URL),
            settlement_url=_url(environ, "SETTLEMENT", DEV_SETTLEMENT_URL),
            admin_token=env.secret("PAYCTL_ADMIN_TOKEN", None),
            ledger_database_url=env.secret("PAYCTL_LEDGER_DATABASE_URL", None)
            or env.secret("LEDGER_DATABASE_URL", None),
            config_dir=_config_dir(environ),
            timeout=env.int("PAYCTL_TIMEOUT_SECONDS", 10, min=1),
        )

    return load_settings(build, environ)
