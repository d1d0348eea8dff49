import hashlib
import hmac

import pytest

from paykit.auth.webhook_signature import InvalidSignature, sign, verify

BODY = b'{"paymentRef": "PAY_123456", "status": "SUCCESS", "gatewayData": {"amount": 3000}}'
SECRET = "whsec_current"
OLD_SECRET = "whsec_previous"
SENT_AT = 1_700_000_000


def reason(raw_body: bytes, header: str | None, secrets: list[str | bytes], **kwargs: int) -> str:
    with pytest.raises(InvalidSignature) as caught:
        verify(raw_body, header, secrets, **kwargs)
    return caught.value.code


def test_signature_is_hmac_sha256_over_timestamp_dot_raw_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{SENT_AT}.".encode() + BODY, hashlib.sha256)
    assert sign(BODY, SECRET, SENT_AT) == f"t={SENT_AT},v1={expected.hexdigest()}"


def test_signed_body_verifies_and_returns_its_timestamp() -> None:
    header = sign(BODY, SECRET, SENT_AT)
    assert verify(BODY, header, [SECRET], now=SENT_AT + 10) == SENT_AT


def test_bytes_and_str_secrets_sign_alike() -> None:
    assert sign(BODY, SECRET.encode(), SENT_AT) == sign(BODY, SECRET, SENT_AT)


def test_rotated_secret_still_verifies() -> None:
    header = sign(BODY, OLD_SECRET, SENT_AT)
    assert verify(BODY, header, [SECRET, OLD_SECRET], now=SENT_AT) == SENT_AT


def test_header_with_several_signatures_verifies_if_any_matches() -> None:
    old = sign(BODY, OLD_SECRET, SENT_AT).split(",")[1]
    new = sign(BODY, SECRET, SENT_AT).split(",")[1]
    header = f"t={SENT_AT},{old},{new}"
    assert verify(BODY, header, [SECRET], now=SENT_AT) == SENT_AT


def test_unknown_schemes_and_spacing_are_tolerated() -> None:
    signature = sign(BODY, SECRET, SENT_AT).split(",")[1]
    header = f" t={SENT_AT}, v0=deadbeef , {signature.upper().replace('V1=', 'v1=')}"
    assert verify(BODY, header, [SECRET], now=SENT_AT) == SENT_AT


def test_tampered_body_is_rejected() -> None:
    header = sign(BODY, SECRET, SENT_AT)
    tampered = BODY.replace(b"3000", b"300000")
    assert reason(tampered, header, [SECRET], now=SENT_AT) == "signature_mismatch"


def test_reserialised_body_is_rejected() -> None:
    header = sign(BODY, SECRET, SENT_AT)
    assert reason(BODY.replace(b": ", b":"), header, [SECRET], now=SENT_AT) == (
        "signature_mismatch"
    )


def test_wrong_secret_is_rejected() -> None:
    header = sign(BODY, "whsec_attacker", SENT_AT)
    assert reason(BODY, header, [SECRET, OLD_SECRET], now=SENT_AT) == "signature_mismatch"


def test_retired_secret_no_longer_verifies() -> None:
    header = sign(BODY, OLD_SECRET, SENT_AT)
    assert reason(BODY, header, [SECRET], now=SENT_AT) == "signature_mismatch"


def test_changed_timestamp_is_rejected() -> None:
    signature = sign(BODY, SECRET, SENT_AT).split(",")[1]
    header = f"t={SENT_AT + 60},{signature}"
    assert reason(BODY, header, [SECRET], now=SENT_AT + 60) == "signature_mismatch"


def test_timestamp_too_old_is_rejected() -> None:
    header = sign(BODY, SECRET, SENT_AT)
    assert reason(BODY, header, [SECRET], now=SENT_AT + 301) == "timestamp_out_of_tolerance"


def test_timestamp_too_far_in_the_future_is_rejected() -> None:
    header = sign(BODY, SECRET, SENT_AT)
    assert reason(BODY, header, [SECRET], now=SENT_AT - 301) == "timestamp_out_of_tolerance"


def test_timestamp_at_the_edge_of_tolerance_is_accepted() -> None:
    header = sign(BODY, SECRET, SENT_AT)
    assert verify(BODY, header, [SECRET], now=SENT_AT + 300) == SENT_AT
    assert verify(BODY, header, [SECRET], now=SENT_AT - 300) == SENT_AT


def test_tolerance_is_configurable() -> None:
    header = sign(BODY, SECRET, SENT_AT)
    assert verify(BODY, header, [SECRET], now=SENT_AT + 900, tolerance_seconds=1000) == SENT_AT
    assert reason(BODY, header, [SECRET], now=SENT_AT + 31, tolerance_seconds=30) == (
        "timestamp_out_of_tolerance"
    )


def test_forged_signature_with_an_old_timestamp_reports_a_mismatch_not_the_window() -> None:
    header = sign(BODY, "whsec_attacker", SENT_AT)
    assert reason(BODY, header, [SECRET], now=SENT_AT + 10_000) == "signature_mismatch"


def test_real_clock_is_used_when_now_is_not_given() -> None:
    header = sign(BODY, SECRET, SENT_AT)
    assert reason(BODY, header, [SECRET]) == "timestamp_out_of_tolerance"


@pytest.mark.parametrize("header", [None, "", "   "])
def test_missing_header_is_rejected(header: str | None) -> None:
    assert reason(BODY, header, [SECRET], now=SENT_AT) == "missing_signature"


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        f"t={SENT_AT}",
        "v1=" + "a" * 64,
        f"t=abc,v1={'a' * 64}",
        f"t=-5,v1={'a' * 64}",
        f"t={SENT_AT},t={SENT_AT},v1={'a' * 64}",
        f"t={SENT_AT},v1=abc",
        f"t={SENT_AT},v1={'g' * 64}",
        f"t={SENT_AT},v1={'a' * 64}," + "v0=x," * 500,
    ],
)
def test_malformed_header_is_rejected(header: str) -> None:
    assert reason(BODY, header, [SECRET], now=SENT_AT) == "malformed_signature"


def test_verifying_without_any_secret_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="secret"):
        verify(BODY, sign(BODY, SECRET, SENT_AT), [], now=SENT_AT)


def test_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        sign(BODY, "", SENT_AT)
