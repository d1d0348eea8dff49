"""Helpers for tests that drive the simulator for real: a local webhook receiver that verifies
signatures, a threaded HTTP server, senders run in threads or as their own process. Imported by
test suites only."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import httpx
import redis
from flask import Flask
from flask.testing import FlaskClient
from werkzeug import Request, Response
from werkzeug.serving import BaseWSGIServer, make_server

from paykit.auth.webhook_signature import SIGNATURE_HEADER, InvalidSignature, verify
from psp_simulator.bootstrap import build_delivery_loops
from psp_simulator.entrypoints.app import create_app
from psp_simulator.service_layer.delivery_loops import DeliveryLoops
from psp_simulator.settings import SenderSettings, SimulatorSettings

SENDER_COMMAND: Final = (sys.executable, "-m", "psp_simulator.entrypoints.webhook_sender")
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Any]
# Makes a charge with a fresh key and reference and returns the response body.
ChargeMaker = Callable[..., dict[str, Any]]


def payout_body(
    batch_id: str, bank_account: str = "acct_ok", *, attempt: int = 1, amount: int = 12_345
) -> dict[str, Any]:
    return {
        "batch_id": batch_id,
        "attempt": attempt,
        "merchant_id": "MER_payouts",
        "amount": amount,
        "currency": "EUR",
        "bank_account": bank_account,
    }


def payout_key(body: dict[str, Any]) -> dict[str, str]:
    """The Idempotency-Key header a payout must carry: <batch_id>:<attempt>."""
    return {"Idempotency-Key": f"{body['batch_id']}:{body['attempt']}"}


def charge_body(
    reference: str, payment_method: str = "pm_card_visa", amount: int = 3000
) -> dict[str, Any]:
    return {
        "amount": amount,
        "currency": "EUR",
        "payment_method": payment_method,
        "reference": reference,
    }


@contextmanager
def serving(wsgi_app: WsgiApp | Flask) -> Iterator[str]:
    """Serve `wsgi_app` on a free local port in a thread; yields its base URL."""
    server: BaseWSGIServer = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="test-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@dataclass
class AppFactory:
    """Builds apps sharing one Redis and one prefix, as several web workers would."""

    settings: SimulatorSettings
    client: redis.Redis
    stopping: threading.Event = field(default_factory=threading.Event)

    def __call__(self, **overrides: Any) -> Flask:
        settings = replace(self.settings, **overrides)
        return create_app(settings, redis_client=self.client, stopping=self.stopping)


@dataclass(frozen=True)
class ReceivedWebhook:
    body: bytes
    signature_valid: bool
    content_type: str | None
    answered: int
    at: float
    path: str = ""

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


class WebhookReceiver:
    """Stands in for the platform's webhook endpoint: verifies, records, answers as scripted.

    `answers` are the statuses given to the first requests, in order, then 200; `always`
    overrides them; `hold_seconds` makes every answer slow; `answer_together` holds each
    request until that many are in at once. `peak_in_flight` is the most requests it was
    answering at the same moment.
    """

    def __init__(self, secrets: list[str | bytes]) -> None:
        self._secrets = secrets
        self._lock = threading.Lock()
        self._received: list[ReceivedWebhook] = []
        self._company: threading.Barrier | None = None
        self._in_flight = 0
        self.peak_in_flight = 0
        self.answers: list[int] = []
        self.always: int | None = None
        self.hold_seconds = 0.0
        self.url = ""

    def answer_together(self, requests: int, *, timeout: float) -> None:
        """Hold each request until `requests` are in; one kept waiting past `timeout` (and every
        request after it) is answered 503, as a sender that sends one at a time would see."""
        self._company = threading.Barrier(requests, timeout=timeout)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        with self._lock:
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
        try:
            return self._answer(Request(environ))(environ, start_response)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _answer(self, request: Request) -> Response:
        body = request.get_data()
        try:
            verify(body, request.headers.get(SIGNATURE_HEADER), self._secrets)
            valid = True
        except InvalidSignature:
            valid = False
        if self.hold_seconds:
            time.sleep(self.hold_seconds)
        kept_waiting = not self._met_company()
        with self._lock:
            if kept_waiting:
                status = 503
            elif self.always is not None:
                status = self.always
            else:
                status = self.answers.pop(0) if self.answers else 200
            self._received.append(
                ReceivedWebhook(body, valid, request.mimetype, status, time.time(), request.path)
            )
        return Response(status=status)

    def _met_company(self) -> bool:
        if self._company is None:
            return True
        try:
            self._company.wait()
        except threading.BrokenBarrierError:
            return False
        return True

    def received(self, reference: str | None = None) -> list[ReceivedWebhook]:
        with self._lock:
            items = list(self._received)
        if reference is None:
            return items
        return [item for item in items if item.event.get("paymentRef") == reference]

    def received_for_payout(self, payout_id: str) -> list[ReceivedWebhook]:
        return [item for item in self.received() if item.event.get("payout_id") == payout_id]

    def accepted(self, reference: str | None = None) -> list[ReceivedWebhook]:
        return [item for item in self.received(reference) if 200 <= item.answered < 300]


class SenderRunner:
    """Runs senders in threads, each as its process would (its loops and listener), and stops
    them (each loop finishing its attempt in hand)."""

    def __init__(self, settings: SenderSettings, client: redis.Redis) -> None:
        self.settings = settings
        self._client = client
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._http_clients: list[httpx.Client] = []
        self._errors: list[BaseException] = []

    def build(self, **overrides: Any) -> DeliveryLoops:
        settings = replace(self.settings, **overrides)
        http_client = httpx.Client(timeout=settings.http_timeout_seconds)
        self._http_clients.append(http_client)
        return build_delivery_loops(settings, client=self._client, http_client=http_client)

    def start(self, count: int = 1, **overrides: Any) -> None:
        for _ in range(count):
            sender = self.build(**overrides)
            thread = threading.Thread(target=self._run, args=(sender,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        for http_client in self._http_clients:
            http_client.close()
        if self._errors:
            raise self._errors[0]

    def _run(self, sender: DeliveryLoops) -> None:
        try:
            sender.run(self._stop)
        except BaseException as error:  # handed to the test thread by stop()
            self._errors.append(error)


def admin_deliveries(client: FlaskClient, reference: str) -> list[dict[str, Any]]:
    """Every delivery of one payment (or payout) as the admin API shows it, by due time."""
    response = client.get("/_admin/deliveries", query_string={"reference": reference})
    assert response.status_code == 200, response.json
    data: list[dict[str, Any]] = (response.json or {})["data"]
    return data


def seconds_of(shown: str) -> float:
    """A time as the API shows it (`2026-01-01T12:00:00.200000Z`), in seconds since the epoch."""
    return datetime.fromisoformat(shown).timestamp()


def process_environment(redis_url: str, key_prefix: str, **variables: str) -> dict[str, str]:
    """A process's environment with the test's own settings only: none of the PSP_ and LOG_
    variables a cluster's env file may have put in the test's environment."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("PSP_", "LOG_"))}
    return {**inherited, "REDIS_URL": redis_url, "PSP_KEY_PREFIX": key_prefix, **variables}


def stop_process(process: "subprocess.Popen[bytes]", timeout: float = 15) -> int:
    """SIGTERM, then the exit status; killed (and the timeout raised) if it will not stop."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
        raise


def log_tail(path: Path) -> str:
    return path.read_text(errors="replace")[-4000:]


@contextmanager
def sender_process(environ: dict[str, str], log: Path) -> Iterator["subprocess.Popen[bytes]"]:
    """The webhook sender as production runs it, `python -m`, its output in `log`."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            SENDER_COMMAND, env=environ, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        yield process
    finally:
        stop_process(process)
