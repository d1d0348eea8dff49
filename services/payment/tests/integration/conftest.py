"""The payment API in-process (Flask test client) over the test cluster's real database."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from localcluster.testing import ClusterEnv
from paykit.auth.jwt import SigningKey
from paykit.settings import Secret
from payment_service import settings as settings_module
from payment_service.entrypoints.app import create_app
from payment_service.settings import PaymentSettings


@pytest.fixture(scope="session")
def payment_db(isolated_database: Callable[[str], str]) -> str:
    return isolated_database("payment")


@pytest.fixture(scope="session")
def payment_settings(cluster: ClusterEnv, payment_db: str) -> PaymentSettings:
    loaded = settings_module.load(os.environ)
    return replace(loaded, database_url=Secret(payment_db), json_logs=False)


@pytest.fixture(scope="session")
def app(payment_settings: PaymentSettings) -> Iterator[Flask]:
    application = create_app(payment_settings)
    yield application
    application.extensions["payment_service"].close()


@pytest.fixture(scope="session")
def signing_key(cluster: ClusterEnv) -> SigningKey:
    return SigningKey(
        Path(os.environ["AUTH_SIGNING_KEY_PATH"]).read_bytes(), os.environ["AUTH_SIGNING_KEY_ID"]
    )


@pytest.fixture
def token_for(signing_key: SigningKey) -> Callable[..., str]:
    def issue(merchant: str, scopes: tuple[str, ...] = ("payments:read", "payments:write")) -> str:
        return signing_key.issue(
            issuer=os.environ["AUTH_ISSUER"],
            audience=os.environ["AUTH_AUDIENCE"],
            subject=merchant,
            ttl=timedelta(minutes=5),
            scopes=scopes,
        )

    return issue


@pytest.fixture
def merchant(unique: str) -> str:
    return f"MER_{unique}"


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def headers(token_for: Callable[..., str], merchant: str) -> Callable[..., dict[str, str]]:
    def build(key: str | None = None, merchant_id: str | None = None) -> dict[str, str]:
        result = {"Authorization": f"Bearer {token_for(merchant_id or merchant)}"}
        if key is not None:
            result["Idempotency-Key"] = key
        return result

    return build
