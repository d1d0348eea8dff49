"""Who may use the admin API: holders of a gateway-issued token with the admin scope."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from paykit.auth.jwt import Claims
from paykit.web_auth import BearerAuth, load_bearer_auth


@dataclass(frozen=True)
class AdminAccess:
    bearer: BearerAuth
    scope: str

    def authorise(self, authorization: str | None) -> Claims:
        return self.bearer.authorise(authorization, self.scope)

    def authorise_request(self) -> Claims:
        return self.bearer.authorise_request(self.scope)


def load_admin_access(*, issuer: str, audience: str, jwks_path: Path, scope: str) -> AdminAccess:
    bearer = load_bearer_auth(
        issuer=issuer, audience=audience, jwks_path=jwks_path, realm="webhook-admin"
    )
    return AdminAccess(bearer, scope)
