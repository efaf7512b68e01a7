"""`leadscore serve --workers 2`: two processes on one SQLite store take concurrent leads,
each stored once and scored, none refused; the socket they share answers without delayed
ACK waits."""

from __future__ import annotations

import asyncio
import signal
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import uvicorn

from serving.cli.service import tcp_listener
from serving.store.leads import Store
from tests.serving.conftest import make_lead
from tests.serving.harness import (
    free_port,
    service_env,
    start_serve,
    stop,
    wait_until_answers,
)

KEY = "workers-test-key-0001"


def test_two_worker_processes_share_one_sqlite_store(tmp_path: Path) -> None:
    port = free_port()
    database = tmp_path / "leads.db"
    env = service_env(
        tmp_path,
        LEADSCORE_API_KEYS=f"{KEY}:sdr:sdr-1",
        LEADSCORE_REGISTRY_WAIT_SECONDS="1",
    )
    Store.open(f"sqlite:///{database}").close()  # migrated once, before two workers start
    log = tmp_path / "serve.log"
    server = start_serve(port, env, log, "--workers", "2")
    url = f"http://127.0.0.1:{port}"
    try:
        # two processes import the app at once
        wait_until_answers(server, f"{url}/health", log, timeout=300)
        started = log.read_text()
        for _ in range(100):  # the second worker may still be starting
            if started.count("Started server process") >= 2:
                break
            time.sleep(0.2)
            started = log.read_text()
        assert started.count("Started server process") == 2, started[-2000:]

        run = uuid.uuid4().hex[:6]

        def post(i: int) -> int:
            lead = make_lead(f"w-{run}-{i}", channel=["referral", "display"][i % 2])
            with httpx.Client(base_url=url, headers={"X-API-Key": KEY}, timeout=30) as client:
                return client.post("/leads", json=lead).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            codes = list(pool.map(post, range(60)))
        assert codes == [201] * 60
        queue = httpx.get(f"{url}/queue", params={"limit": 100}, headers={"X-API-Key": KEY}).json()
        assert queue["total"] == 60
        assert all(item["probability"] is not None for item in queue["items"])
    finally:
        stop(server, timeout=30)
    if server.returncode not in (0, -signal.SIGTERM):
        pytest.fail(f"serve exited with {server.returncode}")


def _nodelay_of_accepted(listener: socket.socket) -> int:
    """TCP_NODELAY of the connection an asyncio server accepts on ``listener``, as a
    uvicorn worker serves it."""

    async def accept_one() -> int:
        loop = asyncio.get_running_loop()
        accepted: asyncio.Future[int] = loop.create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await loop.create_server(Probe, sock=listener)
        _reader, writer = await asyncio.open_connection(*listener.getsockname()[:2])
        try:
            return await asyncio.wait_for(accepted, timeout=10)
        finally:
            writer.close()
            server.close()

    return asyncio.run(accept_one())


def test_shared_listener_gives_every_connection_tcp_nodelay() -> None:
    """The socket `serve --workers N` shares is bound by uvicorn with protocol 0; through
    tcp_listener its accepted connections get TCP_NODELAY (else each keep-alive answer
    waits ~40 ms for a delayed ACK)."""
    config = uvicorn.Config("serving.app:create_app", factory=True, host="127.0.0.1", port=0)
    listener = tcp_listener(config.bind_socket())
    assert listener.proto == socket.IPPROTO_TCP
    assert listener.get_inheritable()
    assert _nodelay_of_accepted(listener) == 1


def test_tcp_listener_leaves_a_named_or_unix_socket_alone(tmp_path: Path) -> None:
    named = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        assert tcp_listener(named) is named
        assert tcp_listener(unix) is unix
    finally:
        named.close()
        unix.close()
