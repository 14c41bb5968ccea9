"""Signed webhook callbacks: an agent's registered URL hears its action's outcome.

The body is JSON; `X-Canon-Signature: v1=<hex>` is HMAC-SHA256, with the secret returned once
when the callback was registered, over `{X-Canon-Timestamp}.{body}`, so that the receiver can
check both origin and freshness (the same scheme as Slack's, which agents' developers know).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlsplit

import httpx

from gateway.channels.email import DeliveryFailed
from gateway.errors import InvalidParams

MAX_URL = 2000


def check_url(url: str) -> str:
    """An http(s) URL with a host, or InvalidParams naming `url`."""
    parts = urlsplit(url)
    if len(url) > MAX_URL or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidParams("a callback URL is an http(s) URL with a host", field="url")
    if parts.username or parts.password:
        raise InvalidParams("a callback URL carries no credentials", field="url")
    return url


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`v1=` + HMAC-SHA256 over `{timestamp}.{body}`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + digest.hexdigest()


class WebhookSender:
    """POSTs signed outcomes; any non-2xx answer or network error is a failed delivery."""

    def __init__(self, client: httpx.Client | None = None) -> None:
        self.client = client or httpx.Client(timeout=5.0, follow_redirects=False)

    def send(self, url: str, secret: str, payload: dict[str, Any], timestamp: int) -> None:
        """Deliver once; DeliveryFailed when the receiver did not accept it."""
        body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Canon-Timestamp": str(timestamp),
            "X-Canon-Signature": signature(secret, str(timestamp), body),
            "User-Agent": "canon-webhook/1",
        }
        try:
            response = self.client.post(url, content=body, headers=headers)
        except httpx.HTTPError as e:
            raise DeliveryFailed(f"webhook {url}: {type(e).__name__}: {e}") from e
        if not 200 <= response.status_code < 300:
            raise DeliveryFailed(f"webhook {url}: HTTP {response.status_code}")
