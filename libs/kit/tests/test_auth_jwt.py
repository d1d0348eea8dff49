import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from paykit.auth.jwt import (
    InvalidJwks,
    InvalidToken,
    SigningKey,
    Verifier,
    bearer_token,
    generate_signing_key,
    jwks_document,
    keys_from_jwks,
    public_keys,
)

ISSUER = "https://gateway.payments.test"
AUDIENCE = "payments-api"


@pytest.fixture(scope="module")
def signing_key() -> SigningKey:
    return generate_signing_key("key-2024-01")


@pytest.fixture(scope="module")
def other_key() -> SigningKey:
    return generate_signing_key("key-2024-02")


@pytest.fixture
def verifier(signing_key: SigningKey) -> Verifier:
    return Verifier(issuer=ISSUER, audience=AUDIENCE, keys=public_keys([signing_key]))


def issue(key: SigningKey, **overrides: Any) -> str:
    arguments: dict[str, Any] = {
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "subject": "merchant_123",
        "ttl": timedelta(minutes=15),
    }
    arguments.update(overrides)
    return key.issue(**arguments)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def json_segment(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def valid_payload() -> dict[str, Any]:
    now = int(datetime.now(UTC).timestamp())
    return {"iss": ISSUER, "aud": AUDIENCE, "sub": "merchant_123", "iat": now, "exp": now + 600}


def rs256_token(key: SigningKey, payload: dict[str, Any], header: dict[str, Any]) -> str:
    """A correctly signed RS256 token with whatever claims a test needs, bypassing `issue`."""
    return pyjwt.encode(payload, key.private_key_pem(), algorithm="RS256", headers=header)


def public_pem(key: SigningKey) -> bytes:
    return key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def reason(verifier: Verifier, token: str) -> str:
    with pytest.raises(InvalidToken) as caught:
        verifier.verify(token)
    return caught.value.code


def test_issued_token_verifies_to_typed_claims(signing_key: SigningKey, verifier: Verifier) -> None:
    token = issue(
        signing_key,
        scopes=["payments:write", "payments:read"],
        now=datetime.now(UTC),
        token_id="tok-1",
    )
    claims = verifier.verify(token)

    assert claims.subject == "merchant_123"
    assert claims.issuer == ISSUER
    assert claims.audience == (AUDIENCE,)
    assert claims.scopes == frozenset({"payments:read", "payments:write"})
    assert claims.has_scope("payments:write")
    assert not claims.has_scope("refunds:write")
    assert claims.token_id == "tok-1"
    assert claims.key_id == "key-2024-01"
    assert claims.issued_at is not None
    assert claims.expires_at - claims.issued_at == timedelta(minutes=15)
    assert claims.not_before == claims.issued_at
    assert claims.expires_at.tzinfo is UTC


def test_issued_token_carries_kid_and_every_registered_claim(signing_key: SigningKey) -> None:
    token = issue(signing_key, scopes=["payments:read"])
    header = pyjwt.get_unverified_header(token)
    payload = pyjwt.decode(token, options={"verify_signature": False})

    assert header == {"alg": "RS256", "kid": "key-2024-01", "typ": "JWT"}
    assert set(payload) == {"iss", "aud", "sub", "exp", "iat", "nbf", "jti", "scope"}
    assert payload["scope"] == "payments:read"


def test_token_without_scopes_has_no_scopes(signing_key: SigningKey, verifier: Verifier) -> None:
    claims = verifier.verify(issue(signing_key))
    assert claims.scopes == frozenset()
    assert claims.token_id  # a fresh jti is always set


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none_token_is_rejected(signing_key: SigningKey, verifier: Verifier, alg: str) -> None:
    header = json_segment({"alg": alg, "typ": "JWT", "kid": signing_key.kid})
    token = f"{header}.{json_segment(valid_payload())}."
    assert reason(verifier, token) == "unsupported_algorithm"


def test_hs256_token_signed_with_public_key_is_rejected(
    signing_key: SigningKey, verifier: Verifier
) -> None:
    # The classic key-confusion forgery: the attacker knows the public key (it is published) and
    # uses its PEM as an HMAC secret, hoping the verifier feeds the same key to HS256.
    signing_input = (
        f"{json_segment({'alg': 'HS256', 'typ': 'JWT', 'kid': signing_key.kid})}."
        f"{json_segment(valid_payload())}"
    )
    mac = hmac.new(public_pem(signing_key), signing_input.encode(), hashlib.sha256).digest()
    assert reason(verifier, f"{signing_input}.{b64url(mac)}") == "unsupported_algorithm"


def test_hmac_signature_under_an_rs256_header_is_rejected(
    signing_key: SigningKey, verifier: Verifier
) -> None:
    signing_input = (
        f"{json_segment({'alg': 'RS256', 'typ': 'JWT', 'kid': signing_key.kid})}."
        f"{json_segment(valid_payload())}"
    )
    mac = hmac.new(public_pem(signing_key), signing_input.encode(), hashlib.sha256).digest()
    assert reason(verifier, f"{signing_input}.{b64url(mac)}") == "invalid_signature"


@pytest.mark.parametrize("alg", ["RS512", "RS384", "PS256", "ES256", "HS512", "EdDSA", "rs256"])
def test_any_algorithm_other_than_rs256_is_rejected(
    signing_key: SigningKey, verifier: Verifier, alg: str
) -> None:
    signing_input = (
        f"{json_segment({'alg': alg, 'kid': signing_key.kid})}.{json_segment(valid_payload())}"
    )
    private_key = serialization.load_pem_private_key(signing_key.private_key_pem(), None)
    assert isinstance(private_key, rsa.RSAPrivateKey)
    signature = private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA512())
    assert reason(verifier, f"{signing_input}.{b64url(signature)}") == "unsupported_algorithm"


