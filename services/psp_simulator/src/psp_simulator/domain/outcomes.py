"""Which test token does what: the outcome table and the webhooks each outcome sends.

Most tokens make a charge whose outcome is known only later, by webhook and by GET. The others
script the ways a real provider misbehaves that a careful platform must survive: a response that
never comes back in time, a webhook sent twice, a late webhook contradicting an earlier one, a
failure reported before the success it turns out to be.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Final

from psp_simulator.domain.charges import Charge, Status
from psp_simulator.domain.errors import UnknownPaymentMethod
from psp_simulator.domain.webhooks import (
    PAYMENT_STATUS,
    NewId,
    Webhook,
    WebhookStatus,
    encode_body,
    payment_status_body,
)

CONTRADICTING_FAILURE_CODE: Final = "card_declined"


class WebhookTiming(Enum):
    AT_OUTCOME = "at_outcome"
    SLOW = "slow"
    LATE = "late"


@dataclass(frozen=True, slots=True)
class WebhookStep:
    status: WebhookStatus
    failure_code: str | None = None
    timing: WebhookTiming = WebhookTiming.AT_OUTCOME
    # Send the previous step's event again: same event id, same bytes.
    repeats_previous: bool = False


@dataclass(frozen=True, slots=True)
class ScriptedOutcome:
    status: Status
    failure_code: str | None
    webhooks: tuple[WebhookStep, ...]
    # The first response is held back for `Timings.response_delay`, so the caller times out.
    delays_response: bool = False


@dataclass(frozen=True, slots=True)
class Timings:
    """How long the provider takes; all in seconds."""

    outcome_delay: float
    response_delay: float
    slow_webhook_delay: float
    late_webhook_delay: float
    # A payout's request to its outcome (status and webhook).
    payout_delay: float = 0.5

    def __post_init__(self) -> None:
        if min(self.outcome_delay, self.response_delay, self.payout_delay) < 0:
            raise ValueError("delays must not be negative")
        if min(self.slow_webhook_delay, self.late_webhook_delay) < 0:
            raise ValueError("delays must not be negative")

    def offset(self, timing: WebhookTiming) -> float:
        """How long after the outcome a webhook with this timing is first due."""
        if timing is WebhookTiming.SLOW:
            return self.slow_webhook_delay
        if timing is WebhookTiming.LATE:
            return self.late_webhook_delay
        return 0.0


_SUCCESS: Final = WebhookStep(WebhookStatus.SUCCESS)

OUTCOMES: Final[Mapping[str, ScriptedOutcome]] = {
    "pm_card_visa": ScriptedOutcome(Status.SUCCEEDED, None, (_SUCCESS,)),
    "pm_card_declined": ScriptedOutcome(
        Status.FAILED, "card_declined", (WebhookStep(WebhookStatus.FAILED, "card_declined"),)
    ),
    "pm_card_insufficient_funds": ScriptedOutcome(
        Status.FAILED,
        "insufficient_funds",
        (WebhookStep(WebhookStatus.FAILED, "insufficient_funds"),),
    ),
    "pm_card_timeout": ScriptedOutcome(Status.SUCCEEDED, None, (), delays_response=True),
    "pm_card_duplicate_webhook": ScriptedOutcome(
        Status.SUCCEEDED,
        None,
        (_SUCCESS, WebhookStep(WebhookStatus.SUCCESS, repeats_previous=True)),
    ),
    "pm_card_out_of_order": ScriptedOutcome(
        Status.SUCCEEDED,
        None,
        (
            _SUCCESS,
            WebhookStep(
                WebhookStatus.FAILED, CONTRADICTING_FAILURE_CODE, timing=WebhookTiming.LATE
            ),
        ),
    ),
    "pm_card_early_failure": ScriptedOutcome(
        Status.SUCCEEDED,
        None,
        (
            WebhookStep(WebhookStatus.FAILED, CONTRADICTING_FAILURE_CODE),
            WebhookStep(WebhookStatus.SUCCESS, timing=WebhookTiming.LATE),
        ),
    ),
    "pm_card_slow_webhook": ScriptedOutcome(
        Status.SUCCEEDED, None, (WebhookStep(WebhookStatus.SUCCESS, timing=WebhookTiming.SLOW),)
    ),
}


def outcome_for(payment_method: str) -> ScriptedOutcome:
    try:
        return OUTCOMES[payment_method]
    except KeyError:
        raise UnknownPaymentMethod(payment_method) from None


def plan_charge_webhooks(
    charge: Charge, outcome: ScriptedOutcome, timings: Timings, new_id: NewId
) -> tuple[Webhook, ...]:
    planned: list[Webhook] = []
    for step in outcome.webhooks:
        if step.repeats_previous and planned:
            previous = planned[-1]
            planned.append(
                Webhook(
                    delivery_id=new_id("dlv"),
                    event_id=previous.event_id,
                    event_type=previous.event_type,
                    payment_reference=previous.payment_reference,
                    refund_reference=None,
                    due_at=previous.due_at,
                    body=previous.body,
                )
            )
            continue
        event_id = new_id("evt")
        body = payment_status_body(event_id, charge, step.status, step.failure_code)
        planned.append(
            Webhook(
                delivery_id=new_id("dlv"),
                event_id=event_id,
                event_type=PAYMENT_STATUS,
                payment_reference=charge.reference,
                refund_reference=None,
                due_at=charge.settles_at + timings.offset(step.timing),
                body=encode_body(body),
            )
        )
    return tuple(planned)
