"""End-to-end fixtures: a model trained once on the committed sample, and the real app served by
uvicorn on 127.0.0.1 (the tests talk to it over HTTP with httpx)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from resolver import Resolver, load_resolver, train_workdir

SAMPLE_DATA = Path(__file__).resolve().parents[2] / "data" / "samples" / "protheus" / "data"


@pytest.fixture(scope="session")
def gate_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workdir with a model trained on the committed Protheus sample (once per session)."""
    workdir = tmp_path_factory.mktemp("gate-workdir")
    train_workdir(SAMPLE_DATA, workdir)
    return workdir


@pytest.fixture(scope="session")
def trained_resolver(gate_workdir: Path) -> Resolver:
    return load_resolver(gate_workdir)


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Serve `app` on a free 127.0.0.1 port in a thread; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
