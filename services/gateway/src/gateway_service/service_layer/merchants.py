"""Merchants and their API keys: created with a secret shown once, listed without one, revoked."""

from __future__ import annotations

from typing import Any

from gateway_service.adapters.merchants_repository import MerchantsRepository
from gateway_service.domain.credentials import (
    IssuedSecret,
    new_api_key_id,
    new_client_id,
    new_merchant_id,
    new_secret,
    secret_hash,
    shown_prefix,
)
from gateway_service.domain.errors import ApiKeyNotFound, MerchantNotFound


def create_merchant(merchants: MerchantsRepository, name: str) -> IssuedSecret:
    merchant_id, client_id = new_merchant_id(), new_client_id()
    merchants.add_merchant(merchant_id, name, client_id)
    return _add_key(merchants, merchant_id, client_id)


def create_key(merchants: MerchantsRepository, merchant_id: str) -> IssuedSecret:
    """Another secret for the merchant, beside the ones it holds: how a secret is rotated."""
    merchant = merchants.merchant(merchant_id)
    if merchant is None:
        raise MerchantNotFound(f"no merchant {merchant_id!r}")
    return _add_key(merchants, merchant_id, merchant["client_id"])


def list_keys(merchants: MerchantsRepository, merchant_id: str) -> list[dict[str, Any]]:
    if merchants.merchant(merchant_id) is None:
        raise MerchantNotFound(f"no merchant {merchant_id!r}")
    return merchants.keys(merchant_id)


def revoke_key(merchants: MerchantsRepository, merchant_id: str, key_id: str) -> dict[str, Any]:
    """Revoked at once: the key gets no new token (tokens it got live out their minutes)."""
    revoked = merchants.revoke_key(merchant_id, key_id)
    if revoked is None:
        raise ApiKeyNotFound(f"merchant {merchant_id!r} has no key {key_id!r}")
    return revoked


def _add_key(merchants: MerchantsRepository, merchant_id: str, client_id: str) -> IssuedSecret:
    key_id, secret = new_api_key_id(), new_secret()
    created_at = merchants.add_key(key_id, merchant_id, shown_prefix(secret), secret_hash(secret))
    return IssuedSecret(
        key_id=key_id,
        merchant_id=merchant_id,
        client_id=client_id,
        client_secret=secret,
        prefix=shown_prefix(secret),
        created_at=created_at,
    )
