"""A light closed-loop HTTP/1.1 load client for the benchmarks: asyncio streams, one kept-alive
connection per client, each sending its next request when the last answer is read.

On a 2-vCPU machine the client shares the CPUs with the server it measures, so it must cost
little: a thread per client with httpx spends about as much CPU per request as a resolve. Here
a request is one pre-encoded byte string and an answer is read by its `Content-Length`; every
answer's status is checked (anything but 200 stops the run).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit


def encode(host: str, path: str, headers: dict[str, str], body: Any) -> bytes:
    """One POST with a JSON body, as bytes on the wire."""
    payload = json.dumps(body, separators=(",", ":")).encode()
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


async def _client(
    host: str, port: int, requests: Sequence[bytes], sink: list[float], until: float | None
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        k = 0
        while k < len(requests) if until is None else time.perf_counter() < until:
            t0 = time.perf_counter_ns()
            writer.write(requests[k % len(requests)])
            head = await reader.readuntil(b"\r\n\r\n")
            status = head[9:12]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            answer = await reader.readexactly(length)
            sink.append((time.perf_counter_ns() - t0) / 1e6)
            if status != b"200":
                raise RuntimeError(f"HTTP {status.decode()}: {answer[:200]!r}")
            k += 1
    finally:
        writer.close()


def run(
    base: str,
    path: str,
    headers: dict[str, str],
    bodies: Sequence[Any],
    clients: int,
    seconds: float | None = None,
) -> tuple[list[float], float]:
    """Latencies (ms) of every request and the wall time: `clients` connections sending
    `bodies` (split among them; or round and round for `seconds`)."""
    url = urlsplit(base)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    wire = [encode(f"{host}:{port}", path, headers, b) for b in bodies]
    sinks: list[list[float]] = [[] for _ in range(clients)]

    async def main() -> float:
        until = None if seconds is None else time.perf_counter() + seconds
        t0 = time.perf_counter()
        await asyncio.gather(
            *(_client(host, port, wire[k::clients], sinks[k], until) for k in range(clients))
        )
        return time.perf_counter() - t0

    wall = asyncio.run(main())
    return [x for s in sinks for x in s], wall
