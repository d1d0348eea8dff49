"""Client credentials for an access token: the OAuth 2 client_credentials grant's core."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from gateway_service.adapters.merchants_repository import MerchantsRepository
from gateway_service.domain.credentials import MAX_SECRET_LENGTH, matching_key
from gateway_service.domain.errors import InvalidClient
from paykit.auth.jwt import SigningKey


@dataclass(frozen=True)
class TokenPolicy:
    issuer: str
    audience: str
    ttl: timedelta
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scope: str
    merchant_id: str
    key_id: str


def issue_token(
    merchants: MerchantsRepository,
    signer: SigningKey,
    policy: TokenPolicy,
    client_id: str,
    client_secret: str,
) -> IssuedToken:
    """A merchant's token, or `InvalidClient` for any wrong part (one answer, one cost)."""
    candidates = merchants.active_keys_of_client(client_id[:MAX_SECRET_LENGTH])
    key = matching_key(client_secret, candidates)
    if key is None:
        raise InvalidClient("client authentication failed")
    merchants.mark_used(key.key_id)
    token = signer.issue(
        issuer=policy.issuer,
        audience=policy.audience,
        subject=key.merchant_id,
        ttl=policy.ttl,
        scopes=policy.scopes,
    )
    return IssuedToken(
        access_token=token,
        expires_in=int(policy.ttl.total_seconds()),
        scope=" ".join(sorted(policy.scopes)),
        merchant_id=key.merchant_id,
        key_id=key.key_id,
    )
