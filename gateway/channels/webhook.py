"""Signed webhook callbacks: an agent's registered URL hears its action's outcome.

The body is JSON; `X-Canon-Signature: v1=<hex>` is HMAC-SHA256, with the secret returned once
when the callback was registered, over `{X-Canon-Timestamp}.{body}`, so that the receiver can
check both origin and freshness (the same scheme as Slack's, which agents' developers know).

An agent chooses the URL, so Canon must not become its way into the network Canon sits in
(SSRF): a callback goes only to public addresses. Loopback, link-local (the cloud metadata
service at 169.254.169.254), private, shared, multicast, reserved and unspecified addresses are
refused unless the `CallbackPolicy` allow-list (settings) names the host or its network. The
host is checked when the callback is registered (literal addresses, `localhost`, and names that
resolve) and again, strictly, at each delivery: the name is resolved once, every address it
resolves to must be allowed, and the request connects to that address (the URL's host goes in
`Host` and in TLS SNI), so a second DNS answer cannot send it elsewhere (DNS rebinding).
Redirects are never followed (a 3xx is a failed delivery).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

import httpx

from gateway.channels.email import DeliveryFailed
from gateway.errors import InvalidParams

MAX_URL = 2000
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: host, port -> the addresses the name resolves to (socket.getaddrinfo by default).
HostResolver = Callable[[str, int], list[str]]


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for `host` (TCP)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_public(address: IPAddress) -> bool:
    """Whether an address is on the public internet (not loopback, private, link-local, ...)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not (address.is_multicast or address.is_reserved)


@dataclass(frozen=True)
class CallbackPolicy:
    """Which non-public hosts callbacks may still reach (none by default)."""

    allowed_hosts: frozenset[str] = frozenset()
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> CallbackPolicy:
        """Entries are host names (`hooks.internal`), addresses or networks (`10.1.0.0/16`)."""
        hosts, networks = set(), []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                hosts.add(entry.strip().lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def permits(self, host: str, address: IPAddress) -> bool:
        if is_public(address) or host.lower().rstrip(".") in self.allowed_hosts:
            return True
        return any(address in network for network in self.allowed_networks)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _port(parts: SplitResult) -> int:
    try:
        port = parts.port
    except ValueError as e:
        raise InvalidParams("a callback URL's port is a number from 1 to 65535", field="url") from e
    return port or (443 if parts.scheme == "https" else 80)


def check_url(
    url: str, policy: CallbackPolicy | None = None, resolve: HostResolver = system_resolver
) -> str:
    """An http(s) URL with a host that is not known to be internal, or InvalidParams naming
    `url`. A name that does not resolve now is accepted: each delivery checks again."""
    policy = policy or CallbackPolicy()
    parts = urlsplit(url)
    if len(url) > MAX_URL or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidParams("a callback URL is an http(s) URL with a host", field="url")
    if parts.username or parts.password:
        raise InvalidParams("a callback URL carries no credentials", field="url")
    host, port = parts.hostname, _port(parts)
    literal = _literal(host)
    if literal is not None:
        addresses = [literal]
    elif host.rstrip(".") == "localhost" or host.rstrip(".").endswith(".localhost"):
        addresses = [ipaddress.ip_address("127.0.0.1")]
    else:
        try:
            addresses = [ipaddress.ip_address(a.split("%")[0]) for a in resolve(host, port)]
        except (OSError, UnicodeError, ValueError):
            addresses = []
    refused = [a for a in addresses if not policy.permits(host, a)]
    if refused:
        raise InvalidParams(
            f"a callback URL must reach a public address; {host} is {refused[0]} "
            "(loopback, private, link-local and reserved addresses are refused unless "
            "CANON_CALLBACK_ALLOWED_HOSTS names them)",
            field="url",
        )
    return url


def pin(
    url: str, policy: CallbackPolicy, resolve: HostResolver = system_resolver
) -> tuple[str, str, IPAddress]:
    """Resolve the URL's host once and check every address: (URL with the address as host,
    the original `Host` header value, the address). DeliveryFailed when any is not allowed."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = _port(parts)
        literal = _literal(host)
        names = [str(literal)] if literal is not None else resolve(host, port)
        addresses = [ipaddress.ip_address(a.split("%")[0]) for a in names]
    except (OSError, UnicodeError, ValueError, InvalidParams) as e:
        raise DeliveryFailed(f"webhook {url}: cannot resolve {host}: {e}") from e
    if not addresses:
        raise DeliveryFailed(f"webhook {url}: {host} resolves to no address")
    refused = [a for a in addresses if not policy.permits(host, a)]
    if refused:
        raise DeliveryFailed(f"webhook {url}: refused, {host} resolves to {refused[0]}")
    address = addresses[0]
    shown = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{shown}:{parts.port}" if parts.port else shown
    host_header = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")), host_header, address


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`v1=` + HMAC-SHA256 over `{timestamp}.{body}`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + digest.hexdigest()


class WebhookSender:
    """POSTs signed outcomes to allowed, pinned addresses; any non-2xx answer, network error or
    refused address is a failed delivery."""

    def __init__(
        self,
        client: httpx.Client | None = None,
        policy: CallbackPolicy | None = None,
        resolve: HostResolver = system_resolver,
    ) -> None:
        # No proxy from the environment either: the request goes to the pinned address.
        self.client = client or httpx.Client(timeout=5.0, follow_redirects=False, trust_env=False)
        self.policy = policy or CallbackPolicy()
        self.resolve = resolve

    def send(self, url: str, secret: str, payload: dict[str, Any], timestamp: int) -> None:
        """Deliver once; DeliveryFailed when the receiver did not accept it."""
        body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Canon-Timestamp": str(timestamp),
            "X-Canon-Signature": signature(secret, str(timestamp), body),
            "User-Agent": "canon-webhook/1",
        }
        pinned, headers["Host"], _ = pin(url, self.policy, self.resolve)
        extensions = {"sni_hostname": urlsplit(url).hostname} if pinned.startswith("https") else {}
        try:
            response = self.client.post(
                pinned, content=body, headers=headers, extensions=extensions, follow_redirects=False
            )
        except httpx.HTTPError as e:
            raise DeliveryFailed(f"webhook {url}: {type(e).__name__}: {e}") from e
        if not 200 <= response.status_code < 300:
            raise DeliveryFailed(f"webhook {url}: HTTP {response.status_code}")
