"""The open-loop driver: ``POST /v1/payments`` at a fixed offered rate for a fixed duration.

Why asyncio and ``httpx.AsyncClient`` rather than locust or wrk: an open loop needs each request
sent at its scheduled time whatever the earlier ones are doing, and latency measured from that
scheduled time. One event loop firing a task per due request does exactly that with no worker
pool to exhaust (locust's users are closed loops, each waiting for its answer; wrk is closed loop
too), httpx is already the project's HTTP client, and the figures stay in Python for the JSON
report. The cost is the driver's own CPU on a shared machine: at a few hundred requests a second
one loop is far from its limit, and a send that starts late is still timed from its schedule, so
a slow driver shows as latency, never as a hidden stall.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx

from bench.merchants import Merchant
from bench.schedule import send_offsets
from bench.stats import LatencySummary

PAYMENT_BODY = {"amount": 1500, "currency": "EUR", "payment_method": "pm_card_visa"}
CREATED = 201


@dataclass(frozen=True)
class CreatedPayment:
    """A payment the platform answered 201 for, with the create's wall-clock times (epoch
    seconds), so the events the pipeline later publishes about it can be timed from it."""

    payment_id: str
    sent_at: float
    answered_at: float


@dataclass
class RateResult:
    """What one offered rate gave: counts, answers by status and the creates' latencies."""

    offered_rate: float
    seconds: float
    sent: int = 0
    answers: Counter[str] = field(default_factory=Counter)
    create_latencies: list[float] = field(default_factory=list)
    latest_send_lag: float = 0.0
    last_answer_after: float = 0.0
    started_at: float = 0.0
    created: list[CreatedPayment] = field(default_factory=list)

    @property
    def answered(self) -> int:
        """Requests that got any HTTP answer (a timeout or refused connection is not one)."""
        return sum(n for status, n in self.answers.items() if status.isdigit())

    @property
    def errors(self) -> dict[str, int]:
        """Everything but 201 Created, by status code or by the exception that stood for one."""
        return {status: n for status, n in sorted(self.answers.items()) if status != "201"}

    @property
    def created_per_second(self) -> float:
        """Creates over the time from the first send to the last answer (at least the offered
        duration): a pipeline that falls behind answers over longer than it was sent to."""
        return self.answers["201"] / max(self.seconds, self.last_answer_after)

    def create_latency(self) -> LatencySummary | None:
        return LatencySummary.of_seconds(self.create_latencies)


async def _create_once(
    client: httpx.AsyncClient, merchant: Merchant, start: float, due: float, result: RateResult
) -> None:
    """One create, timed from ``due`` (its scheduled send time), not from when it went out.

    The wall-clock times kept with the payment id are ``due`` and the answer moved onto
    ``result.started_at``'s clock, so the pipeline's latency counts from the schedule too.
    """
    try:
        answer = await client.post(
            "/v1/payments",
            json=PAYMENT_BODY,
            headers={
                "Authorization": f"Bearer {merchant.access_token}",
                "Idempotency-Key": uuid.uuid4().hex,
            },
        )
    except httpx.HTTPError as failure:
        result.answers[type(failure).__name__] += 1
        return
    answered_at = time.perf_counter()
    elapsed = answered_at - due
    result.last_answer_after = max(result.last_answer_after, answered_at - start)
    result.answers[str(answer.status_code)] += 1
    if answer.status_code == CREATED:
        result.create_latencies.append(elapsed)
        payment_id = _payment_id(answer)
        if payment_id is not None:
            result.created.append(
                CreatedPayment(
                    payment_id,
                    sent_at=result.started_at + (due - start),
                    answered_at=result.started_at + (answered_at - start),
                )
            )


def _payment_id(answer: httpx.Response) -> str | None:
    """The created payment's id, or None when the body does not carry one (a stand-in gateway)."""
    try:
        body = answer.json()
    except ValueError:
        return None
    payment_id = body.get("id") if isinstance(body, dict) else None
    return payment_id if isinstance(payment_id, str) else None


async def drive_rate(
    client: httpx.AsyncClient,
    merchants: list[Merchant],
    rate: float,
    seconds: float,
    drain_seconds: float,
) -> RateResult:
    """Send on schedule for ``seconds``, then wait up to ``drain_seconds`` for late answers.

    Requests go round the merchants in turn. Answers still missing after the drain are counted
    as ``unanswered``.
    """
    result = RateResult(offered_rate=rate, seconds=seconds)
    in_flight: set[asyncio.Task[None]] = set()
    start = time.perf_counter()
    result.started_at = time.time()
    for index, offset in enumerate(send_offsets(rate, seconds)):
        due = start + offset
        wait = due - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        result.latest_send_lag = max(result.latest_send_lag, time.perf_counter() - due)
        task = asyncio.create_task(
            _create_once(client, merchants[index % len(merchants)], start, due, result)
        )
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
        result.sent += 1
    if in_flight:
        _, pending = await asyncio.wait(set(in_flight), timeout=drain_seconds)
        for task in pending:
            task.cancel()
        if pending:
            result.answers["unanswered"] += len(pending)
            await asyncio.gather(*pending, return_exceptions=True)
    return result


def open_client(gateway_url: str, timeout: float) -> httpx.AsyncClient:
    """A client with no connection cap worth the name, so requests never queue inside the driver
    waiting for a connection (that would be a closed loop by another name)."""
    return httpx.AsyncClient(
        base_url=gateway_url,
        timeout=timeout,
        limits=httpx.Limits(max_connections=2000, max_keepalive_connections=200),
    )
