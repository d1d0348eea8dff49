"""The gateway's signing keys: which one signs, what the JWKS publishes, import and rotation.

Keys live in the gateway's database, private halves sealed with the configured key encryption
key (``adapters.key_encryption``). Every gateway worker asks the database which key signs, so
a rotation by ``gateway keys rotate`` in another process is followed by the next token issued;
decrypted keys are kept in memory by kid only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from psycopg_pool import ConnectionPool

from gateway_service.adapters.key_encryption import KeyEncryption
from gateway_service.adapters.signing_keys_repository import SigningKeysRepository
from gateway_service.domain.errors import NoSigningKey, RotationPending
from gateway_service.domain.signing_keys import (
    ACTIVATION_DELAY,
    PublishedKey,
    new_kid,
    published_until,
)
from paykit.auth.jwks import jwks_document
from paykit.auth.jwt import SigningKey, generate_signing_key
from paykit.auth.key_sets import RefreshingKeySet

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Rotation:
    kid: str
    signs_from: datetime
    retired_kid: str | None


class SigningKeys:
    def __init__(
        self,
        pool: ConnectionPool,
        encryption: KeyEncryption,
        *,
        token_ttl: timedelta,
        activation_delay: timedelta = ACTIVATION_DELAY,
        clock: Clock = _utc_now,
    ) -> None:
        self._activation_delay = activation_delay
        self._pool = pool
        self._encryption = encryption
        self._token_ttl = token_ttl
        self._clock = clock
        self._decrypted: dict[str, SigningKey] = {}
        self._lock = threading.Lock()

    def current(self) -> SigningKey:
        """The key that signs now, as the database says (one indexed read per token)."""
        with self._pool.connection() as conn:
            found = SigningKeysRepository(conn).signing_key(self._clock())
        if found is None:
            raise NoSigningKey("the gateway has no signing key: run `gateway keys rotate`")
        kid, nonce, sealed = found
        with self._lock:
            if kid not in self._decrypted:
                pem = self._encryption.open(kid, nonce, sealed)
                self._decrypted[kid] = SigningKey(pem, kid)
            return self._decrypted[kid]

    def import_if_none(self, private_key_pem: bytes, kid: str) -> bool:
        """The first key, from a PEM the deployment generated (the local cluster's dev key).

        Does nothing once the gateway holds any key: it owns them from then on.
        """
        return self._add_first(SigningKey(private_key_pem, kid))

    def generate_if_none(self) -> str | None:
        """A first key of the gateway's own making, when the deployment handed it none."""
        key = generate_signing_key(new_kid(self._clock()))
        return key.kid if self._add_first(key) else None

    def _add_first(self, key: SigningKey) -> bool:
        with self._pool.connection() as conn, conn.transaction():
            repository = SigningKeysRepository(conn)
            repository.lock()
            if repository.count() > 0:
                return False
            self._store(repository, key, signs_from=self._clock())
            return True

    def rotate(self) -> Rotation:
        """A new key, published at once, signs after the activation delay; the old one signs
        until then and stays published until its last token has expired."""
        now = self._clock()
        key = generate_signing_key(new_kid(now))
        signs_from = now + self._activation_delay
        with self._pool.connection() as conn, conn.transaction():
            repository = SigningKeysRepository(conn)
            repository.lock()
            waiting = repository.pending(now)
            if waiting is not None:
                raise RotationPending(f"key {waiting!r} is published and signs shortly")
            retired = repository.retire_signing_key(
                signs_from, published_until(signs_from, self._token_ttl)
            )
            self._store(repository, key, signs_from=signs_from)
        return Rotation(kid=key.kid, signs_from=signs_from, retired_kid=retired)

    def published(self) -> list[PublishedKey]:
        with self._pool.connection() as conn:
            return SigningKeysRepository(conn).published(self._clock())

    def all(self) -> list[PublishedKey]:
        with self._pool.connection() as conn:
            return SigningKeysRepository(conn).all()

    def public_keys(self) -> dict[str, rsa.RSAPublicKey]:
        keys: dict[str, rsa.RSAPublicKey] = {}
        for published in self.published():
            loaded = serialization.load_pem_public_key(published.public_key_pem.encode("ascii"))
            if isinstance(loaded, rsa.RSAPublicKey):
                keys[published.kid] = loaded
        return keys

    def jwks(self) -> dict[str, Any]:
        return jwks_document(self.public_keys())

    def key_set(self) -> RefreshingKeySet:
        """What the gateway's own verifiers trust: its published keys, reloaded like a service's
        (on an unknown kid, at most every few seconds, and every minute)."""
        return RefreshingKeySet(self.public_keys, ttl=60, name="gateway-signing-keys")

    def _store(
        self, repository: SigningKeysRepository, key: SigningKey, *, signs_from: datetime
    ) -> None:
        nonce, sealed = self._encryption.seal(key.kid, key.private_key_pem())
        public_pem = key.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")
        repository.add(key.kid, public_pem, nonce, sealed, signs_from)
