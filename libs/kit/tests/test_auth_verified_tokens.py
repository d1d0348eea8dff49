"""A token verified a moment ago is not checked in full again, and nothing it would refuse is
let through: not a withdrawn or replaced key, not an expired token, not a refused token."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import jwt as pyjwt
import pytest

from paykit.auth import jwt as paykit_jwt
from paykit.auth.jwt import InvalidToken, SigningKey, Verifier, generate_signing_key, public_keys
from paykit.auth.key_sets import StaticKeySet
from paykit.auth.verified_tokens import VerifiedTokens

ISSUER = "https://gateway.payments.test"
AUDIENCE = "payments-api"


@pytest.fixture(scope="module")
def signing_key() -> SigningKey:
    return generate_signing_key("key-a")


class MutableKeys(StaticKeySet):
    """A key set the test can change under a running verifier, as a JWKS refresh would."""

    def replace(self, keys: dict[str, Any]) -> None:
        self._keys = dict(keys)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def full_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every token PyJWT decodes in full, in order."""
    decoded: list[str] = []
    real_decode = pyjwt.decode

    def counting_decode(token: str, *args: Any, **kwargs: Any) -> Any:
        decoded.append(token)
        return real_decode(token, *args, **kwargs)

    monkeypatch.setattr(paykit_jwt.jwt, "decode", counting_decode)
    return decoded


def issue(key: SigningKey, ttl: timedelta = timedelta(minutes=15)) -> str:
    return key.issue(issuer=ISSUER, audience=AUDIENCE, subject="MER_1", ttl=ttl)


def verifier_over(keys: StaticKeySet, cache: VerifiedTokens[Any] | None = None) -> Verifier:
    return Verifier(issuer=ISSUER, audience=AUDIENCE, keys=keys, verified=cache)


def test_a_repeated_token_is_checked_in_full_once(
    signing_key: SigningKey, full_checks: list[str]
) -> None:
    verifier = verifier_over(StaticKeySet(public_keys([signing_key])))
    token = issue(signing_key)

    first = verifier.verify(token)
    again = [verifier.verify(token) for _ in range(5)]

    assert full_checks == [token]
    assert all(claims == first for claims in again)


def test_a_token_is_checked_in_full_again_once_its_reuse_window_has_passed(
    signing_key: SigningKey, full_checks: list[str]
) -> None:
    clock = Clock(1_000.0)
    cache: VerifiedTokens[Any] = VerifiedTokens(reuse_seconds=30, clock=clock)
    verifier = verifier_over(StaticKeySet(public_keys([signing_key])), cache)
    token = issue(signing_key)

    verifier.verify(token)
    clock.now += 29
    verifier.verify(token)
    clock.now += 2
    verifier.verify(token)

    assert full_checks == [token, token]


def test_a_kept_token_is_never_reused_past_its_expiry(signing_key: SigningKey) -> None:
    clock = Clock(time.time())
    cache: VerifiedTokens[Any] = VerifiedTokens(reuse_seconds=3600, clock=clock)
    keys = StaticKeySet(public_keys([signing_key]))
    token = issue(signing_key, ttl=timedelta(minutes=5))
    claims = verifier_over(keys, cache).verify(token)

    clock.now = claims.expires_at.timestamp() + 1

    assert cache.recall(token, keys) is None
    assert len(cache) == 0


def test_a_withdrawn_key_stops_its_kept_tokens_at_once(signing_key: SigningKey) -> None:
    keys = MutableKeys(public_keys([signing_key]))
    verifier = verifier_over(keys)
    token = issue(signing_key)
    verifier.verify(token)

    keys.replace({})

    with pytest.raises(InvalidToken) as refused:
        verifier.verify(token)
    assert refused.value.code == "unknown_key"


def test_a_kid_bound_to_another_key_stops_its_kept_tokens(signing_key: SigningKey) -> None:
    keys = MutableKeys(public_keys([signing_key]))
    verifier = verifier_over(keys)
    token = issue(signing_key)
    verifier.verify(token)
    impostor = generate_signing_key(signing_key.kid)

    keys.replace(public_keys([impostor]))

    with pytest.raises(InvalidToken) as refused:
        verifier.verify(token)
    assert refused.value.code == "invalid_signature"


def test_a_refused_token_is_checked_in_full_every_time(
    signing_key: SigningKey, full_checks: list[str]
) -> None:
    verifier = Verifier(issuer=ISSUER, audience="another-api", keys=public_keys([signing_key]))
    token = issue(signing_key)

    for _ in range(3):
        with pytest.raises(InvalidToken):
            verifier.verify(token)

    assert full_checks == [token] * 3


def test_the_kept_tokens_are_bounded_oldest_dropped_first(
    signing_key: SigningKey, full_checks: list[str]
) -> None:
    cache: VerifiedTokens[Any] = VerifiedTokens(capacity=2)
    verifier = verifier_over(StaticKeySet(public_keys([signing_key])), cache)
    first, second, third = (issue(signing_key) for _ in range(3))

    for token in (first, second, third, third, first):
        verifier.verify(token)

    assert len(cache) == 2
    assert full_checks == [first, second, third, first]
