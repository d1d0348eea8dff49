"""Helpers for tests that drive the simulator for real: a local webhook receiver that verifies
signatures, a threaded HTTP server, and senders run in threads. Imported by test suites only."""

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import redis
from flask import Flask
from werkzeug import Request, Response
from werkzeug.serving import BaseWSGIServer, make_server

from paykit.auth.webhook_signature import SIGNATURE_HEADER, InvalidSignature, verify
from psp_simulator.bootstrap import build_sender
from psp_simulator.entrypoints.app import create_app
from psp_simulator.service_layer.delivery import WebhookSender
from psp_simulator.settings import SenderSettings, SimulatorSettings

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
    overrides them; `hold_seconds` makes every answer slow.
    """

    def __init__(self, secrets: list[str | bytes]) -> None:
        self._secrets = secrets
        self._lock = threading.Lock()
        self._received: list[ReceivedWebhook] = []
        self.answers: list[int] = []
        self.always: int | None = None
        self.hold_seconds = 0.0
        self.url = ""

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        body = request.get_data()
        try:
            verify(body, request.headers.get(SIGNATURE_HEADER), self._secrets)
            valid = True
        except InvalidSignature:
            valid = False
        if self.hold_seconds:
            time.sleep(self.hold_seconds)
        with self._lock:
            if self.always is not None:
                status = self.always
            else:
                status = self.answers.pop(0) if self.answers else 200
            self._received.append(
                ReceivedWebhook(body, valid, request.mimetype, status, time.time(), request.path)
            )
        return Response(status=status)(environ, start_response)

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
    """Runs senders in threads, and stops them (each finishing its attempt in hand)."""

    def __init__(self, settings: SenderSettings, client: redis.Redis) -> None:
        self.settings = settings
        self._client = client
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._http_clients: list[httpx.Client] = []
        self._errors: list[BaseException] = []

    def build(self, **overrides: Any) -> WebhookSender:
        settings = replace(self.settings, **overrides)
        http_client = httpx.Client(timeout=settings.http_timeout_seconds)
        self._http_clients.append(http_client)
        return build_sender(settings, client=self._client, http_client=http_client)

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

    def _run(self, sender: WebhookSender) -> None:
        try:
            sender.run(self._stop)
        except BaseException as error:  # handed to the test thread by stop()
            self._errors.append(error)
