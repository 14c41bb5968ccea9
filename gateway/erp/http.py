"""What the HTTP connectors share: one httpx client, and the ERP's answers mapped to our errors.

The mapping decides what the workflow runner may do next, so it is strict about doubt:

- a 2xx is done; a 404 on a read is "no such record";
- 412 (stale ETag) is `ErpConflict`: surfaced, never retried;
- other 4xx (but 409 "in progress", 408 and 429) are `ErpOperationFailed`: the ERP refused and
  changed nothing;
- timeouts, dropped connections, 409 "in progress", 408, 429 and 5xx are `ErpUnavailable`: the
  write may or may not have happened, so the runner reads the ERP by key before re-sending.

Every write carries its idempotency key in the `Idempotency-Key` header.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from gateway.erp.base import ErpOperation, ErpRecord, ErpResult
from gateway.erp.operations import Handlers
from gateway.erp.operations import unsupported as unsupported  # where the connectors import it
from gateway.errors import ErpConflict, ErpError, ErpOperationFailed, ErpUnavailable

IN_DOUBT_STATUSES = frozenset({408, 409, 425, 429})
ErrorText = Callable[[httpx.Response], str]
#: One write as an HTTP connector's handler gives it: method, path and JSON body (None: none).
Request = tuple[str, str, dict[str, Any] | None]


def digits(value: object) -> str:
    """Only the digits of a tax id (`11.222.333/0001-81` -> `11222333000181`)."""
    return re.sub(r"\D", "", str(value or ""))


def default_error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    return str(body)[:300]


class HttpErp:
    """An httpx client to one ERP, raising the gateway's ERP errors."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: httpx.Auth | None,
        timeout: float,
        name: str,
        error_text: ErrorText = default_error_text,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.name, self.error_text = name, error_text
        self.client = httpx.Client(
            base_url=base_url.rstrip("/"),
            auth=auth,
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json"},
        )

    def close(self) -> None:
        self.client.close()

    def send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        key: str | None = None,
        missing_ok: bool = False,
    ) -> httpx.Response | None:
        """Send a request; None for a 404 when `missing_ok`; raise ErpError otherwise."""
        sent = dict(headers or {})
        if key is not None:
            sent["Idempotency-Key"] = key
        try:
            response = self.client.request(method, path, json=json, params=params, headers=sent)
        except httpx.TimeoutException as e:
            raise ErpUnavailable(
                f"{self.name}: {method} {path} timed out; it may or may not have run"
            ) from e
        except httpx.TransportError as e:
            raise ErpUnavailable(f"{self.name}: {method} {path}: {type(e).__name__}: {e}") from e
        return self.check(response, missing_ok=missing_ok)

    def check(self, response: httpx.Response, *, missing_ok: bool = False) -> httpx.Response | None:
        """Map an answer to the gateway's errors (see the module docstring)."""
        status = response.status_code
        if status < 400:
            return response
        if status == 404 and missing_ok:
            return None
        where = f"{self.name}: {response.request.method} {response.request.url.path}"
        text = f"{where} answered {status}: {self.error_text(response)}"
        if status == 412:
            raise ErpConflict(f"{text} (the record changed since it was read)")
        if status in IN_DOUBT_STATUSES or status >= 500:
            raise ErpUnavailable(text)
        raise ErpOperationFailed(text)

    def json(self, response: httpx.Response | None) -> Any:
        if response is None or not response.content:
            return None
        try:
            return response.json()
        except ValueError as e:
            raise ErpError(f"{self.name}: an answer that is not JSON: {e}") from e


def pages(
    fetch: Callable[[int], tuple[list[dict[str, str]], bool]],
) -> Iterator[list[dict[str, str]]]:
    """Pages from `fetch(page_number)` -> (rows, more), until the ERP says there is no more."""
    number = 0
    while True:
        rows, more = fetch(number)
        if rows:
            yield rows
        if not more or not rows:
            return
        number += 1


def result(key: str, operation: str, canonical_id: str | None, data: dict[str, Any]) -> ErpResult:
    return ErpResult(idempotency_key=key, operation=operation, canonical_id=canonical_id, data=data)


def record(entity_type: str, canonical_id: str, fields: dict[str, Any], deleted: bool) -> ErpRecord:
    return ErpRecord(
        entity_type=entity_type, canonical_id=canonical_id, fields=fields, deleted=deleted
    )


class RequestRunner(Handlers[Request]):
    """An HTTP connector whose marked methods (`gateway.erp.operations.runs`) each give the one
    request that runs their operation: `run` sends it with the operation's idempotency key and
    reads the ERP's answer with `answered`."""

    http: HttpErp

    def run(self, operation: ErpOperation) -> ErpResult:
        """Send the request of the operation's method (`ErpConnector.run`)."""
        method, path, body = self.handle(operation)
        response = self.http.send(method, path, json=body, key=operation.idempotency_key)
        return self.answered(operation, self.http.json(response) or {})

    def answered(self, operation: ErpOperation, body: dict[str, Any]) -> ErpResult:
        """The result of a write the ERP answered `body` to: by default the answer is its data,
        and the operation's target its record."""
        return result(operation.idempotency_key, operation.operation, operation.canonical_id, body)
