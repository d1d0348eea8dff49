"""RS256 access tokens: issued by the gateway, verified by every service on its own.

The algorithm is pinned to RS256 and the key is chosen by kid from a configured key set before any
signature check, so a token can never pick its own algorithm or key (no alg=none, no HS256 signed
with the public key as an HMAC secret). Every failure is one exception type with a stable code
that callers can map to a 401 without parsing messages.
"""

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from paykit.auth.jwks import ALGORITHM, MIN_RSA_KEY_BITS, InvalidJwks, jwks_document, keys_from_jwks
from paykit.auth.key_sets import KeySet, StaticKeySet
from paykit.auth.verified_tokens import VerifiedTokens

__all__ = [
    "ALGORITHM",
    "Claims",
    "InvalidJwks",
    "InvalidToken",
    "KeySet",
    "SigningKey",
    "TokenErrorCode",
    "Verifier",
    "bearer_token",
    "generate_signing_key",
    "jwks_document",
    "keys_from_jwks",
    "public_keys",
]

REQUIRED_CLAIMS: Final = ("iss", "aud", "exp", "sub")
DEFAULT_LEEWAY: Final = timedelta(seconds=10)
MAX_LEEWAY: Final = timedelta(minutes=5)
# Far above any token we issue; stops a client from making us parse megabytes of base64.
MAX_TOKEN_LENGTH: Final = 8192

TokenErrorCode = Literal[
    "missing_token",
    "malformed_token",
    "unsupported_algorithm",
    "unknown_key",
    "invalid_signature",
    "token_expired",
    "token_not_yet_valid",
    "invalid_issuer",
    "invalid_audience",
    "missing_claim",
]


