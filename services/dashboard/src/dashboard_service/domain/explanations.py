"""What a person should read when the platform refuses or fails: what happened, what to do.

The API answers with RFC 9457 problems and stable codes; these turn them into two sentences,
with the field errors a form can show beside its fields. Nothing here shows a stack trace or a
raw body, only the problem's own title and detail where no better sentence is known.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final


@dataclass(frozen=True)
class Explanation:
    status: int
    what_happened: str
    what_to_do: str
    field_errors: dict[str, str] = field(default_factory=dict)
    reference: str | None = None
    """The request id, for support to find the request in the logs."""


_BY_CODE: Final[dict[str, tuple[str, str]]] = {
    "invalid_client": (
        "That client ID and secret were not accepted.",
        "Check both values as they were given to you; a revoked key no longer signs in. "
        "Your platform's operators can give you a new key.",
    ),
    "invalid_token": (
        "Your sign-in is no longer valid.",
        "Sign in again.",
    ),
    "insufficient_scope": (
        "Your key is not allowed to do this.",
        "Ask your platform's operators for a key with the rights you need.",
    ),
    "rate_limited": (
        "Too many requests were made in a short time.",
        "Wait a few seconds, then try again.",
    ),
    "payment_not_refundable": (
        "This payment cannot be refunded.",
        "Only a payment that succeeded, and is not refunded in full yet, can be refunded.",
    ),
    "refund_exceeds_captured_amount": (
        "The refund is larger than what is left to refund on this payment.",
        "Refund at most the amount still refundable, shown on the payment.",
    ),
    "idempotency_key_reused": (
        "This form was already used for a different request.",
        "Open the payment again and start a new refund.",
    ),
    "idempotency_request_in_flight": (
        "The same request is still being handled.",
        "Wait a moment and reload the payment to see its outcome.",
    ),
    "upstream_unavailable": (
        "A part of the platform could not be reached.",
        "Nothing was lost. Try again in a minute.",
    ),
    "upstream_timeout": (
        "A part of the platform took too long to answer.",
        "Reload the page to see whether the action went through before trying it again.",
    ),
}
_BY_STATUS: Final[dict[int, tuple[str, str]]] = {
    400: ("The request was not understood.", "Check what you typed and try again."),
    401: ("You are not signed in any more.", "Sign in again."),
    403: ("You are not allowed to see or do this.", "Sign in with an account that may."),
    404: (
        "Nothing was found here.",
        "Check the id or the address. You only see your own payments and batches.",
    ),
    409: ("This conflicts with the current state.", "Reload the page and try again."),
    413: ("What was sent is too large.", "Send less at once."),
    422: ("Some values were not accepted.", "Correct the values shown and try again."),
    429: _BY_CODE["rate_limited"],
}
_SERVER_ERROR: Final = (
    "Something went wrong on the platform's side.",
    "Try again in a minute. If it keeps happening, give support the reference below.",
)


def explain_problem(
    status: int, body: Mapping[str, Any] | None, *, reference: str | None = None
) -> Explanation:
    """An explanation of an HTTP answer of 400 and up, from its problem body if it has one."""
    problem = body or {}
    code = problem.get("code")
    known = _BY_CODE.get(str(code)) if code else None
    fallback = _BY_STATUS.get(status, _SERVER_ERROR if status >= 500 else _BY_STATUS[400])
    what_happened, what_to_do = known or fallback
    detail = problem.get("detail")
    if known is None and isinstance(detail, str) and detail and status < 500:
        what_happened = f"{what_happened} {_sentence(detail)}"
    if status == 429 and problem.get("retry_after"):
        what_to_do = f"Wait {problem['retry_after']} seconds, then try again."
    return Explanation(status, what_happened, what_to_do, _field_errors(problem), reference)


def unreachable(what: str) -> Explanation:
    return Explanation(
        503,
        f"The dashboard cannot reach the {what} right now.",
        "Nothing was changed. Try again in a minute; if it lasts, the platform's operators "
        "will want to know.",
    )


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _field_errors(problem: Mapping[str, Any]) -> dict[str, str]:
    errors = problem.get("errors")
    if not isinstance(errors, Mapping):
        return {}
    return {str(name): _flat(value) for name, value in errors.items()}


def _flat(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(_flat(v) for v in value)
    if isinstance(value, Mapping):
        return " ".join(f"{k}: {_flat(v)}" for k, v in value.items())
    return str(value)
