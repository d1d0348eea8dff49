"""Who may use the admin API: holders of a gateway-issued token with the admin scope.

Tokens are verified here, against the gateway's published keys, without calling the gateway.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from flask import request

from paykit.auth.jwt import (
    Claims,
    InvalidJwks,
    InvalidToken,
    Verifier,
    bearer_token,
    keys_from_jwks,
)
from paykit.problems import Problem
from paykit.settings import ConfigError, ConfigProblem

_CHALLENGE: Final = 'Bearer realm="webhook-admin"'


@dataclass(frozen=True)
class AdminAccess:
    verifier: Verifier
    scope: str

    def authorise(self, authorization: str | None) -> Claims:
        """The caller's claims, or a 401/403 problem saying why not."""
        try:
            claims = self.verifier.verify(bearer_token(authorization))
        except InvalidToken as error:
            raise Problem(
                401,
                "invalid_token",
                detail="A valid bearer token is required.",
                extra={"reason": error.code},
                headers={"WWW-Authenticate": _CHALLENGE},
            ) from None
        if not claims.has_scope(self.scope):
            raise Problem(
                403,
                "insufficient_scope",
                detail=f"The token lacks the {self.scope!r} scope.",
                headers={"WWW-Authenticate": f'{_CHALLENGE}, scope="{self.scope}"'},
            )
        return claims

    def authorise_request(self) -> Claims:
        return self.authorise(request.headers.get("Authorization"))


def load_admin_access(*, issuer: str, audience: str, jwks_path: Path, scope: str) -> AdminAccess:
    """Read the trusted keys once at start-up; an unreadable key set stops the process."""
    try:
        keys = keys_from_jwks(json.loads(jwks_path.read_text()))
    except (OSError, ValueError, InvalidJwks) as error:
        problem = ConfigProblem("AUTH_JWKS_PATH", f"cannot load the JWKS: {error}")
        raise ConfigError(problem) from None
    return AdminAccess(Verifier(issuer=issuer, audience=audience, keys=keys), scope)
