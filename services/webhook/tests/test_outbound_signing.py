"""Outbound signatures as merchants check them: with the Standard Webhooks reference library."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from webhook_service.domain.standard_webhooks import (
    SECRET_PREFIX,
    generate_secret,
    secret_key,
    signature,
    signed_headers,
)

BODY = b'{"id":"evt_1","type":"payment.succeeded","version":1}'


def test_a_signed_call_verifies_with_the_reference_library() -> None:
    secret = generate_secret()
    headers = signed_headers([secret], "msg_1", int(time.time()), BODY)

    assert Webhook(secret).verify(BODY, dict(headers)) is not None


def test_during_a_rotation_either_secret_verifies_and_a_stranger_does_not() -> None:
    old, new = generate_secret(), generate_secret()
    headers = dict(signed_headers([new, old], "msg_1", int(time.time()), BODY))

    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(BODY, headers)
    Webhook(new).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(BODY, headers)


def test_a_changed_body_or_id_fails_verification() -> None:
    secret = generate_secret()
    headers = dict(signed_headers([secret], "msg_1", int(time.time()), BODY))

    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY + b" ", headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, {**headers, "webhook-id": "msg_2"})


def test_the_signature_is_the_base64_hmac_of_id_timestamp_and_body_keyed_by_the_secrets_bytes() -> (
    None
):
    # The specification's own example (standard-webhooks, spec/standard-webhooks.md).
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'

    assert signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_secrets_are_whsec_and_32_random_bytes() -> None:
    secret = generate_secret()

    assert secret.startswith(SECRET_PREFIX)
    assert len(secret_key(secret)) == 32
    assert base64.b64decode(secret.removeprefix(SECRET_PREFIX)) == secret_key(secret)
    assert generate_secret() != secret
