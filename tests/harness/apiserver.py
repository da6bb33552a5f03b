"""The recording HTTP server the REST API look-alikes (Docker Hub, GitHub) are built on.

A threaded server on 127.0.0.1 that records every request, so tests can check where credentials
went, and answers through the subclass's `handle` or a canned `Reply` stubbed for one path.
Fixtures come from `../shared/registry/api-fixtures/` at run time, never copied.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from tests.harness.loopback import LoopbackServer, ServingThread
from tests.shared import shared_path


def load_fixture(relative: str) -> Any:
    """One JSON fixture from ../shared (skipped outside CI, failed in CI, when it is missing)."""
    return json.loads(shared_path(relative).read_text())


@dataclass(frozen=True)
class RecordedRequest:
    """What a client sent: header names lower-cased, the path as sent (percent-encoded)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Reply:
    """An answer: `body` is a JSON document, or raw bytes sent as they are."""

    status: int
    body: object
    headers: Mapping[str, str] = field(default_factory=dict)


class ApiServer(LoopbackServer):
    """A threaded HTTP server on 127.0.0.1 (port 0) that records requests and answers via `handle`.

    `stub(path, reply)` makes one path answer a canned reply, for the malformed answers no
    documented server gives.
    """

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._stubs: dict[str, Reply] = {}
        self._lock = threading.Lock()
        self._serving: ServingThread | None = None

    def handle(self, request: RecordedRequest) -> Reply:
        """The answer to one request; subclasses speak their API here."""
        raise NotImplementedError

    def stub(self, path: str, reply: Reply) -> None:
        """From now on, requests for `path` answer `reply`."""
        with self._lock:
            self._stubs[path] = reply

    def dispatch(self, request: RecordedRequest) -> Reply:
        """Record the request, then answer it (a stub wins over the API).

        Requests are answered concurrently; `handle` takes `self._lock` for the state it changes.
        """
        with self._lock:
            self.requests.append(request)
            stub = self._stubs.get(request.path)
        return stub if stub is not None else self.handle(request)

    def start(self) -> Self:
        """Listen on a free port of 127.0.0.1 and serve from a daemon thread."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.api = self  # type: ignore[attr-defined]
        self._serving = ServingThread(server, type(self).__name__)
        self.port = self._serving.port
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call twice."""
        serving, self._serving = self._serving, None
        if serving is not None:
            serving.stop()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        request = RecordedRequest(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=self.rfile.read(length),
        )
        reply = self.server.api.dispatch(request)  # type: ignore[attr-defined]
        payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        if not any(name.lower() == "content-type" for name in reply.headers):
            self.send_header("Content-Type", "application/json")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the recorded requests are the log."""