def test_token_signed_by_an_untrusted_key_with_a_trusted_kid_is_rejected(
    signing_key: SigningKey, verifier: Verifier
) -> None:
    impostor = generate_signing_key(signing_key.kid)
    assert reason(verifier, issue(impostor)) == "invalid_signature"


def test_tampered_payload_is_rejected(signing_key: SigningKey, verifier: Verifier) -> None:
    header, _, signature = issue(signing_key).split(".")
    forged_payload = {**valid_payload(), "sub": "merchant_999"}
    token = f"{header}.{json_segment(forged_payload)}.{signature}"
    assert reason(verifier, token) == "invalid_signature"


def test_unknown_kid_is_rejected(other_key: SigningKey, verifier: Verifier) -> None:
    assert reason(verifier, issue(other_key)) == "unknown_key"


def test_token_without_kid_is_rejected(signing_key: SigningKey, verifier: Verifier) -> None:
    token = rs256_token(signing_key, valid_payload(), header={})
    assert reason(verifier, token) == "unknown_key"


def test_verifier_with_rotated_keys_accepts_both(
    signing_key: SigningKey, other_key: SigningKey
) -> None:
    verifier = Verifier(
        issuer=ISSUER, audience=AUDIENCE, keys=public_keys([signing_key, other_key])
    )
    assert verifier.verify(issue(signing_key)).key_id == signing_key.kid
    assert verifier.verify(issue(other_key)).key_id == other_key.kid


def test_expired_token_is_rejected(signing_key: SigningKey, verifier: Verifier) -> None:
    token = issue(signing_key, now=datetime.now(UTC) - timedelta(hours=2))
    assert reason(verifier, token) == "token_expired"


def test_token_expired_within_leeway_is_still_accepted(
    signing_key: SigningKey,
) -> None:
    keys = public_keys([signing_key])
    issued = datetime.now(UTC) - timedelta(seconds=70)
    token = issue(signing_key, now=issued, ttl=timedelta(seconds=60))
    lenient = Verifier(issuer=ISSUER, audience=AUDIENCE, keys=keys, leeway=timedelta(seconds=60))
    strict = Verifier(issuer=ISSUER, audience=AUDIENCE, keys=keys, leeway=timedelta(0))

    assert lenient.verify(token).subject == "merchant_123"
    assert reason(strict, token) == "token_expired"


def test_token_issued_in_the_future_is_not_yet_valid(
    signing_key: SigningKey, verifier: Verifier
) -> None:
    token = issue(signing_key, now=datetime.now(UTC) + timedelta(hours=1))
    assert reason(verifier, token) == "token_not_yet_valid"


def test_wrong_audience_is_rejected(signing_key: SigningKey, verifier: Verifier) -> None:
    assert reason(verifier, issue(signing_key, audience="ledger-api")) == "invalid_audience"


def test_wrong_issuer_is_rejected(signing_key: SigningKey, verifier: Verifier) -> None:
    token = issue(signing_key, issuer="https://evil.test")
    assert reason(verifier, token) == "invalid_issuer"


@pytest.mark.parametrize("claim", ["iss", "aud", "exp", "sub"])
def test_token_missing_a_required_claim_is_rejected(
    signing_key: SigningKey, verifier: Verifier, claim: str
) -> None:
    payload = valid_payload()
    del payload[claim]
    token = rs256_token(signing_key, payload, header={"kid": signing_key.kid})
    assert reason(verifier, token) == "missing_claim"


def test_empty_subject_counts_as_missing(signing_key: SigningKey, verifier: Verifier) -> None:
    token = rs256_token(signing_key, {**valid_payload(), "sub": ""}, {"kid": signing_key.kid})
    assert reason(verifier, token) == "missing_claim"


def test_expiry_given_as_a_string_is_malformed(signing_key: SigningKey, verifier: Verifier) -> None:
    payload = {**valid_payload(), "exp": str(int(datetime.now(UTC).timestamp()) + 600)}
    token = rs256_token(signing_key, payload, {"kid": signing_key.kid})
    assert reason(verifier, token) == "malformed_token"


def test_non_string_scope_is_malformed(signing_key: SigningKey, verifier: Verifier) -> None:
    payload = {**valid_payload(), "scope": ["payments:write"]}
    token = rs256_token(signing_key, payload, {"kid": signing_key.kid})
    assert reason(verifier, token) == "malformed_token"


