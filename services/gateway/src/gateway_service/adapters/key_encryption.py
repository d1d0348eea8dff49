"""Signing keys encrypted at rest: AES-256-GCM under a key encryption key from configuration.

The kid is the associated data, so a ciphertext copied onto another row does not decrypt, and
a database dump without the configured key holds no usable signing key.
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12


class UndecryptableKey(Exception):
    """A stored key the configured key encryption key does not open (wrong key, or tampered)."""


def generate_key_encryption_key() -> str:
    """A new key encryption key in the form ``GATEWAY_KEY_ENCRYPTION_KEY`` takes."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def decode_key_encryption_key(text: str) -> bytes:
    """32 bytes from base64url; ValueError with a reason a person can act on otherwise."""
    try:
        raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("must be base64url") from None
    if len(raw) != KEY_BYTES:
        raise ValueError(f"must decode to {KEY_BYTES} bytes; got {len(raw)}")
    return raw


class KeyEncryption:
    __slots__ = ("_aead",)

    def __init__(self, key_encryption_key: bytes) -> None:
        self._aead = AESGCM(key_encryption_key)

    def __repr__(self) -> str:
        return "KeyEncryption(...)"

    def seal(self, kid: str, private_key_pem: bytes) -> tuple[bytes, bytes]:
        nonce = os.urandom(NONCE_BYTES)
        return nonce, self._aead.encrypt(nonce, private_key_pem, kid.encode("utf-8"))

    def open(self, kid: str, nonce: bytes, ciphertext: bytes) -> bytes:
        try:
            return self._aead.decrypt(nonce, ciphertext, kid.encode("utf-8"))
        except InvalidTag:
            raise UndecryptableKey(
                f"signing key {kid!r} does not decrypt with GATEWAY_KEY_ENCRYPTION_KEY"
            ) from None
