"""The sender process runs several delivery loops (`PSP_SENDER_THREADS`): webhooks go out side by
side, each exactly once, and a stop lets every loop finish the attempt in hand."""

import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from paykit.health import check
from paykit.testing import wait_until
from psp_simulator.testing import (
    ChargeMaker,
    WebhookReceiver,
    admin_deliveries,
    log_tail,
    sender_process,
)

pytestmark = pytest.mark.integration

SenderEnvironment = Callable[..., dict[str, str]]


def states(client: FlaskClient, references: list[str]) -> list[str]:
    return [d["state"] for r in references for d in admin_deliveries(client, r)]


def test_four_threads_send_four_slow_webhooks_at_the_same_time(
    sender_environment: SenderEnvironment,
    client: FlaskClient,
    make_charge: ChargeMaker,
    receiver: WebhookReceiver,
    tmp_path: Path,
) -> None:
    # One sender sending one webhook after another never gets past the first.
    receiver.answer_together(4, timeout=5)
    references = [make_charge()["reference"] for _ in range(4)]
    environment = sender_environment(PSP_SENDER_THREADS="4", PSP_WEBHOOK_TIMEOUT_SECONDS="10")
    log = tmp_path / "sender.log"

    with sender_process(environment, log):
        assert wait_until(lambda: len(receiver.received()) >= 4, 15, 0.02), log_tail(log)

    assert sorted(w.event["paymentRef"] for w in receiver.accepted()) == sorted(references)
    assert [d["attempts"] for r in references for d in admin_deliveries(client, r)] == [1] * 4


def test_threads_share_a_backlog_and_send_every_webhook_exactly_once(
    sender_environment: SenderEnvironment,
    client: FlaskClient,
    make_charge: ChargeMaker,
    receiver: WebhookReceiver,
    tmp_path: Path,
) -> None:
    receiver.hold_seconds = 0.02
    references = [make_charge()["reference"] for _ in range(120)]
    health_dir = tmp_path / "health"
    environment = sender_environment(PSP_SENDER_THREADS="8", PAYKIT_HEALTH_DIR=str(health_dir))
    log = tmp_path / "sender.log"

    with sender_process(environment, log):
        assert wait_until(lambda: len(receiver.received()) >= 120, 30, 0.05), log_tail(log)
        health = check(health_dir / "psp-webhook-sender.json", max_age=30, live_only=False)
        assert health == (True, "psp-webhook-sender: ready")

    received = receiver.received()
    assert sorted(w.event["paymentRef"] for w in received) == sorted(references)
    assert len({w.event["id"] for w in received}) == 120
    assert all(w.answered == 200 for w in received)
    assert receiver.peak_in_flight > 1  # the loops really did send side by side
    deliveries = [d for r in references for d in admin_deliveries(client, r)]
    assert {(d["state"], d["attempts"]) for d in deliveries} == {("delivered", 1)}


def test_sigterm_lets_every_thread_finish_its_attempt_in_hand_then_the_process_exits(
    sender_environment: SenderEnvironment,
    client: FlaskClient,
    make_charge: ChargeMaker,
    receiver: WebhookReceiver,
    tmp_path: Path,
) -> None:
    receiver.hold_seconds = 1.0
    references = [make_charge()["reference"] for _ in range(4)]
    environment = sender_environment(PSP_SENDER_THREADS="4", PSP_SENDER_POLL_SECONDS="30")
    log = tmp_path / "sender.log"

    def all_in_hand() -> bool:
        return states(client, references) == ["delivering"] * 4

    with sender_process(environment, log) as sender:
        assert wait_until(all_in_hand, 15, 0.02), log_tail(log)
        stopping_at = time.monotonic()
        sender.send_signal(signal.SIGTERM)
        assert sender.wait(timeout=15) == 0, log_tail(log)
        stopped_after = time.monotonic() - stopping_at

    assert stopped_after < 10  # the 1 s answers in hand, not the 30 s poll
    assert states(client, references) == ["delivered"] * 4
    assert sorted(w.event["paymentRef"] for w in receiver.accepted()) == sorted(references)
    assert all(w.signature_valid for w in receiver.received())
    assert log_tail(log).count('"event": "webhook_delivered"') == 4
    assert "whsec_" not in log_tail(log)


def test_an_idle_sender_with_a_long_poll_stops_within_seconds(
    sender_environment: SenderEnvironment, tmp_path: Path
) -> None:
    health_dir = tmp_path / "health"
    environment = sender_environment(
        PSP_SENDER_POLL_SECONDS="30", PAYKIT_HEALTH_DIR=str(health_dir)
    )
    log = tmp_path / "sender.log"

    with sender_process(environment, log) as sender:
        health_file = health_dir / "psp-webhook-sender.json"
        assert wait_until(health_file.exists, 15, 0.05), log_tail(log)
        stopping_at = time.monotonic()
        sender.send_signal(signal.SIGTERM)
        assert sender.wait(timeout=15) == 0, log_tail(log)

    assert time.monotonic() - stopping_at < 10  # not the 30 s poll
