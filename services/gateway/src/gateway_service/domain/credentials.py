"""Merchant credentials: identifiers, secret keys shown once, and how a presented one is checked.

A secret is 32 random bytes (256 bits) behind a readable prefix. At that entropy a guess is
hopeless whatever the hash, so SHA-256 is enough: slow password hashes (bcrypt, argon2) exist
to protect secrets people chose, and would only make every token request slower. Comparisons
are constant-time and an unknown client is compared against a stand-in hash, so how long an
answer takes says nothing about which part of a credential was wrong.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

SECRET_PREFIX: Final = "sk_test_"  # noqa: S105 (a label, not a secret)
SECRET_BYTES: Final = 32
SHOWN_PREFIX_LENGTH: Final = len(SECRET_PREFIX) + 6
MAX_SECRET_LENGTH: Final = 200
# Compared when the client is unknown, so that case costs what a wrong secret costs.
_STAND_IN_HASH: Final = hashlib.sha256(b"no such client").digest()
_ALPHANUMERIC: Final = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _random_text(length: int) -> str:
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


def new_merchant_id() -> str:
    return f"MER_{_random_text(16)}"


def new_client_id() -> str:
    return f"ci_{_random_text(24)}"


def new_api_key_id() -> str:
    return f"key_{_random_text(16)}"


def new_secret(prefix: str = SECRET_PREFIX) -> str:
    return prefix + secrets.token_urlsafe(SECRET_BYTES)


def secret_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


def shown_prefix(secret: str) -> str:
    """Enough of a secret to tell keys apart in a list, far too little to guess the rest."""
    return secret[:SHOWN_PREFIX_LENGTH]


@dataclass(frozen=True)
class StoredKey:
    key_id: str
    merchant_id: str
    secret_sha256: bytes


@dataclass(frozen=True)
class IssuedSecret:
    """A new key as its holder sees it, once: the secret is never stored or shown again."""

    key_id: str
    merchant_id: str
    client_id: str
    client_secret: str
    prefix: str
    created_at: datetime


def matching_key(presented_secret: str, candidates: Iterable[StoredKey]) -> StoredKey | None:
    """The active key the secret belongs to, comparing against every candidate without an early
    exit; with no candidates (unknown client) the stand-in is compared instead."""
    presented = secret_hash(presented_secret[:MAX_SECRET_LENGTH])
    found: StoredKey | None = None
    compared = False
    for candidate in candidates:
        compared = True
        if hmac.compare_digest(presented, candidate.secret_sha256):
            found = candidate
    if not compared:
        hmac.compare_digest(presented, _STAND_IN_HASH)
    return found
