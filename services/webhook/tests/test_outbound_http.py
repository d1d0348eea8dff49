"""One outbound call: to a checked address only, no redirects, bounded in time and bytes.

Real sockets to receivers on 127.0.0.1 (allowlisted where a test needs to reach one); no
cluster needed.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from webhook_service.adapters.outbound_http import (
    EXCERPT_BYTES,
    PinnedHttpSender,
    system_resolver,
)
from webhook_service.domain.outbound_targets import IPAddress, TargetPolicy, TargetRefused
from webhook_service.service_layer.endpoints import VET_WITHIN_SECONDS

LOOPBACK = ipaddress.ip_address("127.0.0.1")
LOCAL_ONLY = TargetPolicy((ipaddress.ip_network("127.0.0.1/32"),))
HEADERS = {"webhook-id": "msg_1", "webhook-timestamp": "1", "webhook-signature": "v1,x"}
Receivers = Callable[[], Any]


def resolving(answers: dict[str, list[IPAddress]]) -> Callable[[str, int], list[IPAddress]]:
    return lambda host, port: answers.get(host, [])


def test_a_call_reaches_the_named_host_with_only_our_headers(receiver: Receivers) -> None:
    merchant = receiver()
    sender = PinnedHttpSender(
        LOCAL_ONLY, 5.0, resolver=resolving({"hooks.merchant.test": [LOOPBACK]})
    )

    result = sender.send(f"http://hooks.merchant.test:{merchant.port}/in?x=1", HEADERS, b"{}")

    assert (result.succeeded, result.http_status, result.error) == (True, 200, None)
    (call,) = merchant.calls
    assert call.path == "/in?x=1"
    assert call.headers["host"] == f"hooks.merchant.test:{merchant.port}"
    assert set(call.headers) == {
        "host",
        "accept-encoding",
        "content-length",
        "content-type",
        "user-agent",
        *HEADERS,
    }


def test_loopback_is_not_called_without_the_allowlist(receiver: Receivers) -> None:
    merchant = receiver()
    sender = PinnedHttpSender(TargetPolicy(), 5.0)

    for url in (merchant.url, f"http://localhost:{merchant.port}/hooks"):
        result = sender.send(url, HEADERS, b"{}")
        assert (result.succeeded, result.error) == (False, "target_not_allowed")
    assert merchant.calls == []


def test_a_name_that_turns_private_after_registration_is_refused_at_connect_time(
    receiver: Receivers,
) -> None:
    merchant = receiver()
    answers = {"rebind.merchant.test": [ipaddress.ip_address("93.184.216.34")]}
    sender = PinnedHttpSender(TargetPolicy(), 5.0, resolver=resolving(answers))
    url = f"http://rebind.merchant.test:{merchant.port}/hooks"
    sender.vet(url, within_seconds=1.0)  # what registration saw

    answers["rebind.merchant.test"] = [LOOPBACK]
    result = sender.send(url, HEADERS, b"{}")

    assert (result.succeeded, result.error) == (False, "target_not_allowed")
    assert "127.0.0.1" in (result.response_excerpt or "")
    assert merchant.calls == []


def test_a_redirect_is_not_followed(receiver: Receivers) -> None:
    merchant, elsewhere = receiver(), receiver()
    merchant.answer = (302, {"Location": elsewhere.url}, b"")

    result = PinnedHttpSender(LOCAL_ONLY, 5.0).send(merchant.url, HEADERS, b"{}")

    assert (result.succeeded, result.http_status, result.error) == (
        False,
        302,
        "redirect_not_followed",
    )
    assert len(merchant.calls) == 1
    assert elsewhere.calls == []


def test_a_slow_answer_is_cut_off_at_the_timeout(receiver: Receivers) -> None:
    merchant = receiver()
    merchant.delay = 3.0
    started = time.monotonic()

    result = PinnedHttpSender(LOCAL_ONLY, 0.5).send(merchant.url, HEADERS, b"{}")

    assert (result.succeeded, result.error) == (False, "timeout")
    assert time.monotonic() - started < 1.5


def test_only_the_first_kibibyte_of_an_answer_is_read(receiver: Receivers) -> None:
    merchant = receiver()
    merchant.answer = (500, {}, b"x" * (1024 * 1024))

    result = PinnedHttpSender(LOCAL_ONLY, 5.0).send(merchant.url, HEADERS, b"{}")

    assert (result.succeeded, result.http_status, result.error) == (False, 500, "http_status")
    assert result.response_excerpt == "x" * EXCERPT_BYTES


def test_a_closed_port_is_a_failed_connection_and_a_bad_url_a_refusal() -> None:
    sender = PinnedHttpSender(LOCAL_ONLY, 2.0)

    assert sender.send("http://127.0.0.1:9/hooks", HEADERS, b"{}").error == "connection_failed"
    assert sender.send("gopher://127.0.0.1/", HEADERS, b"{}").error == "invalid_url"


def test_registration_vetting_refuses_what_the_call_would() -> None:
    sender = PinnedHttpSender(TargetPolicy(), 2.0)

    for url in ("http://169.254.169.254/latest/meta-data", "http://10.1.2.3/", "http://[::1]/"):
        with pytest.raises(TargetRefused) as refused:
            sender.vet(url, within_seconds=1.0)
        assert refused.value.code == "target_not_allowed"


def test_registration_waits_a_bounded_time_for_a_name_that_does_not_answer() -> None:
    """A registration is a merchant waiting on an HTTP answer: a resolver that hangs (a dead
    name server) costs it VET_WITHIN_SECONDS, then a refusal it can retry."""
    released = threading.Event()

    def hanging(host: str, port: int) -> list[IPAddress]:
        released.wait(30)
        return []

    sender = PinnedHttpSender(TargetPolicy(), 15.0, resolver=hanging)
    started = time.monotonic()
    try:
        with pytest.raises(TargetRefused) as refused:
            sender.vet("https://hooks.merchant.test/", within_seconds=VET_WITHIN_SECONDS)
    finally:
        released.set()

    assert refused.value.code == "unresolvable_host"
    assert "in time" in refused.value.detail
    assert VET_WITHIN_SECONDS <= time.monotonic() - started < VET_WITHIN_SECONDS + 1.0
    assert VET_WITHIN_SECONDS <= 2.0, "a merchant's registration must not wait longer"


def test_a_name_the_system_resolver_cannot_encode_does_not_resolve_rather_than_raise() -> None:
    assert tuple(system_resolver("a" * 64 + ".example", 443)) == ()
