"""One outbound webhook call, made so a merchant's URL cannot turn it against the platform.

- The name is resolved once, every address it gives must pass the target policy, and the
  socket is opened to one of those addresses; the URL's name is only the Host header and the
  TLS server name (certificates are still checked against it). A name that resolved to a
  public address at registration and to a private one now is refused here, before any
  connection.
- No redirect is followed (http.client follows none): a 3xx is a failed attempt.
- Time is bounded as a whole: a watchdog shuts the socket at the deadline, so a server
  dripping a byte a second cannot hold a dispatcher thread past it. Name resolution gets the
  same deadline.
- At most ``EXCERPT_BYTES`` of the answer are read, and only our own headers are sent: no
  proxy from the environment, no cookie, no platform credential.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from webhook_service.adapters.message_repository import AttemptResult
from webhook_service.domain.outbound_targets import (
    IPAddress,
    TargetPolicy,
    TargetRefused,
    WebhookUrl,
    literal_address,
    parse_webhook_url,
)

EXCERPT_BYTES: Final = 1024
USER_AGENT: Final = "payments-platform-webhooks/1"

Resolver = Callable[[str, int], Sequence[IPAddress]]


def system_resolver(host: str, port: int) -> Sequence[IPAddress]:
    literal = literal_address(host)
    if literal is not None:
        return (literal,)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):  # no such name, or one IDNA cannot encode
        return ()
    addresses: list[IPAddress] = []
    for info in infos:
        address = literal_address(str(info[4][0]).split("%", 1)[0])
        if address is not None:
            addresses.append(address)
    return tuple(addresses)


class _Deadline(Exception):
    pass


def _resolve_within(
    resolver: Resolver, host: str, port: int, seconds: float
) -> Sequence[IPAddress]:
    """getaddrinfo has no timeout of its own: wait for it in a thread, at most ``seconds``."""
    found: list[Sequence[IPAddress]] = []
    thread = threading.Thread(target=lambda: found.append(resolver(host, port)), daemon=True)
    thread.start()
    thread.join(max(seconds, 0.0))
    if not found:
        raise _Deadline
    return found[0]


def _excerpt(raw: bytes) -> str:
    return raw[:EXCERPT_BYTES].decode("utf-8", errors="replace").replace("\x00", "\ufffd")


@dataclass
class PinnedHttpSender:
    policy: TargetPolicy
    timeout_seconds: float
    resolver: Resolver = system_resolver
    tls: ssl.SSLContext = field(default_factory=ssl.create_default_context)

    def send(self, url: str, headers: Mapping[str, str], body: bytes) -> AttemptResult:
        started = time.monotonic()
        deadline = started + self.timeout_seconds
        aborted = threading.Event()

        def result(
            error: str | None, status: int | None = None, excerpt: str | None = None
        ) -> AttemptResult:
            return AttemptResult(
                succeeded=error is None,
                http_status=status,
                latency_ms=round((time.monotonic() - started) * 1000),
                error=error,
                response_excerpt=excerpt,
            )

        try:
            target, addresses = self.vet(url, within_seconds=self.timeout_seconds)
        except TargetRefused as refused:
            return result(refused.code, excerpt=refused.detail[:EXCERPT_BYTES])
        address = addresses[0]
        conn = self._connection(target, address, deadline - time.monotonic())
        watchdog = threading.Timer(max(deadline - time.monotonic(), 0.0), _abort, (conn, aborted))
        watchdog.start()
        try:
            conn.request(
                "POST",
                target.target,
                body=body,
                headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
            )
            response = conn.getresponse()
            excerpt = _excerpt(response.read(EXCERPT_BYTES))
        except TimeoutError:
            return result("timeout")
        except ssl.SSLError:
            return result("timeout" if aborted.is_set() else "tls_failed")
        except (OSError, http.client.HTTPException):
            return result("timeout" if aborted.is_set() else "connection_failed")
        finally:
            watchdog.cancel()
            conn.close()
        if 200 <= response.status < 300:
            return result(None, response.status, excerpt)
        if 300 <= response.status < 400:
            return result("redirect_not_followed", response.status, excerpt)
        return result("http_status", response.status, excerpt)

    def vet(self, url: str, *, within_seconds: float) -> tuple[WebhookUrl, tuple[IPAddress, ...]]:
        """The parsed URL and the addresses it may be reached at now, or TargetRefused."""
        target = parse_webhook_url(url)
        try:
            addresses = _resolve_within(self.resolver, target.host, target.port, within_seconds)
        except _Deadline:
            detail = f"{target.host!r} did not resolve in time."
            raise TargetRefused("unresolvable_host", detail) from None
        return target, self.policy.check_all(target.host, addresses)

    def _connection(
        self, target: WebhookUrl, address: IPAddress, timeout: float
    ) -> http.client.HTTPConnection:
        timeout = max(timeout, 0.001)
        conn: http.client.HTTPConnection
        if target.scheme == "https":
            conn = http.client.HTTPSConnection(
                target.host, target.port, timeout=timeout, context=self.tls
            )
        else:
            conn = http.client.HTTPConnection(target.host, target.port, timeout=timeout)

        def connect_to_checked_address(
            _: tuple[str, int], timeout: float | None = None, source: object = None
        ) -> socket.socket:
            return socket.create_connection((str(address), target.port), timeout)

        conn._create_connection = connect_to_checked_address  # type: ignore[attr-defined]
        return conn


def _abort(conn: http.client.HTTPConnection, aborted: threading.Event) -> None:
    aborted.set()
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
