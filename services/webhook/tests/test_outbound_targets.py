"""Which URLs and addresses outbound webhooks may reach (no cluster needed)."""

from __future__ import annotations

import ipaddress

import pytest

from webhook_service.domain.outbound_targets import (
    TargetPolicy,
    TargetRefused,
    parse_networks,
    parse_webhook_url,
)

PUBLIC = TargetPolicy()


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.5.6.7",
        "::1",
        "169.254.169.254",
        "169.254.1.1",
        "fe80::1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "100.64.0.1",
        "fd00:ec2::254",
        "fc00::5",
        "0.0.0.0",  # noqa: S104 (an address refused, not bound)
        "224.0.0.1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    with pytest.raises(TargetRefused) as refused:
        PUBLIC.check(ipaddress.ip_address(address))

    assert refused.value.code == "target_not_allowed"


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"])
def test_public_addresses_pass(address: str) -> None:
    PUBLIC.check(ipaddress.ip_address(address))


def test_an_allowlisted_network_passes_and_nothing_beside_it() -> None:
    policy = TargetPolicy(parse_networks(["127.0.0.1/32", "10.9.0.0/16"]))

    policy.check(ipaddress.ip_address("127.0.0.1"))
    policy.check(ipaddress.ip_address("10.9.8.7"))
    with pytest.raises(TargetRefused):
        policy.check(ipaddress.ip_address("127.0.0.2"))
    with pytest.raises(TargetRefused):
        policy.check(ipaddress.ip_address("169.254.169.254"))


def test_a_name_is_refused_when_any_of_its_addresses_is_not_public() -> None:
    mixed = [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("10.0.0.1")]

    with pytest.raises(TargetRefused) as refused:
        PUBLIC.check_all("mixed.example", mixed)
    assert "10.0.0.1" in refused.value.detail
    with pytest.raises(TargetRefused) as unresolved:
        PUBLIC.check_all("nowhere.example", [])
    assert unresolved.value.code == "unresolvable_host"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "https://user:pw@example.com/hook",
        "https://example.com/hook#frag",
        "https:///hook",
        "https://example.com:99999/hook",
        "https://exa mple.com/hook",
        "https://example.com/" + "a" * 2048,
    ],
)
def test_urls_that_are_not_plain_http_are_refused(url: str) -> None:
    with pytest.raises(TargetRefused) as refused:
        parse_webhook_url(url)

    assert refused.value.code == "invalid_url"


@pytest.mark.parametrize(
    "host",
    [
        "a..b",
        "a" * 64 + ".example",
        "-shop.example",
        "shop-.example",
        "%41",
        "sh\u00f6p..example",
        "\ud800",
        "*.example",
        "shop.example\\x",
        "shop.example1",  # no top-level domain has a digit: a lookup would wait for nothing
        "127.1",  # the short forms the C resolver reads as addresses
        "2130706433",
    ],
)
def test_a_host_that_can_be_neither_an_address_nor_a_name_is_refused_without_a_lookup(
    host: str,
) -> None:
    with pytest.raises(TargetRefused) as refused:
        parse_webhook_url(f"https://{host}/hooks")

    assert refused.value.code == "invalid_url"


@pytest.mark.parametrize(
    "host",
    [
        "shop.example",
        "b\u00fccher.example",
        "_hooks.shop.example",
        "xn--bcher-kva.example",
        "shop.xn--p1ai",
        "localhost",
    ],
)
def test_names_dns_can_look_up_are_accepted_as_they_were_typed(host: str) -> None:
    assert parse_webhook_url(f"https://{host}/hooks").host == host


def test_a_url_keeps_its_name_for_the_host_header_and_its_path_and_query() -> None:
    url = parse_webhook_url("https://Hooks.Example.com:8443/in/coming?src=pay")

    assert (url.host, url.port, url.target) == ("hooks.example.com", 8443, "/in/coming?src=pay")
    assert url.host_header == "hooks.example.com:8443"
    assert parse_webhook_url("http://[::1]/").host_header == "[::1]"


def test_a_bad_allowlist_entry_is_named() -> None:
    with pytest.raises(ValueError, match=r"'10\.0\.0\.1/8'"):
        parse_networks(["10.0.0.1/8"])
