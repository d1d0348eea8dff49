"""What can go wrong with merchants, keys and tokens, as types the HTTP layer maps once."""

from __future__ import annotations


class GatewayError(Exception):
    code = "gateway_error"


class InvalidClient(GatewayError):
    """Unknown client, wrong secret or revoked key: one answer for all, so none can be told."""

    code = "invalid_client"


class MerchantNotFound(GatewayError):
    code = "merchant_not_found"


class ApiKeyNotFound(GatewayError):
    code = "api_key_not_found"


class NoSigningKey(GatewayError):
    """The gateway has no key to sign with: import one (``gateway keys import``) or rotate."""

    code = "no_signing_key"


class RotationPending(GatewayError):
    """A rotated key is published and waiting to sign; rotate again once it signs."""

    code = "rotation_pending"
