"""Whether a delivery really comes from the PSP, and recently.

The kit does the cryptography (HMAC-SHA256 over ``t.raw_body``, constant-time, several secrets);
this turns its verdict into a refusal the sender can read without learning anything useful.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from paykit.auth import webhook_signature
from paykit.auth.webhook_signature import MIN_SECRET_BYTES
from paykit.settings import Secret
from webhook_service.domain.errors import SignatureRejected

_EXPLANATIONS: Final = {
    "missing_signature": f"The {webhook_signature.SIGNATURE_HEADER} header is missing.",
    "malformed_signature": (
        f"The {webhook_signature.SIGNATURE_HEADER} header is not of the form "
        "t=<unix seconds>,v1=<hex HMAC-SHA256>."
    ),
    "signature_mismatch": "No signature matches an active webhook secret.",
}


@dataclass(frozen=True)
class SignaturePolicy:
    """The active secrets (all accepted, for rotation) and the timestamp tolerance."""

    secrets: Sequence[Secret] = field(repr=False)
    tolerance_seconds: int = webhook_signature.DEFAULT_TOLERANCE_SECONDS

    def __post_init__(self) -> None:
        if not self.secrets:
            raise ValueError("at least one webhook secret is required")
        if any(len(secret.reveal().encode()) < MIN_SECRET_BYTES for secret in self.secrets):
            raise ValueError(f"every webhook secret must be at least {MIN_SECRET_BYTES} bytes")
        if self.tolerance_seconds < 0:
            raise ValueError("tolerance_seconds must not be negative")

    def verify(self, raw_body: bytes, header: str | None, *, now: datetime) -> datetime:
        """When the sender signed the body; raises ``SignatureRejected`` otherwise."""
        try:
            signed = webhook_signature.verify(
                raw_body,
                header,
                [secret.reveal() for secret in self.secrets],
                now=int(now.timestamp()),
                tolerance_seconds=self.tolerance_seconds,
            )
        except webhook_signature.InvalidSignature as error:
            explanation = _EXPLANATIONS.get(
                error.code,
                f"The signed timestamp is more than {self.tolerance_seconds} seconds from now.",
            )
            raise SignatureRejected(
                explanation, reason=error.code, log_detail=f"{error.code}: {error}"
            ) from None
        return datetime.fromtimestamp(signed, UTC)
