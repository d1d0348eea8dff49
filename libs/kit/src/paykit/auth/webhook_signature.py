"""HMAC-SHA256 signatures for webhooks, in the `t=<unix seconds>,v1=<hex>` header format.

The signed message is `"{t}."` followed by the raw body bytes exactly as received: re-serialised
JSON would not match, and signing the timestamp stops an old body being replayed with a fresh one.
Several `v1` entries and several accepted secrets let a sender and a receiver rotate secrets
without a window in which valid webhooks are refused.
"""

import hashlib
import hmac
import re
import time
from collections.abc import Sequence
from typing import Final, Literal

SCHEME: Final = "v1"
# The HTTP header that carries the signature, shared by the PSP (sender) and the platform.
SIGNATURE_HEADER: Final = "Psp-Signature"
DEFAULT_TOLERANCE_SECONDS: Final = 300
MIN_SECRET_BYTES: Final = 32
"""256 bits: the HMAC key length below which an offline guess from one captured delivery pays."""
# Generous for a timestamp and a handful of signatures; anything longer is not ours.
MAX_HEADER_LENGTH: Final = 2048

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")

SignatureErrorCode = Literal[
    "missing_signature",
    "malformed_signature",
    "timestamp_out_of_tolerance",
    "signature_mismatch",
]


class InvalidSignature(Exception):
    """A webhook that must be refused; `code` is stable, the message is for logs only."""

    def __init__(self, code: SignatureErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: SignatureErrorCode = code


def sign(raw_body: bytes, secret: str | bytes, timestamp: int) -> str:
    """The signature header value for `raw_body` sent at `timestamp`."""
    if timestamp < 0:
        raise ValueError("timestamp must be a non-negative unix time")
    return f"t={timestamp},{SCHEME}={_digest(_key(secret), timestamp, raw_body)}"


def verify(
    raw_body: bytes,
    header: str | None,
    secrets: Sequence[str | bytes],
    *,
    now: int | None = None,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> int:
    """The signed timestamp, once the body is proven to come from a holder of an active secret.

    The signature is checked before the timestamp, so only an authentic request learns that its
    timestamp was out of tolerance. `now` is injectable for tests and replay tooling.
    """
    keys = [_key(secret) for secret in secrets]
    if not keys:
        raise ValueError("at least one webhook secret is required")
    if tolerance_seconds < 0:
        raise ValueError("tolerance_seconds must not be negative")
    timestamp, signatures = _parse(header)
    if not _matches_any(keys, timestamp, raw_body, signatures):
        raise InvalidSignature("signature_mismatch", "no signature matches an active secret")
    current = int(time.time()) if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        raise InvalidSignature(
            "timestamp_out_of_tolerance",
            f"timestamp is {current - timestamp}s from now; tolerance is {tolerance_seconds}s",
        )
    return timestamp


def _parse(header: str | None) -> tuple[int, list[bytes]]:
    if header is None or not header.strip():
        raise InvalidSignature("missing_signature", "no signature header")
    if len(header) > MAX_HEADER_LENGTH:
        raise InvalidSignature("malformed_signature", "signature header is too long")
    timestamps: list[str] = []
    signatures: list[bytes] = []
    for item in header.split(","):
        name, separator, value = item.strip().partition("=")
        if not separator:
            raise InvalidSignature("malformed_signature", "entries must be name=value")
        if name == "t":
            timestamps.append(value)
        elif name == SCHEME:
            if not _HEX_DIGEST.fullmatch(value.lower()):
                raise InvalidSignature("malformed_signature", "v1 must be 64 hex digits")
            signatures.append(value.lower().encode("ascii"))
        # Other schemes are ignored so a sender can add a newer one before receivers know it.
    if len(timestamps) != 1 or not _TIMESTAMP.fullmatch(timestamps[0]):
        raise InvalidSignature("malformed_signature", "exactly one numeric t= entry is required")
    if not signatures:
        raise InvalidSignature("malformed_signature", "no v1 signature in header")
    return int(timestamps[0]), signatures


def _matches_any(
    keys: Sequence[bytes], timestamp: int, raw_body: bytes, signatures: Sequence[bytes]
) -> bool:
    matched = False
    for key in keys:
        expected = _digest(key, timestamp, raw_body).encode("ascii")
        for candidate in signatures:
            # No early exit: the time taken must not depend on which secret or entry matched.
            matched |= hmac.compare_digest(expected, candidate)
    return matched


def _digest(key: bytes, timestamp: int, raw_body: bytes) -> str:
    message = f"{timestamp}.".encode("ascii") + raw_body
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _key(secret: str | bytes) -> bytes:
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    if not key:
        raise ValueError("a webhook secret must not be empty")
    return key
