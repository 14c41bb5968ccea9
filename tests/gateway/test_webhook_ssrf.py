"""Callback URLs cannot reach into Canon's network: internal addresses are refused when a callback
is registered and again at delivery, the resolved address is pinned (no DNS rebinding), and no
redirect is followed. Deliveries go to real local HTTP servers; only DNS answers are scripted."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from gateway.channels.email import DeliveryFailed
from gateway.channels.webhook import CallbackPolicy, WebhookSender, check_url, is_public
from gateway.errors import InvalidParams

PUBLIC = "93.184.216.34"


class Server:
    """A local HTTP endpoint answering `status` (with `location` for redirects)."""

    def __init__(self, status: int = 204, location: str | None = None) -> None:
        self.received: list[dict[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers["content-length"]))
                server.received.append(dict(self.headers))
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def _dns(*answers: list[str]) -> Any:
    """A resolver giving each answer in turn (the last one from then on)."""
    calls: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return answers[min(len(calls), len(answers)) - 1]

    return resolve


def _no_dns(host: str, port: int) -> list[str]:
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.7/hook",
        "http://172.16.0.1/hook",
        "http://192.168.1.1/hook",
        "http://100.64.0.1/hook",
        "http://0.0.0.0:8000/hook",
        "http://224.0.0.1/hook",
        "http://240.0.0.1/hook",
        "http://[::1]:8000/hook",
        "http://[fe80::1]/hook",
        "http://[fd00::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://localhost:8000/hook",
        "http://api.localhost/hook",
        "http://2130706433/hook",  # 127.0.0.1 as one decimal number: the system resolver says so
    ],
)
def test_internal_targets_are_refused_at_registration(url: str) -> None:
    with pytest.raises(InvalidParams) as refused:
        check_url(url)
    assert refused.value.field == "url" and "public address" in refused.value.message


def test_names_resolving_inside_are_refused_and_public_or_unknown_ones_pass() -> None:
    with pytest.raises(InvalidParams, match="10.1.2.3"):
        check_url("https://hooks.corp.example/x", resolve=_dns(["10.1.2.3"]))
    with pytest.raises(InvalidParams, match="127.0.0.1"):
        check_url("https://mixed.example/x", resolve=_dns([PUBLIC, "127.0.0.1"]))
    assert check_url("https://agent.example/x", resolve=_dns([PUBLIC]))
    assert check_url(f"https://{PUBLIC}/x")
    assert check_url("https://not-yet.example/x", resolve=_no_dns)  # checked at delivery


def test_the_allow_list_names_hosts_and_networks() -> None:
    policy = CallbackPolicy.parse(["hooks.internal", "10.20.0.0/16", "::1"])
    assert check_url("http://hooks.internal/x", policy, _dns(["10.9.9.9"]))
    assert check_url("http://10.20.3.4/x", policy)
    assert check_url("http://[::1]:9000/x", policy)
    with pytest.raises(InvalidParams):
        check_url("http://10.21.0.1/x", policy)
    assert not is_public(ipaddress.ip_address("169.254.169.254"))


def test_delivery_refuses_a_name_that_rebinds_to_loopback(server: Server) -> None:
    # Public when registered, loopback when delivered: the delivery's own answer is checked.
    resolve = _dns([PUBLIC], ["127.0.0.1"])
    url = f"http://rebind.example:{server.port}/hook"
    check_url(url, resolve=resolve)
    sender = WebhookSender(resolve=resolve)
    with pytest.raises(DeliveryFailed, match="refused, rebind.example resolves to 127.0.0.1"):
        sender.send(url, "s", {"x": 1}, 1)
    assert server.received == []


def test_delivery_connects_to_the_address_it_checked(server: Server) -> None:
    """One resolution per delivery: the request goes to that address, with the name as Host."""
    resolve = _dns(["127.0.0.1"])
    sender = WebhookSender(policy=CallbackPolicy.parse(["hooks.test"]), resolve=resolve)
    sender.send(f"http://hooks.test:{server.port}/hook", "s", {"x": 1}, 1)
    assert [h["Host"] for h in server.received] == [f"hooks.test:{server.port}"]
    # A stored callback to an internal address (registered before this check) is refused too.
    with pytest.raises(DeliveryFailed, match="refused"):
        WebhookSender().send(f"http://127.0.0.1:{server.port}/hook", "s", {"x": 1}, 1)
    assert len(server.received) == 1


def test_redirects_are_not_followed(server: Server) -> None:
    redirect = Server(307, location=f"http://127.0.0.1:{server.port}/hook")
    try:
        sender = WebhookSender(policy=CallbackPolicy.parse(["127.0.0.1"]))
        with pytest.raises(DeliveryFailed, match="HTTP 307"):
            sender.send(f"http://127.0.0.1:{redirect.port}/hook", "s", {"x": 1}, 1)
        assert len(redirect.received) == 1 and server.received == []
    finally:
        redirect.httpd.shutdown()
        redirect.httpd.server_close()
