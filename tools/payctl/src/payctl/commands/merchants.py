"""Operators' merchants and their API keys, through the gateway's admin API."""

from __future__ import annotations

import uuid

import click

from payctl.options import json_option, session
from payctl.output import columns_of, emit, fields, rows_of, table

SHOWN_ONCE = "The client_secret is shown only now; the gateway keeps only its hash."
CREDENTIALS = ["merchant_id", "key_id", "client_id", "client_secret"]


@click.group()
def merchants() -> None:
    """Create and list merchants (operators: an admin token)."""


@merchants.command("create")
@click.option("--name", required=True, help="The merchant's name.")
@json_option
def create_merchant(name: str) -> None:
    """Create a merchant and its first API key; prints client_id and client_secret once."""
    s = session()
    made = s.admin_gateway().post(
        "/v1/admin/merchants", {"name": name}, idempotency_key=str(uuid.uuid4())
    )
    emit(s.json, made, f"{fields(made, [k for k in CREDENTIALS if k in made])}\n{SHOWN_ONCE}")


@merchants.command("list")
@json_option
def list_merchants() -> None:
    """Every merchant."""
    s = session()
    found = s.admin_gateway().get("/v1/admin/merchants")
    rows = rows_of(found)
    emit(s.json, found, table(rows, columns_of(rows, ["merchant_id", "id", "name", "created_at"])))


@click.group()
def keys() -> None:
    """A merchant's API keys: several at once for rotation, each revocable."""


merchant_option = click.option("--merchant", "merchant_id", required=True, help="Merchant id.")


@keys.command("create")
@merchant_option
@json_option
def create_key(merchant_id: str) -> None:
    """A new API key for the merchant; prints its client_secret once."""
    s = session()
    made = s.admin_gateway().post(
        f"/v1/admin/merchants/{merchant_id}/keys", {}, idempotency_key=str(uuid.uuid4())
    )
    emit(s.json, made, f"{fields(made, [k for k in CREDENTIALS if k in made])}\n{SHOWN_ONCE}")


@keys.command("list")
@merchant_option
@json_option
def list_keys(merchant_id: str) -> None:
    """The merchant's keys and whether each is revoked (never a secret)."""
    s = session()
    found = s.admin_gateway().get(f"/v1/admin/merchants/{merchant_id}/keys")
    rows = rows_of(found)
    first = ["key_id", "id", "client_id", "status", "created_at", "revoked_at"]
    emit(s.json, found, table(rows, columns_of(rows, first)))


@keys.command("revoke")
@merchant_option
@click.argument("key_id")
@json_option
def revoke_key(merchant_id: str, key_id: str) -> None:
    """Revoke one key: it gets no new token (tokens it has already got expire on their own)."""
    s = session()
    done = s.admin_gateway().post(f"/v1/admin/merchants/{merchant_id}/keys/{key_id}/revoke")
    emit(s.json, done, f"revoked {key_id} of {merchant_id}")
