"""The sharded connection pool (hooks/registry/pool.py) against a real HTTP/1.1 server on loopback.

What a scan relies on: never more connections than its concurrency, connections kept alive and
reused, bodies read in full, and a pool's slot given back when a response is closed, whether it
was read or not, so the pools stay usable for the whole scan.
"""

import asyncio
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from hooks.registry.pool import ShardedTransport

BODY = b'{"name":"org/model","tags":["1.0.0"]}' * 50


class _Recorder(BaseHTTPRequestHandler):
    """Answers every GET after a short pause, noting which client connection asked."""

    protocol_version = "HTTP/1.1"  # keep-alive, as registries serve
    server: "_Server"

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.peers.append(self.client_address[1])
        time.sleep(0.02)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads `peers`, not the log."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Recorder)
        self.peers: list[int] = []
        self.lock = threading.Lock()


@pytest.fixture
def server() -> Iterator[_Server]:
    started = _Server()
    thread = threading.Thread(target=started.serve_forever, daemon=True)
    thread.start()
    try:
        yield started
    finally:
        started.shutdown()
        started.server_close()


def fetch_all(server: _Server, connections: int, requests: int, *, read: bool = True) -> list[int]:
    """`requests` concurrent GETs through one ShardedTransport; their status codes."""

    async def run() -> list[int]:
        url = f"http://127.0.0.1:{server.server_address[1]}/v2/org/model/tags/list"
        transport = ShardedTransport(connections, ssl.create_default_context())
        async with httpx.AsyncClient(transport=transport, timeout=10.0) as client:

            async def one() -> int:
                async with client.stream("GET", url) as response:
                    if read:
                        assert await response.aread() == BODY
                    return response.status_code

            first = await asyncio.gather(*(one() for _ in range(requests)))
            assert transport.in_flight == 0  # every closed response gave its slot back
            # The same transport again, on the connections already open.
            second = await asyncio.gather(*(one() for _ in range(requests)))
            assert transport.in_flight == 0
            return [*first, *second]

    return asyncio.run(run())


@pytest.mark.parametrize("connections", [1, 4, 6, 16])
def test_never_more_connections_than_asked_and_all_of_them_used(
    server: _Server, connections: int
) -> None:
    requests = 2 * connections + 2  # more at once than connections: every one is opened
    statuses = fetch_all(server, connections, requests=requests)

    assert statuses == [200] * 2 * requests
    assert len(set(server.peers)) == connections


def test_connections_are_reused_across_requests(server: _Server) -> None:
    fetch_all(server, 16, requests=16)

    assert len(server.peers) == 32
    assert len(set(server.peers)) == 16


def test_a_response_closed_unread_gives_its_slot_back(server: _Server) -> None:
    """A response closed without reading its body (as an error answer may be) counts as done:
    a slot held for it would steer the requests that follow away from its pool."""
    statuses = fetch_all(server, 4, requests=8, read=False)

    assert statuses == [200] * 16
