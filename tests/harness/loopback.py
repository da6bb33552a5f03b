"""What every server a test or benchmark starts on 127.0.0.1 shares: its addresses, `with` for
start and stop, a free port to listen on, and a socketserver served from a thread.

The servers differ in what they serve and how they run (a thread, an event loop, a child
process); they are written against in the same way, so that a test can hand any of them to
`RegistrySettings` or an `ExitStack` without knowing which it is.
"""

import socket
import socketserver
import threading
from types import TracebackType
from typing import Self

from tests.harness.tls import TestCA

# `shutdown` waits for the serving loop to notice, so a short poll makes stopping near-instant.
_POLL_SECONDS = 0.02
_JOIN_SECONDS = 10.0


def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1 (the caller retries on a conflict)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LoopbackServer:
    """A server on 127.0.0.1: a subclass sets `port` once it listens, and `tls` when it speaks
    HTTPS, and implements `start` and `stop`; `with` starts it and stops it."""

    port: int = 0
    tls: TestCA | None = None

    @property
    def scheme(self) -> str:
        """https when the server itself listens with TLS, else http."""
        return "https" if self.tls is not None else "http"

    @property
    def host(self) -> str:
        """`127.0.0.1:PORT`: the registry part of an image reference, and the form
        `RegistrySettings.insecure_registries` takes."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """Base URL without a trailing slash."""
        return f"{self.scheme}://{self.host}"

    def start(self) -> Self:
        """Listen and serve; `port` is set when this returns."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop serving and release what `start` took; safe to call twice."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class ServingThread:
    """A socketserver (http.server's or werkzeug's) serving from a daemon thread until `stop`."""

    def __init__(self, server: socketserver.BaseServer, name: str) -> None:
        self.server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(_POLL_SECONDS,), name=name, daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self.server.server_address[1])

    def stop(self) -> None:
        """Stop the serving loop, close the listening socket and wait for the thread."""
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=_JOIN_SECONDS)