class InvalidToken(Exception):
    """A token that must not be trusted; `code` is stable, the message is for logs only."""

    def __init__(self, code: TokenErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: TokenErrorCode = code


@dataclass(frozen=True, slots=True)
class Claims:
    """What a verified token says, typed, so handlers never dig in a raw payload dict."""

    subject: str
    issuer: str
    audience: tuple[str, ...]
    scopes: frozenset[str]
    expires_at: datetime
    issued_at: datetime | None
    not_before: datetime | None
    token_id: str | None
    key_id: str

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class SigningKey:
    """An RSA private key and the kid that lets verifiers find its public half.

    The private key never appears in repr, so a logged or printed settings object cannot leak it.
    """

    __slots__ = ("_kid", "_private_key")

    def __init__(self, private_key_pem: str | bytes, kid: str) -> None:
        if not kid:
            raise ValueError("a signing key needs a non-empty kid")
        if isinstance(private_key_pem, str):
            private_key_pem = private_key_pem.encode("ascii")
        key = serialization.load_pem_private_key(private_key_pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("RS256 needs an RSA private key")
        if key.key_size < MIN_RSA_KEY_BITS:
            raise ValueError(f"RSA key is {key.key_size} bits; at least {MIN_RSA_KEY_BITS} needed")
        self._kid = kid
        self._private_key = key

    def __repr__(self) -> str:
        return f"SigningKey(kid={self._kid!r})"

    @property
    def kid(self) -> str:
        return self._kid

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self._private_key.public_key()

    def private_key_pem(self) -> bytes:
        """Unencrypted PKCS#8 PEM, for handing a generated dev key to a secret store."""
        return self._private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def issue(
        self,
        *,
        issuer: str,
        audience: str,
        subject: str,
        ttl: timedelta,
        scopes: Iterable[str] = (),
        now: datetime | None = None,
        token_id: str | None = None,
    ) -> str:
        """A token valid from `now` for `ttl`; scopes travel as one RFC 8693 `scope` string."""
        if not subject:
            raise ValueError("a token needs a subject")
        lifetime = int(ttl.total_seconds())
        if lifetime < 1:
            raise ValueError("a token must live at least one second")
        issued = datetime.now(UTC) if now is None else now
        if issued.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        scope_names = sorted(set(scopes))
        if any(not name or any(char.isspace() for char in name) for name in scope_names):
            raise ValueError("scopes must be non-empty and contain no whitespace")
        issued_at = int(issued.timestamp())
        payload: dict[str, Any] = {
            "iss": issuer,
            "aud": audience,
            "sub": subject,
            "iat": issued_at,
            "nbf": issued_at,
            "exp": issued_at + lifetime,
            "jti": token_id or str(uuid.uuid4()),
        }
        if scope_names:
            payload["scope"] = " ".join(scope_names)
        return jwt.encode(
            payload,
            self._private_key,
            algorithm=ALGORITHM,
            headers={"kid": self._kid, "typ": "JWT"},
        )


def generate_signing_key(kid: str, *, key_size: int = MIN_RSA_KEY_BITS) -> SigningKey:
    """A fresh key for tests and local development; production keys come from a secret store."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return SigningKey(pem, kid)


def public_keys(signing_keys: Iterable[SigningKey]) -> dict[str, rsa.RSAPublicKey]:
    """Public halves by kid: the shape `Verifier` and `jwks_document` take."""
    keys: dict[str, rsa.RSAPublicKey] = {}
    for signing_key in signing_keys:
        if signing_key.kid in keys:
            raise ValueError(f"kid {signing_key.kid!r} is used by more than one key")
        keys[signing_key.kid] = signing_key.public_key
    return keys


def bearer_token(authorization: str | None) -> str:
    """The token from an `Authorization: Bearer <token>` header value."""
    if not authorization or not authorization.strip():
        raise InvalidToken("missing_token", "no Authorization header")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise InvalidToken("malformed_token", "Authorization header is not 'Bearer <token>'")
    return token


class Verifier:
    """Checks tokens against one issuer, one audience and a set of trusted RS256 public keys.

    `keys` is a fixed mapping or a `KeySet` that may change while the process runs (the
    gateway's JWKS, refreshed); either way the kid only selects among keys already trusted.
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        keys: Mapping[str, rsa.RSAPublicKey] | KeySet,
        leeway: timedelta = DEFAULT_LEEWAY,
        verified: VerifiedTokens[Claims] | None = None,
    ) -> None:
        """``verified``: where tokens verified lately are kept for reuse (see
        ``paykit.auth.verified_tokens``); a fresh one with its defaults when not given."""
        if not issuer or not audience:
            raise ValueError("a verifier needs an issuer and an audience")
        if isinstance(keys, Mapping):
            if not keys:
                raise ValueError("a verifier needs at least one public key")
            for kid, key in keys.items():
                if not isinstance(key, rsa.RSAPublicKey):
                    raise TypeError(f"key {kid!r} is not an RSA public key")
                if key.key_size < MIN_RSA_KEY_BITS:
                    raise ValueError(f"key {kid!r} is shorter than {MIN_RSA_KEY_BITS} bits")
            keys = StaticKeySet(keys)
        if leeway < timedelta(0) or leeway > MAX_LEEWAY:
            raise ValueError(f"leeway must be between 0 and {MAX_LEEWAY}")
        self._issuer = issuer
        self._audience = audience
        self._keys: KeySet = keys
        self._leeway = leeway
        self._verified: VerifiedTokens[Claims] = VerifiedTokens() if verified is None else verified

    @property
    def audience(self) -> str:
        return self._audience

    def verify(self, token: str) -> Claims:
        if not token:
            raise InvalidToken("missing_token", "empty token")
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("malformed_token", "token is too long")
        recalled = self._verified.recall(token, self._keys)
        if recalled is not None:
            return recalled
        kid, key = self._key_for(token)
        try:
            payload = jwt.decode(
                token,
                key=key,
                algorithms=[ALGORITHM],
                issuer=self._issuer,
                audience=self._audience,
                leeway=self._leeway,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.InvalidTokenError as error:
            raise _translate(error) from error
        claims = _claims(payload, kid)
        self._verified.remember(
            token, claims, kid=kid, key=key, expires_at=claims.expires_at.timestamp()
        )
        return claims

    def _key_for(self, token: str) -> tuple[str, rsa.RSAPublicKey]:
        """Choose the key from configuration before PyJWT sees the token.

        The header is unauthenticated at this point, so it may only narrow the choice: the
        algorithm must be exactly RS256 and the kid must name a key we already trust.
        """
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as error:
            raise InvalidToken("malformed_token", "token header cannot be decoded") from error
        if header.get("alg") != ALGORITHM:
            raise InvalidToken("unsupported_algorithm", f"only {ALGORITHM} tokens are accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("unknown_key", "token has no kid")
        key = self._keys.key(kid)
        if key is None or not isinstance(key, rsa.RSAPublicKey):
            raise InvalidToken("unknown_key", "token kid is not in the trusted key set")
        return kid, key


_ERROR_CODES: Final[tuple[tuple[type[jwt.InvalidTokenError], TokenErrorCode], ...]] = (
    # Subclasses before their bases: InvalidSignatureError is a DecodeError.
    (jwt.InvalidSignatureError, "invalid_signature"),
    (jwt.ExpiredSignatureError, "token_expired"),
    (jwt.ImmatureSignatureError, "token_not_yet_valid"),
    (jwt.InvalidIssuerError, "invalid_issuer"),
    (jwt.InvalidAudienceError, "invalid_audience"),
    (jwt.MissingRequiredClaimError, "missing_claim"),
    (jwt.InvalidAlgorithmError, "unsupported_algorithm"),
)


def _translate(error: jwt.InvalidTokenError) -> InvalidToken:
    for error_type, code in _ERROR_CODES:
        if isinstance(error, error_type):
            return InvalidToken(code, str(error))
    return InvalidToken("malformed_token", str(error))


def _claims(payload: dict[str, Any], kid: str) -> Claims:
    subject = payload["sub"]
    if not isinstance(subject, str) or not subject:
        raise InvalidToken("missing_claim", "token subject is empty")
    audience = payload["aud"]
    scope = payload.get("scope", "")
    token_id = payload.get("jti")
    if not isinstance(scope, str) or not isinstance(token_id, str | None):
        raise InvalidToken("malformed_token", "scope and jti must be strings")
    return Claims(
        subject=subject,
        issuer=payload["iss"],
        audience=(audience,) if isinstance(audience, str) else tuple(audience),
        scopes=frozenset(scope.split()),
        expires_at=_instant(payload["exp"], "exp"),
        issued_at=_optional_instant(payload.get("iat"), "iat"),
        not_before=_optional_instant(payload.get("nbf"), "nbf"),
        token_id=token_id,
        key_id=kid,
    )


def _optional_instant(value: object, claim: str) -> datetime | None:
    return None if value is None else _instant(value, claim)


def _instant(value: object, claim: str) -> datetime:
    """NumericDate (RFC 7519 §2) to an aware UTC datetime; PyJWT tolerates strings, we do not."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken("malformed_token", f"{claim} must be a number")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError) as error:
        raise InvalidToken("malformed_token", f"{claim} is out of range") from error
