"""JSON Web Key Sets (RFC 7517) for the RSA keys that sign access tokens.

The gateway publishes its public keys as a JWKS so every service can verify tokens on its own,
without calling the gateway. Loading is strict on purpose: a key set is trust configuration, so
anything surprising in it fails loudly at start-up instead of being half-used.
"""

import base64
import re
from collections.abc import Mapping
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey, RSAPublicNumbers

ALGORITHM: Final = "RS256"
MIN_RSA_KEY_BITS: Final = 2048

_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_PRIVATE_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth"})


class InvalidJwks(ValueError):
    """A key set that cannot be trusted as it stands; the message says which key and why."""


def jwks_document(keys: Mapping[str, RSAPublicKey]) -> dict[str, Any]:
    """Public JWKS for the given keys, keyed by kid, ready to serve as JSON.

    Only public members are written, so the document is safe to publish as it is.
    """
    entries = []
    for kid, key in keys.items():
        numbers = key.public_numbers()
        entries.append(
            {
                "kty": "RSA",
                "use": "sig",
                "alg": ALGORITHM,
                "kid": kid,
                "n": _encode_uint(numbers.n),
                "e": _encode_uint(numbers.e),
            }
        )
    return {"keys": entries}


def keys_from_jwks(document: Mapping[str, Any]) -> dict[str, RSAPublicKey]:
    """Public keys by kid from a JWKS document.

    Keys this verifier could never use (other key types, encryption keys, other algorithms) are
    skipped, as RFC 7517 allows; RSA signing keys that are malformed, too short, duplicated or that
    carry private material are errors.
    """
    entries = document.get("keys") if isinstance(document, Mapping) else None
    if not isinstance(entries, list):
        raise InvalidJwks("a JWKS document needs a 'keys' list")
    keys: dict[str, RSAPublicKey] = {}
    for position, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise InvalidJwks(f"key #{position} is not a JSON object")
        if not _is_rs256_signing_key(entry):
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidJwks(f"key #{position} has no 'kid'")
        if kid in keys:
            raise InvalidJwks(f"kid {kid!r} appears more than once")
        keys[kid] = _public_key(kid, entry)
    if not keys:
        raise InvalidJwks("the JWKS document holds no RS256 signing keys")
    return keys


def _is_rs256_signing_key(entry: Mapping[str, Any]) -> bool:
    return (
        entry.get("kty") == "RSA"
        and entry.get("use", "sig") == "sig"
        and entry.get("alg", ALGORITHM) == ALGORITHM
    )


def _public_key(kid: str, entry: Mapping[str, Any]) -> RSAPublicKey:
    leaked = _PRIVATE_MEMBERS.intersection(entry)
    if leaked:
        raise InvalidJwks(f"key {kid!r} carries private key members; publish public keys only")
    modulus = _decode_uint(kid, "n", entry.get("n"))
    exponent = _decode_uint(kid, "e", entry.get("e"))
    try:
        key = RSAPublicNumbers(exponent, modulus).public_key()
    except ValueError as error:
        raise InvalidJwks(f"key {kid!r} is not a valid RSA public key") from error
    if key.key_size < MIN_RSA_KEY_BITS:
        raise InvalidJwks(f"key {kid!r} is {key.key_size} bits; at least {MIN_RSA_KEY_BITS} needed")
    return key


def _encode_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode_uint(kid: str, member: str, value: object) -> int:
    if not isinstance(value, str) or not _BASE64URL.fullmatch(value):
        raise InvalidJwks(f"key {kid!r} member {member!r} must be unpadded base64url")
    padded = value + "=" * (-len(value) % 4)
    try:
        raw = base64.urlsafe_b64decode(padded)
    except ValueError as error:
        raise InvalidJwks(f"key {kid!r} member {member!r} is not valid base64url") from error
    return int.from_bytes(raw, "big")
