"""A merchant's endpoint for tests: an HTTP receiver on 127.0.0.1 that checks signatures.

Shared by the service's tests and the end-to-end journeys. It verifies with the
``standardwebhooks`` package (a development dependency, imported when asked to verify), so
the platform's signatures are judged by a verifier others wrote.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    """One call a test receiver got, with what the reference verifier made of it."""

    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic()
    path: str

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def verifies_with(self, secret: str) -> bool:
        from standardwebhooks import Webhook, WebhookVerificationError

        try:
            Webhook(secret).verify(self.body, self.headers)
        except WebhookVerificationError:
            return False
        return True


class Receiver:
    """A merchant's endpoint on 127.0.0.1: answers as told, records every call, can go down.

    ``answer`` is (status, extra headers, body); ``delay`` seconds pass before answering (a
    slow merchant). ``down()`` closes the port (connections refused) and ``up()`` opens it
    again on the same port.
    """

    def __init__(self) -> None:
        self.calls: list[Received] = []
        self.answer: tuple[int, dict[str, str], bytes] = (200, {}, b'{"ok": true}')
        self.delay = 0.0
        self._lock = threading.Lock()
        self._server: Any = None
        self.port = 0
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.calls.append(
                        Received(
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            time.monotonic(),
                            self.path,
                        )
                    )
                if receiver.delay:
                    time.sleep(receiver.delay)  # the merchant's slowness itself, not a wait
                status, headers, answer = receiver.answer
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                return None

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def ids(self) -> list[str]:
        with self._lock:
            return [call.webhook_id for call in self.calls]