@pytest.mark.parametrize(
    "token",
    ["not-a-token", "a.b", "e30.e30.e30.e30", f"{b64url(b'[1]')}.e30.", "x" * 9000],
)
def test_garbage_is_a_malformed_token(verifier: Verifier, token: str) -> None:
    assert reason(verifier, token) == "malformed_token"


def test_empty_token_is_missing(verifier: Verifier) -> None:
    assert reason(verifier, "") == "missing_token"


def test_bearer_token_is_taken_from_the_authorization_header() -> None:
    assert bearer_token("Bearer abc.def.ghi") == "abc.def.ghi"
    assert bearer_token("bearer  abc.def.ghi ") == "abc.def.ghi"


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "missing_token"),
        ("   ", "missing_token"),
        ("Basic dXNlcjpwYXNz", "malformed_token"),
        ("Bearer", "malformed_token"),
        ("Bearer a b", "malformed_token"),
    ],
)
def test_unusable_authorization_header_is_rejected(header: str | None, code: str) -> None:
    with pytest.raises(InvalidToken) as caught:
        bearer_token(header)
    assert caught.value.code == code


def test_signing_key_repr_does_not_show_the_private_key(signing_key: SigningKey) -> None:
    assert repr(signing_key) == "SigningKey(kid='key-2024-01')"


def test_signing_key_round_trips_through_pem(signing_key: SigningKey, verifier: Verifier) -> None:
    reloaded = SigningKey(signing_key.private_key_pem().decode(), signing_key.kid)
    assert verifier.verify(issue(reloaded)).subject == "merchant_123"


def test_signing_key_refuses_a_short_rsa_key() -> None:
    short = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    pem = short.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError, match="2048"):
        SigningKey(pem, "short")


def test_jwks_document_follows_rfc_7517(signing_key: SigningKey) -> None:
    document = jwks_document(public_keys([signing_key]))

    (entry,) = document["keys"]
    assert entry["kty"] == "RSA"
    assert entry["use"] == "sig"
    assert entry["alg"] == "RS256"
    assert entry["kid"] == "key-2024-01"
    assert entry["e"] == "AQAB"  # 65537, big-endian, unpadded base64url
    assert "=" not in entry["n"]
    modulus = int.from_bytes(base64.urlsafe_b64decode(entry["n"] + "=" * (-len(entry["n"]) % 4)))
    assert modulus == signing_key.public_key.public_numbers().n
    assert set(entry) == {"kty", "use", "alg", "kid", "n", "e"}


def test_keys_loaded_from_a_published_jwks_verify_tokens(
    signing_key: SigningKey, other_key: SigningKey
) -> None:
    document = json.loads(json.dumps(jwks_document(public_keys([signing_key, other_key]))))
    verifier = Verifier(issuer=ISSUER, audience=AUDIENCE, keys=keys_from_jwks(document))
    assert verifier.verify(issue(other_key)).key_id == other_key.kid


def test_jwks_skips_keys_it_cannot_use(signing_key: SigningKey) -> None:
    (rsa_entry,) = jwks_document(public_keys([signing_key]))["keys"]
    document = {
        "keys": [
            {"kty": "EC", "crv": "P-256", "kid": "ec", "x": "AA", "y": "AA"},
            {**rsa_entry, "kid": "encryption", "use": "enc"},
            {**rsa_entry, "kid": "ps256", "alg": "PS256"},
            rsa_entry,
        ]
    }
    assert list(keys_from_jwks(document)) == [signing_key.kid]


def test_jwks_carrying_private_key_material_is_refused(signing_key: SigningKey) -> None:
    (entry,) = jwks_document(public_keys([signing_key]))["keys"]
    with pytest.raises(InvalidJwks, match="private"):
        keys_from_jwks({"keys": [{**entry, "d": "AQAB"}]})


def test_jwks_with_a_short_key_is_refused() -> None:
    short = rsa.generate_private_key(65537, 1024).public_key()  # noqa: S505
    with pytest.raises(InvalidJwks, match="1024 bits"):
        keys_from_jwks(jwks_document({"short": short}))


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"keys": "nope"},
        {"keys": []},
        {"keys": ["not-an-object"]},
        {"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]},
        {"keys": [{"kty": "RSA", "kid": "k", "n": "AQ==", "e": "AQAB"}]},
        {"keys": [{"kty": "RSA", "kid": "k", "n": "AQAB", "e": "AQAB"}]},
    ],
)
def test_malformed_jwks_is_refused(document: dict[str, Any]) -> None:
    with pytest.raises(InvalidJwks):
        keys_from_jwks(document)


def test_jwks_with_a_duplicate_kid_is_refused(signing_key: SigningKey) -> None:
    (entry,) = jwks_document(public_keys([signing_key]))["keys"]
    with pytest.raises(InvalidJwks, match="more than once"):
        keys_from_jwks({"keys": [entry, entry]})


def test_verifier_refuses_a_large_leeway(signing_key: SigningKey) -> None:
    with pytest.raises(ValueError, match="leeway"):
        Verifier(
            issuer=ISSUER,
            audience=AUDIENCE,
            keys=public_keys([signing_key]),
            leeway=timedelta(hours=1),
        )
