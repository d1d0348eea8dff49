"""Which signing keys the gateway publishes, and until when a retired one stays published.

A token is checked against the JWKS its verifier holds, so a new key is published a little
before it signs, and a retired key stays in the JWKS until the last token it signed has
expired, plus the verifiers' leeway for clock skew.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

CLOCK_SKEW_ALLOWANCE: Final = timedelta(minutes=1)
ACTIVATION_DELAY: Final = timedelta(seconds=10)
"""How long a rotated key is published before it signs: longer than a verifier waits between
two JWKS fetches (paykit's 5 s), so none meets a token of a kid it could not fetch yet."""


@dataclass(frozen=True)
class PublishedKey:
    kid: str
    public_key_pem: str
    created_at: datetime
    signs_from: datetime
    retired_at: datetime | None
    published_until: datetime | None

    def status(self, now: datetime) -> str:
        if self.signs_from > now:
            return "next"  # published, signing from signs_from
        if self.retired_at is None or self.retired_at > now:
            return "signing"
        if self.published_until is not None and self.published_until <= now:
            return "expired"
        return "published"


def published_until(retired_at: datetime, token_ttl: timedelta) -> datetime:
    """When a key retired at `retired_at` may leave the JWKS: its last token has expired."""
    return retired_at + token_ttl + CLOCK_SKEW_ALLOWANCE


def new_kid(now: datetime) -> str:
    """Sortable, readable kids: ``gw-20260301T120000Z-ab12``."""
    return f"gw-{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(2)}"
