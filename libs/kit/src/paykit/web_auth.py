"""Bearer tokens on a service's HTTP API: gateway-issued RS256 JWTs, verified locally.

Every service answers a bad or missing token the same way (401 ``invalid_token`` with the
verifier's reason) and a token without the needed scope with 403 ``insufficient_scope``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

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


@dataclass(frozen=True)
class BearerAuth:
    verifier: Verifier
    realm: str

    def authorise(self, authorization: str | None, scope: str) -> Claims:
        """The caller's claims, or a 401/403 problem saying why not."""
        challenge = f'Bearer realm="{self.realm}"'
        try:
            claims = self.verifier.verify(bearer_token(authorization))
        except InvalidToken as error:
            raise Problem(
                401,
                "invalid_token",
                detail="A valid bearer token is required.",
                extra={"reason": error.code},
                headers={"WWW-Authenticate": challenge},
            ) from None
        if not claims.has_scope(scope):
            raise Problem(
                403,
                "insufficient_scope",
                detail=f"The token lacks the {scope!r} scope.",
                headers={"WWW-Authenticate": f'{challenge}, scope="{scope}"'},
            )
        return claims

    def authorise_request(self, scope: str) -> Claims:
        return self.authorise(request.headers.get("Authorization"), scope)


def load_bearer_auth(*, issuer: str, audience: str, jwks_path: Path, realm: str) -> BearerAuth:
    """Read the trusted keys once at start-up; an unreadable key set stops the process."""
    try:
        keys = keys_from_jwks(json.loads(jwks_path.read_text()))
    except (OSError, ValueError, InvalidJwks) as error:
        problem = ConfigProblem("AUTH_JWKS_PATH", f"cannot load the JWKS: {error}")
        raise ConfigError(problem) from None
    return BearerAuth(Verifier(issuer=issuer, audience=audience, keys=keys), realm)
