"""One PSP client serves the charger's concurrent handlers: every call in flight at once has a
connection of its own, and keeps it for the next call (a real HTTP server on 127.0.0.1)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from payment_service.adapters.psp import MAX_CONCURRENT_CALLS, HttpPaymentProvider
from payment_service.domain.payment import Payment


class MeetingPsp(ThreadingHTTPServer):
    """Answers a charge only once ``parties`` charges are in flight at once."""

    daemon_threads = True

    def __init__(self, parties: int) -> None:
        super().__init__(("127.0.0.1", 0), _ChargeAnswer)
        self.meeting = threading.Barrier(parties, timeout=10)
        self.connections: set[int] = set()  # the client's port of each connection seen


class _ChargeAnswer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real PSP
    server: MeetingPsp

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.connections.add(self.client_address[1])
        self.server.meeting.wait()
        answer = json.dumps({**body, "id": f"ch_{body['reference']}", "status": "processing"})
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer.encode())

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def psp() -> Iterator[MeetingPsp]:
    server = MeetingPsp(MAX_CONCURRENT_CALLS)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_as_many_charges_as_the_charger_may_run_are_in_flight_at_once_on_kept_connections(
    psp: MeetingPsp,
) -> None:
    client = HttpPaymentProvider(f"http://127.0.0.1:{psp.server_port}", timeout_seconds=10)
    payments = [
        Payment(f"PAY_{n}", "MER_1", 3000, "EUR", "pm_card_visa", psp_reference=None)
        for n in range(MAX_CONCURRENT_CALLS)
    ]
    try:
        with ThreadPoolExecutor(MAX_CONCURRENT_CALLS) as threads:
            first = list(threads.map(client.charge, payments))
            connections_after_first = set(psp.connections)
            second = list(threads.map(client.charge, payments))
    finally:
        client.close()
    assert [r.reference for r in first] == [r.reference for r in second] == [p.id for p in payments]
    assert not psp.meeting.broken
    assert len(connections_after_first) == MAX_CONCURRENT_CALLS
    assert psp.connections == connections_after_first  # the second round opened none
