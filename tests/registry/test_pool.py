"""The registry transport (hooks/registry/pool.py) against a real HTTP/1.1 server on loopback.

What a scan relies on: never more connections than its concurrency, connections kept alive and
reused, a connection given back (or closed) when a response is closed whether it was read or
not, and the things httpx decides left to httpx: redirects, content decoding, cookies. Every
failure of the connection arrives as the httpx exception hooks/registry/transport.py maps.
"""

import asyncio
import gzip
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from hooks.registry.pool import AiohttpTransport, RegistryClient

BODY = b'{"name":"org/model","tags":["1.0.0"]}' * 50
GZIPPED = gzip.compress(BODY)


class _Recorder(BaseHTTPRequestHandler):
    """Answers by path after a short pause, noting which client connection asked and with
    which Cookie header."""

    protocol_version = "HTTP/1.1"  # keep-alive, as registries serve
    server: "_Server"

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.peers.append(self.client_address[1])
            self.server.cookies.append(self.headers.get("Cookie"))
        time.sleep(0.02)
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/v2/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Set-Cookie", "session=abc; Path=/")
        body = BODY
        if self.path == "/gzip":
            self.send_header("Content-Encoding", "gzip")
            body = GZIPPED
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the tests read `peers`, not the log."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Recorder)
        self.peers: list[int] = []
        self.cookies: list[str | None] = []
        self.lock = threading.Lock()

    def url(self, path: str = "/v2/org/model/tags/list") -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


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


def transport(connections: int = 4) -> AiohttpTransport:
    return AiohttpTransport(connections, ssl.create_default_context())


def fetch_all(server: _Server, connections: int, requests: int, *, read: bool = True) -> list[int]:
    """Two rounds of `requests` concurrent GETs through one transport; their status codes.

    The pool timeout is short: a connection that a closed response kept would leave the second
    round waiting for it, and fail it.
    """

    async def run() -> list[int]:
        timeout = httpx.Timeout(10.0, pool=2.0)
        async with httpx.AsyncClient(transport=transport(connections), timeout=timeout) as client:

            async def one() -> int:
                async with client.stream("GET", server.url()) as response:
                    if read:
                        assert await response.aread() == BODY
                    return response.status_code

            first = await asyncio.gather(*(one() for _ in range(requests)))
            second = await asyncio.gather(*(one() for _ in range(requests)))
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


def test_a_response_closed_unread_gives_its_connection_back(server: _Server) -> None:
    """A response closed without reading its body (as an error answer may be) frees its place
    in the pool: with one connection, every request after it would otherwise wait in vain."""
    statuses = fetch_all(server, 1, requests=4, read=False)

    assert statuses == [200] * 8


def send(
    request: httpx.Request, *, via: AiohttpTransport | None = None
) -> tuple[httpx.Response, bytes]:
    """One request straight through a transport (no client above it); its body read raw."""

    async def run() -> tuple[httpx.Response, bytes]:
        used = via or transport()
        try:
            response = await used.handle_async_request(request)
            body = b"".join([chunk async for chunk in response.aiter_raw()])
            await response.aclose()
            return response, body
        finally:
            await used.aclose()

    return asyncio.run(run())


def test_redirects_are_answered_not_followed(server: _Server) -> None:
    """Only httpx (and above it, our code) may decide to follow: credentials must not be
    carried to wherever a registry points."""
    response, _ = send(httpx.Request("GET", server.url("/moved")))

    assert response.status_code == 302
    assert response.headers["location"] == "/v2/"
    assert len(server.peers) == 1


def test_bodies_arrive_as_sent_still_encoded(server: _Server) -> None:
    """The size cap counts the bytes the registry sent and decodes them itself, so the transport
    must not inflate them."""
    response, body = send(httpx.Request("GET", server.url("/gzip")))

    assert response.headers["content-encoding"] == "gzip"
    assert body == GZIPPED


def test_the_transport_keeps_no_cookies(server: _Server) -> None:
    """Cookies are httpx's business (its client keeps them); the transport adds none."""
    shared = transport()

    send(httpx.Request("GET", server.url()), via=shared)
    send(httpx.Request("GET", server.url()), via=shared)

    assert server.cookies == [None, None]


def test_the_client_sends_back_a_cookie_the_registry_set(server: _Server) -> None:
    """RegistryClient opens its jar only for answers with a Set-Cookie; those are kept as by
    any httpx client (a load balancer's sticky session), and sent on the next request."""

    async def run() -> None:
        async with RegistryClient(transport=transport(), timeout=10.0) as client:
            for _ in range(2):
                async with client.stream("GET", server.url()) as response:
                    await response.aread()

    asyncio.run(run())

    assert server.cookies == [None, "session=abc"]


def test_a_transport_closed_in_one_event_loop_serves_the_next(server: _Server) -> None:
    """A transport handed to scan_registries serves one scan's loop, then the next one's."""
    shared = transport()

    assert send(httpx.Request("GET", server.url()), via=shared)[1] == BODY
    assert send(httpx.Request("GET", server.url()), via=shared)[1] == BODY


@contextmanager
def _answering(answer: Callable[[socket.socket], None]) -> Iterator[tuple[str, list[int]]]:
    """A server that reads each request and answers it with `answer`; its URL, and the
    connections it accepted (a list the server appends to)."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[int] = []

    def serve() -> None:
        while True:
            try:
                connection, peer = listener.accept()
            except OSError:
                return  # the listener was closed: the test is over
            accepted.append(peer[1])
            with connection:
                connection.recv(65536)
                answer(connection)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v2/", accepted
    finally:
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(timeout=5)


def _cut_short(connection: socket.socket) -> None:
    connection.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"tags":')


def _garbage(connection: socket.socket) -> None:
    connection.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")


def _hang_up(connection: socket.socket) -> None:
    pass


def _silent(connection: socket.socket) -> None:
    time.sleep(1.5)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (_cut_short, httpx.RemoteProtocolError),
        (_garbage, httpx.RemoteProtocolError),
        (_hang_up, httpx.RemoteProtocolError),
        (_silent, httpx.ReadTimeout),
    ],
)
def test_failures_of_the_connection_are_httpx_errors(
    answer: Callable[[socket.socket], None], expected: type[httpx.TransportError]
) -> None:
    """hooks/registry/transport.py reads these as "dropped" or "did not answer in time"; an
    aiohttp exception getting past it would escape the scan's error handling. Each is sent
    once: retries are the scanner's, with their backoff and within the deadline, not a hidden
    second request (aiohttp sends an idempotent request again after a hang-up by default)."""
    timeout = httpx.Timeout(0.5).as_dict()
    with _answering(answer) as (url, accepted), pytest.raises(expected):
        send(httpx.Request("GET", url, extensions={"timeout": timeout}))

    assert len(accepted) == 1


def test_a_closed_port_is_a_connect_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]

    with pytest.raises(httpx.ConnectError):
        send(httpx.Request("GET", f"http://127.0.0.1:{port}/v2/"))
