"""A sender process's loops without Redis: the doorbell that wakes idle loops, the heartbeat
they share, and a failing loop stopping the others."""

import threading
import time
from collections.abc import Callable

import pytest

from psp_simulator.domain.delivery import (
    AttemptResult,
    ClaimedDelivery,
    DeliveryState,
    RetryPolicy,
)
from psp_simulator.domain.webhooks import WebhookTarget
from psp_simulator.service_layer.delivery import WebhookSender
from psp_simulator.service_layer.delivery_loops import DeliveryLoops, EveryLoopHeartbeat
from psp_simulator.service_layer.doorbell import Doorbell


def waiting(bell: Doorbell, seconds: float, woke: list[bool]) -> threading.Thread:
    thread = threading.Thread(target=lambda: woke.append(bell.wait(seconds)))
    thread.start()
    return thread


def test_a_ring_wakes_a_waiting_loop_long_before_its_wait_is_up() -> None:
    bell, woke = Doorbell(), list[bool]()
    started = time.monotonic()
    loop = waiting(bell, 30, woke)

    bell.ring()
    loop.join(timeout=10)

    assert woke == [True]
    assert time.monotonic() - started < 10


def test_a_ring_before_the_wait_is_kept_for_it_and_wakes_one_wait_only() -> None:
    bell = Doorbell()
    bell.ring()

    assert bell.wait(30)
    assert not bell.wait(0.01)


def test_rings_nobody_waited_for_are_kept_one_per_loop_at_most() -> None:
    bell = Doorbell(keep=2)
    for _ in range(5):
        bell.ring()

    assert [bell.wait(0) for _ in range(3)] == [True, True, False]


def test_unrung_the_wait_lasts_its_whole_time() -> None:
    started = time.monotonic()

    assert not Doorbell().wait(0.05)
    assert time.monotonic() - started >= 0.05


@pytest.mark.parametrize("wake", [Doorbell.ring_everyone, Doorbell.close])
def test_ringing_everyone_or_closing_wakes_every_waiting_loop(
    wake: Callable[[Doorbell], None],
) -> None:
    bell, woke = Doorbell(keep=3), list[bool]()
    loops = [waiting(bell, 30, woke) for _ in range(3)]

    wake(bell)
    for loop in loops:
        loop.join(timeout=10)

    assert woke == [True, True, True]


def test_a_closed_doorbell_never_makes_a_loop_wait_again() -> None:
    bell = Doorbell()
    bell.close()

    assert bell.wait(30) and bell.wait(30)


def test_the_process_beats_only_once_every_loop_has_come_round() -> None:
    beats: list[int] = []
    heartbeat = EveryLoopHeartbeat(3, lambda: beats.append(len(beats)))
    first, second, third = (heartbeat.of_loop(n) for n in range(3))

    for loop_came_round in (first, first, second):
        loop_came_round()
    assert beats == []
    third()
    assert beats == [0]
    for loop_came_round in (first, second, second):
        loop_came_round()
    assert beats == [0]  # the third loop has not come round again: stuck, as far as anyone knows
    third()
    assert beats == [0, 1]


class BrokenQueue:
    """A queue whose claims fail with an error no loop knows how to wait out."""

    def claim(self, *, now: float, lease_until: float) -> ClaimedDelivery | None:
        raise RuntimeError("the queue is broken")

    def next_due_at(self) -> float | None:
        return None

    def finish(
        self,
        claimed: ClaimedDelivery,
        *,
        result: AttemptResult,
        state: DeliveryState,
        next_attempt_at: float | None,
        now: float,
    ) -> bool:
        raise AssertionError("nothing was claimed")


class UnusedTransport:
    def send(self, body: bytes, target: WebhookTarget) -> AttemptResult:
        raise AssertionError("nothing was claimed")


class SilentNotices:
    def listen(
        self,
        stop: threading.Event,
        on_queued: Callable[[], None],
        on_maybe_missed: Callable[[], None],
    ) -> None:
        stop.wait()


def test_a_loop_failing_stops_every_loop_and_the_error_reaches_the_caller() -> None:
    sender = WebhookSender(
        queue=BrokenQueue(),
        transport=UnusedTransport(),
        policy=RetryPolicy(base_seconds=1, cap_seconds=1, horizon_seconds=10),
        clock=time.time,
        roll=lambda: 0.0,
        lease_seconds=5,
        poll_interval_seconds=30,
    )
    stop = threading.Event()

    with pytest.raises(RuntimeError, match="the queue is broken"):
        DeliveryLoops(sender, SilentNotices(), threads=3).run(stop)

    assert stop.is_set()
    assert [t.name for t in threading.enumerate() if t.name.startswith("webhook-")] == []
