"""Who payctl speaks as: a merchant logged in with its API key, or an operator's admin token.

An operator's token is ``PAYCTL_ADMIN_TOKEN``; without it, on a local cluster, payctl asks
``localcluster token --admin`` for one signed with the cluster's development key (a deployed
platform has no such key on an operator's machine, so there the variable is required).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field

from payctl import credentials
from payctl.errors import PayctlError
from payctl.http_api import Api
from payctl.settings import PayctlSettings
from paykit.auth.audiences import OPERATOR_SCOPES

GATEWAY_ADMIN_SCOPE = "gateway:admin"
LOGIN_HINT = "run payctl login"


@dataclass
class Session:
    settings: PayctlSettings
    json: bool = False
    _admin_token: str | None = field(default=None, repr=False)

    def merchant_gateway(self) -> Api:
        login = credentials.load(self.settings.credentials_path)
        if self.settings.gateway_url_given and login.gateway_url != self.settings.gateway_url:
            raise PayctlError(
                f"logged in to {login.gateway_url}, not {self.settings.gateway_url}: {LOGIN_HINT}"
            )
        if login.expired():
            raise PayctlError(f"the login token expired at {login.expires_at}: {LOGIN_HINT}")
        return Api(
            "gateway",
            login.gateway_url,
            login.access_token,
            self.settings.timeout,
            unauthorised_hint=LOGIN_HINT,
        )

    def anonymous_gateway(self) -> Api:
        return Api("gateway", self.settings.gateway_url, "", self.settings.timeout)

    def admin_gateway(self) -> Api:
        return self._admin("gateway", self.settings.gateway_url)

    def ledger_admin(self) -> Api:
        return self._admin("ledger", self.settings.ledger_url)

    def settlement_admin(self) -> Api:
        return self._admin("settlement service", self.settings.settlement_url)

    def _admin(self, name: str, base_url: str) -> Api:
        return Api(
            name,
            base_url,
            self.admin_token(),
            self.settings.timeout,
            unauthorised_hint="check PAYCTL_ADMIN_TOKEN",
        )

    def admin_token(self) -> str:
        if self._admin_token is None:
            given = self.settings.admin_token
            self._admin_token = given.reveal() if given else local_cluster_admin_token()
        return self._admin_token


def local_cluster_admin_token() -> str:
    """A development operator's token with every operator scope, gateway administration too."""
    command = shutil.which("localcluster")
    if command is None:
        raise PayctlError("no admin token: set PAYCTL_ADMIN_TOKEN")
    scopes = [
        arg for scope in (*OPERATOR_SCOPES, GATEWAY_ADMIN_SCOPE) for arg in ("--scope", scope)
    ]
    made = subprocess.run(
        [command, "token", "--admin", *scopes], capture_output=True, text=True, check=False
    )
    if made.returncode != 0:
        reason = made.stderr.strip().splitlines()[-1:] or [f"exit {made.returncode}"]
        raise PayctlError(f"no admin token: set PAYCTL_ADMIN_TOKEN ({reason[0]})")
    return made.stdout.strip()
