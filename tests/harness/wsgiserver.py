"""The hook service's Flask app in a real WSGI server on 127.0.0.1, as the hook, web and
reliability tests talk to it: over HTTP, with the threading a deployed service has.
"""

from typing import Any, Self

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from tests.harness.loopback import LoopbackServer, ServingThread


class QuietHandler(WSGIRequestHandler):
    """No access log line per request: the hook logs its own, and tests send thousands."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class WsgiServer(LoopbackServer):
    """A threaded werkzeug server for a WSGI app on a free port of 127.0.0.1."""

    def __init__(self, app: Any) -> None:
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler
        )
        self.port = self._server.server_port
        self._serving: ServingThread | None = None

    def start(self) -> Self:
        """Serve from a daemon thread."""
        self._serving = ServingThread(self._server, "wsgiserver")
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call twice."""
        serving, self._serving = self._serving, None
        if serving is not None:
            serving.stop()
