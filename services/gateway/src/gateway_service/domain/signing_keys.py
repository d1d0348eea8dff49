"""Which signing keys the gateway publishes, and until when a retired one stays published.

A token is checked against the JWKS its verifier holds, so a retired key must stay in the JWKS
until the last token it signed has expired, plus the verifiers' leeway for clock skew.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

CLOCK_SKEW_ALLOWANCE: Final = timedelta(minutes=1)


@dataclass(frozen=True)
class PublishedKey:
    kid: str
    public_key_pem: str
    created_at: datetime
    retired_at: datetime | None
    published_until: datetime | None

    @property
    def signing(self) -> bool:
        return self.retired_at is None


def published_until(retired_at: datetime, token_ttl: timedelta) -> datetime:
    """When a key retired at `retired_at` may leave the JWKS: its last token has expired."""
    return retired_at + token_ttl + CLOCK_SKEW_ALLOWANCE


def new_kid(now: datetime) -> str:
    """Sortable, readable kids: ``gw-20260301T120000Z-ab12``."""
    return f"gw-{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(2)}"
