"""Bearer tokens on a service's HTTP API: gateway-issued RS256 JWTs, verified locally.

Every service answers a bad or missing token the same way (401 ``invalid_token`` with the
verifier's reason) and a token without the needed scope with 403 ``insufficient_scope``.

Where the trusted keys come from: the JWKS file a service is configured with
(``AUTH_JWKS_PATH``) and, when ``AUTH_JWKS_URL`` is set, the gateway's published JWKS, which
then wins as soon as it answers, is cached, and is fetched again on an unknown kid (at most every
few seconds) and on a TTL, so a rotated signing key is trusted without a restart. The file is
what a service trusts while the gateway is not up yet (``make up`` starts both at once).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from flask import request

from paykit.auth.jwt import Claims, InvalidJwks, InvalidToken, KeySet, Verifier, bearer_token
from paykit.auth.key_sets import RefreshingKeySet, StaticKeySet, jwks_from_file, jwks_loader
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


JWKS_URL_VARIABLE: Final = "AUTH_JWKS_URL"
JWKS_PATH_VARIABLE: Final = "AUTH_JWKS_PATH"


def load_bearer_auth(
    *,
    issuer: str,
    audience: str,
    jwks_path: Path,
    realm: str,
    jwks_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> BearerAuth:
    """A bearer check trusting the configured JWKS file, and the gateway's JWKS URL if any.

    Without a URL the file is read once and an unreadable one stops the process, as before.
    `jwks_url` defaults to ``AUTH_JWKS_URL`` when `jwks_path` is the process's own
    ``AUTH_JWKS_PATH``: the URL belongs to that configuration, so a test or tool that passes a
    key file of its own keeps trusting exactly that file.
    """
    url = jwks_url or configured_jwks_url(jwks_path, os.environ if environ is None else environ)
    keys = _refreshing_keys(jwks_path, url) if url else StaticKeySet(_file_keys(jwks_path))
    return BearerAuth(Verifier(issuer=issuer, audience=audience, keys=keys), realm)


def configured_jwks_url(jwks_path: Path, environ: Mapping[str, str]) -> str | None:
    url = (environ.get(JWKS_URL_VARIABLE) or "").strip()
    configured_path = (environ.get(JWKS_PATH_VARIABLE) or "").strip()
    if not url or not configured_path or Path(configured_path) != jwks_path:
        return None
    return url


def _refreshing_keys(jwks_path: Path, url: str) -> KeySet:
    try:
        loader = jwks_loader(url)
    except ValueError as error:
        raise ConfigError(ConfigProblem(JWKS_URL_VARIABLE, str(error))) from None
    try:
        initial = jwks_from_file(jwks_path)
    except (OSError, ValueError, InvalidJwks):
        initial = {}  # the gateway's JWKS alone, once it answers
    return RefreshingKeySet(loader, initial=initial, name=url)


def _file_keys(jwks_path: Path) -> dict[str, RSAPublicKey]:
    try:
        return jwks_from_file(jwks_path)
    except (OSError, ValueError, InvalidJwks) as error:
        problem = ConfigProblem(JWKS_PATH_VARIABLE, f"cannot load the JWKS: {error}")
        raise ConfigError(problem) from None
