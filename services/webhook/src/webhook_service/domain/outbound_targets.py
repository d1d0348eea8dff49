"""Where outbound webhooks may go: public addresses only, unless the operator names a network.

A merchant types the URL, so without this rule the platform would call its own database,
the cloud's metadata service or a neighbour's admin port on the merchant's behalf. The rule is
applied twice: when an endpoint is registered (a clear refusal for the merchant) and to the
addresses a name resolves to at every connection (a name can change what it resolves to after
registration), and the connection goes to an address that passed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

SCHEMES: Final = frozenset({"http", "https"})
MAX_URL_LENGTH: Final = 2048
MAX_NAME_LENGTH: Final = 253
_LABEL: Final = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")
_TOP_LEVEL_DOMAIN: Final = re.compile(r"[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59}(?<!-)")
# Cloud metadata services that answer on ordinary-looking addresses (AWS/GCP/Azure's
# 169.254.169.254 is link-local already; these are not all caught by the range checks).
METADATA_ADDRESSES: Final = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)


class TargetRefused(ValueError):
    """A URL or address outbound webhooks must not reach; ``code`` is the stable reason."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class WebhookUrl:
    """A merchant's endpoint URL, parsed: what is connected to and what the Host header says."""

    url: str
    scheme: str
    host: str  # a name, or an address without brackets
    port: int
    target: str  # path and query, as sent on the request line

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def parse_webhook_url(url: str) -> WebhookUrl:
    """Refuse what is not a plain http(s) URL: credentials, fragments, odd ports, no host."""
    if len(url) > MAX_URL_LENGTH or any(c.isspace() or ord(c) < 0x20 for c in url):
        raise TargetRefused("invalid_url", "The URL must be at most 2048 characters, no spaces.")
    parts: SplitResult = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise TargetRefused("invalid_url", "The URL must start with https:// or http://.")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("invalid_url", "The URL must not carry credentials.")
    if parts.fragment:
        raise TargetRefused("invalid_url", "The URL must not have a fragment.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        detail = "The URL's port is not a number from 1 to 65535."
        raise TargetRefused("invalid_url", detail) from None
    host = (parts.hostname or "").rstrip(".")
    if not host or port == 0:
        raise TargetRefused("invalid_url", "The URL must name a host (and a port above 0).")
    if literal_address(host) is None and not is_dns_name(host):
        raise TargetRefused("invalid_url", "The URL's host is neither an address nor a DNS name.")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return WebhookUrl(url=url, scheme=parts.scheme, host=host, port=port, target=target)


def is_dns_name(host: str) -> bool:
    """Whether ``host`` (IDNA-encoded when not ASCII) could be a name on the internet: at most
    253 characters of labels of 1 to 63 letters, digits, hyphens (not at either end) or
    underscores, the last a top-level domain (letters, or an ``xn--`` label). Anything else is
    refused before any lookup: a name server asked for a top-level domain that cannot exist
    may take seconds to say so, and ``127.1`` or ``2130706433`` are addresses in disguise."""
    try:
        encoded = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = encoded.split(".")
    return (
        len(encoded) <= MAX_NAME_LENGTH
        and all(_LABEL.fullmatch(label) for label in labels)
        and _TOP_LEVEL_DOMAIN.fullmatch(labels[-1]) is not None
    )


def literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


@dataclass(frozen=True)
class TargetPolicy:
    """Public unicast addresses pass; anything else only inside an allowlisted network."""

    allowed_networks: tuple[IPNetwork, ...] = field(default=())

    def check(self, address: IPAddress) -> None:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
        if any(address in network for network in self.allowed_networks):
            return
        if address in METADATA_ADDRESSES:
            raise TargetRefused("target_not_allowed", f"{address} is a metadata service.")
        if address.is_loopback:
            raise TargetRefused("target_not_allowed", f"{address} is a loopback address.")
        if address.is_link_local:
            raise TargetRefused("target_not_allowed", f"{address} is a link-local address.")
        if address.is_private or address.is_multicast or not address.is_global:
            raise TargetRefused("target_not_allowed", f"{address} is not a public address.")

    def check_all(self, host: str, addresses: Iterable[IPAddress]) -> tuple[IPAddress, ...]:
        """Every address a name resolves to must pass: one private answer among public ones
        is how a rebinding name would slip through."""
        resolved = tuple(dict.fromkeys(addresses))
        if not resolved:
            raise TargetRefused("unresolvable_host", f"{host!r} does not resolve.")
        for address in resolved:
            try:
                self.check(address)
            except TargetRefused as refused:
                raise TargetRefused(
                    refused.code, f"{host!r} resolves to {address}: {refused.detail}"
                ) from None
        return resolved


def parse_networks(entries: Iterable[str]) -> tuple[IPNetwork, ...]:
    """``127.0.0.1/32``, ``10.0.0.0/8``, a bare address: ValueError naming a bad entry."""
    networks: list[IPNetwork] = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=True))
        except ValueError as error:
            raise ValueError(f"{entry.strip()!r} is not a network: {error}") from None
    return tuple(networks)
