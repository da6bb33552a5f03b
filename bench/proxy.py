"""The test harness's fault proxy, run in a process of its own.

In the benchmark's own process the proxy's event loop would compete for the GIL with the client
being measured, and the proxy's Python work would be counted as the client's. In its own process
it only shares the machine's two cores, as a registry on another host would not; each benchmark
says so beside its numbers.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from multiprocessing.connection import Connection
from typing import Any, Self

from tests.harness.faultproxy import FaultProxy
from tests.harness.loopback import LoopbackServer


def _serve(upstream_port: int, channel: Connection) -> None:
    """The proxy process: start the proxy, then answer commands until told to stop."""
    with FaultProxy("127.0.0.1", upstream_port) as proxy:
        channel.send(proxy.port)
        seen = 0
        while True:
            command, argument = channel.recv()
            if command == "stop":
                return
            if command == "rules":
                rules, latency_ms = argument
                proxy.set_rules(rules, latency_ms=latency_ms)
                channel.send(None)
            elif command == "requests":
                # Only what arrived since the last ask: the log of a long run is large.
                requests = proxy.requests
                channel.send([(r.method, r.target) for r in requests[seen:]])
                seen = len(requests)


class ProxyProcess(LoopbackServer):
    """A FaultProxy in front of `127.0.0.1:upstream_port`, in its own process."""

    def __init__(self, upstream_port: int) -> None:
        self._upstream_port = upstream_port
        self._channel: Connection | None = None
        self._process: Any = None
        self.port = 0

    def _ask(self, command: str, argument: object = None) -> Any:
        assert self._channel is not None, "the proxy is not started"
        self._channel.send((command, argument))
        return self._channel.recv()

    def set_latency(self, milliseconds: float, rules: list[dict[str, Any]] | None = None) -> None:
        """A fixed delay before every request is answered, and the fault rules (none by default;
        tests/harness/faultproxy.py describes them)."""
        self._ask("rules", (rules or [], milliseconds))

    def take_requests(self) -> list[tuple[str, str]]:
        """(method, path?query) of every request received since the last call."""
        requests: list[tuple[str, str]] = self._ask("requests")
        return requests

    def start(self) -> Self:
        """Start the proxy process and wait (at most 30 s) for the port it listens on."""
        parent, child = multiprocessing.Pipe()
        context = multiprocessing.get_context("spawn")
        self._process = context.Process(
            target=_serve, args=(self._upstream_port, child), daemon=True
        )
        self._process.start()
        self._channel = parent
        if not parent.poll(30):
            self._process.kill()
            raise RuntimeError("the fault proxy process did not start within 30 s")
        self.port = parent.recv()
        return self

    def stop(self) -> None:
        """Ask the proxy process to stop; kill it if it has not within 10 s."""
        channel, self._channel = self._channel, None
        process, self._process = self._process, None
        if channel is not None:
            channel.send(("stop", None))
        if process is not None:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()


def tag_lists_per_repository(requests: list[tuple[str, str]]) -> Counter[str]:
    """How often each repository's tags were listed, from a proxy request log."""
    counts: Counter[str] = Counter()
    for method, target in requests:
        path = target.split("?", 1)[0]
        if method == "GET" and path.startswith("/v2/") and path.endswith("/tags/list"):
            counts[path.removeprefix("/v2/").removesuffix("/tags/list")] += 1
    return counts
