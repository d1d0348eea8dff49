"""Endpoint signing secrets at rest: AES-256-GCM under ``WEBHOOK_ENDPOINT_SECRETS_KEY``.

The secret's id is the associated data, so a sealed value copied onto another row does not
open. A dump of the database without the key holds no secret a forger could sign with. Without
a configured key the secret is stored as it is (``none``) and the processes warn at start-up:
acceptable on a laptop, never in production.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

AES_GCM: Final = "aes-256-gcm"
UNSEALED: Final = "none"
_KEY_BYTES: Final = 32
_NONCE_BYTES: Final = 12


class UnopenableSecret(Exception):
    """A stored secret the configured key does not open (another key, or tampered with)."""


@dataclass(frozen=True)
class Sealed:
    sealing: str
    nonce: bytes | None
    sealed: bytes


def endpoint_secrets_key(text: str) -> bytes:
    """The key from its base64url form; ValueError with the reason otherwise."""
    stripped = text.strip()
    try:
        key = base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("must be base64url") from None
    if len(key) != _KEY_BYTES:
        raise ValueError(f"must decode to {_KEY_BYTES} bytes, got {len(key)}")
    return key


class SecretSealer:
    __slots__ = ("_aead",)

    def __init__(self, key: bytes | None) -> None:
        self._aead = None if key is None else AESGCM(key)

    def __repr__(self) -> str:
        return f"SecretSealer(sealing={AES_GCM if self._aead else UNSEALED})"

    @property
    def seals(self) -> bool:
        return self._aead is not None

    def seal(self, secret_id: str, secret: str) -> Sealed:
        if self._aead is None:
            return Sealed(UNSEALED, None, secret.encode())
        nonce = os.urandom(_NONCE_BYTES)
        return Sealed(
            AES_GCM, nonce, self._aead.encrypt(nonce, secret.encode(), secret_id.encode())
        )

    def open(self, secret_id: str, stored: Sealed) -> str:
        if stored.sealing == UNSEALED:
            return stored.sealed.decode()
        if self._aead is None or stored.nonce is None:
            raise UnopenableSecret(f"secret {secret_id} is sealed and no key is configured")
        try:
            return self._aead.decrypt(stored.nonce, stored.sealed, secret_id.encode()).decode()
        except InvalidTag:
            raise UnopenableSecret(
                f"secret {secret_id} does not open with WEBHOOK_ENDPOINT_SECRETS_KEY"
            ) from None
