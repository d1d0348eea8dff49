"""An idle sender wakes when a delivery is queued and again when the next one falls due, instead
of looking at the queue on a fixed poll: an outcome's webhook leaves as soon as it is due."""

from dataclasses import replace

import pytest
from flask.testing import FlaskClient

from paykit.testing import wait_until
from psp_simulator.testing import (
    AppFactory,
    SenderRunner,
    WebhookReceiver,
    admin_deliveries,
    charge_body,
    seconds_of,
)

pytestmark = pytest.mark.integration

# Far longer than any lateness the tests allow, so a sender that polls shows it.
IDLE_POLL_SECONDS = 5.0
# A webhook on time, on a shared and busy machine: a few milliseconds when it is quiet.
ON_TIME_SECONDS = 0.5


def take_charge(client: FlaskClient, reference: str) -> dict[str, object]:
    response = client.post(
        "/charges", json=charge_body(reference), headers={"Idempotency-Key": reference}
    )
    assert response.status_code == 201, response.json
    return response.json or {}


def lateness(client: FlaskClient, receiver: WebhookReceiver, reference: str) -> float:
    """How long after its delivery fell due the payment's one webhook arrived."""
    [delivery] = admin_deliveries(client, reference)
    [webhook] = receiver.accepted(reference)
    return webhook.at - seconds_of(delivery["first_due_at"])


def app_with_outcome_delay(make_app: AppFactory, seconds: float) -> FlaskClient:
    return make_app(timings=replace(make_app.settings.timings, outcome_delay=seconds)).test_client()


@pytest.fixture
def idle_sender(
    make_app: AppFactory, receiver: WebhookReceiver, senders: SenderRunner, unique: str
) -> None:
    """A sender with a long poll that has sent all that was due and found nothing more."""
    senders.start(poll_interval_seconds=IDLE_POLL_SECONDS)
    reference = f"PAY_{unique}_first"
    take_charge(app_with_outcome_delay(make_app, 0.0), reference)
    assert wait_until(lambda: bool(receiver.accepted(reference)), 2 * IDLE_POLL_SECONDS, 0.01)


@pytest.mark.usefixtures("idle_sender")
def test_with_no_outcome_delay_the_charge_answers_its_outcome_and_the_webhook_leaves_at_once(
    make_app: AppFactory, receiver: WebhookReceiver, unique: str
) -> None:
    client = app_with_outcome_delay(make_app, 0.0)
    reference = f"PAY_{unique}"

    assert take_charge(client, reference)["status"] == "succeeded"

    assert wait_until(lambda: bool(receiver.accepted(reference)), 1.0, 0.005)
    assert 0 <= lateness(client, receiver, reference) < 1.0


@pytest.mark.usefixtures("idle_sender")
def test_a_delivery_due_half_a_second_ahead_is_sent_at_its_time_not_a_poll_later(
    make_app: AppFactory, receiver: WebhookReceiver, unique: str
) -> None:
    client = app_with_outcome_delay(make_app, 0.5)
    reference = f"PAY_{unique}"

    assert take_charge(client, reference)["status"] == "processing"

    assert wait_until(lambda: bool(receiver.accepted(reference)), 0.5 + 1.0, 0.005)
    assert 0 <= lateness(client, receiver, reference) < ON_TIME_SECONDS


@pytest.mark.usefixtures("idle_sender")
def test_each_of_a_run_of_outcomes_is_sent_as_it_falls_due(
    client: FlaskClient, receiver: WebhookReceiver, unique: str
) -> None:
    references = [f"PAY_{unique}_{n}" for n in range(10)]
    for reference in references:
        take_charge(client, reference)

    assert wait_until(lambda: len(receiver.accepted()) == 1 + len(references), 3, 0.01)
    assert max(lateness(client, receiver, reference) for reference in references) < ON_TIME_SECONDS
