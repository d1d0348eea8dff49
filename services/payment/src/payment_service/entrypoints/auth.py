"""Merchant authentication: the gateway's RS256 JWT, verified here with the published keys."""

from __future__ import annotations

import json
from pathlib import Path

from flask import request

from paykit.auth.jwks import keys_from_jwks
from paykit.auth.jwt import Claims, InvalidToken, Verifier, bearer_token
from paykit.problems import Problem

READ_SCOPE = "payments:read"
WRITE_SCOPE = "payments:write"


def load_verifier(jwks_path: Path, *, issuer: str, audience: str) -> Verifier:
    keys = keys_from_jwks(json.loads(jwks_path.read_text()))
    return Verifier(issuer=issuer, audience=audience, keys=keys)


def authenticate(verifier: Verifier, scope: str) -> Claims:
    """The calling merchant's claims, or a 401/403 problem."""
    try:
        claims = verifier.verify(bearer_token(request.headers.get("Authorization")))
    except InvalidToken as error:
        raise Problem(
            401,
            "unauthenticated",
            detail=f"Invalid bearer token ({error.code}).",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from error
    if not claims.has_scope(scope):
        raise Problem(403, "insufficient_scope", detail=f"This call needs the {scope} scope.")
    return claims
