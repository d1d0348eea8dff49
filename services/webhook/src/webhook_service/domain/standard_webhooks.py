"""Signing outbound webhooks the Standard Webhooks way, so merchants verify with stock libraries.

A secret is ``whsec_`` followed by the base64 of random bytes; those bytes (not the text) are
the HMAC key. Each call carries ``webhook-id`` (the same on every retry, for dedupe),
``webhook-timestamp`` (unix seconds of this attempt) and ``webhook-signature``: one
``v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`` per active secret, space-separated,
so during a rotation a receiver holding either secret accepts the call.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from typing import Final

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 (a prefix, not a secret)
SECRET_BYTES: Final = 32  # the specification asks for 24 to 64
SIGNATURE_VERSION: Final = "v1"
ID_HEADER: Final = "webhook-id"
TIMESTAMP_HEADER: Final = "webhook-timestamp"
SIGNATURE_HEADER: Final = "webhook-signature"


class MalformedSecret(ValueError):
    """A stored secret that is not ``whsec_<base64>``: a bug or a corrupted row, never input."""


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key a ``whsec_`` secret stands for: its base64 part, decoded."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedSecret("a webhook secret must be whsec_ and base64") from None
    if not key:
        raise MalformedSecret("a webhook secret must not be empty")
    return key


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    mac = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(mac).decode('ascii')}"


def signed_headers(
    secrets_in_force: Iterable[str], message_id: str, timestamp: int, body: bytes
) -> Mapping[str, str]:
    """The three headers of one attempt, signed with every secret in force (at least one)."""
    signatures = [signature(s, message_id, timestamp, body) for s in secrets_in_force]
    if not signatures:
        raise ValueError("an endpoint always has a secret in force")
    return {
        ID_HEADER: message_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: " ".join(signatures),
    }
