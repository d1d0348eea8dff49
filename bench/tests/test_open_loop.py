import asyncio
import time

import httpx

from bench.driver import drive_rate
from bench.merchants import Merchant

MERCHANTS = [Merchant("MER_a", "token-a"), Merchant("MER_b", "token-b")]


def _client(handler: httpx.AsyncBaseTransport) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url="http://gateway.test", transport=handler)


class SlowGateway(httpx.AsyncBaseTransport):
    """Answers every create after ``delay`` seconds, recording when each request arrived."""

    def __init__(self, delay: float, status: int = 201) -> None:
        self.delay = delay
        self.status = status
        self.arrivals: list[float] = []
        self.tokens: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.arrivals.append(time.perf_counter())
        self.tokens.append(request.headers["Authorization"])
        await asyncio.sleep(self.delay)
        return httpx.Response(self.status, json={})


def test_sends_keep_their_schedule_while_answers_are_slow() -> None:
    gateway = SlowGateway(delay=0.5)

    async def run() -> float:
        async with _client(gateway) as client:
            began = time.perf_counter()
            result = await drive_rate(client, MERCHANTS, rate=20, seconds=0.5, drain_seconds=5)
            assert result.sent == 10
            assert result.answers == {"201": 10}
            return began

    began = asyncio.run(run())

    assert max(gateway.arrivals) - began < 0.5
    assert gateway.tokens == ["Bearer token-a", "Bearer token-b"] * 5


def test_latency_counts_from_the_scheduled_send_and_answers_past_the_drain_are_unanswered() -> None:
    async def run() -> tuple[int, dict[str, int], list[float]]:
        async with _client(SlowGateway(delay=0.2)) as client:
            answered = await drive_rate(client, MERCHANTS, rate=10, seconds=0.3, drain_seconds=5)
        async with _client(SlowGateway(delay=5)) as client:
            stalled = await drive_rate(client, MERCHANTS, rate=10, seconds=0.3, drain_seconds=0.1)
        return stalled.sent, dict(stalled.answers), answered.create_latencies

    sent, stalled_answers, latencies = asyncio.run(run())

    assert all(0.2 <= latency < 0.4 for latency in latencies)
    assert sent == 3
    assert stalled_answers == {"unanswered": 3}


def test_answers_other_than_created_are_errors_by_status_and_give_no_latency() -> None:
    async def run() -> tuple[dict[str, int], int]:
        async with _client(SlowGateway(delay=0, status=429)) as client:
            result = await drive_rate(client, MERCHANTS, rate=10, seconds=0.2, drain_seconds=1)
        return result.errors, len(result.create_latencies)

    assert asyncio.run(run()) == ({"429": 2}, 0)
