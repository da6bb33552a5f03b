"""An HTTP/1.1 reverse proxy injecting registry faults: statuses, drops, resets, stalls, paging.

`tc netem` is not available on the test machines (docs/testing-registry.md §8), and faults must be
deterministic anyway, so the proxy sits between a client and a real registry. It runs its own
asyncio loop in a thread; the test thread changes the rules at any time with `set_rules`.

A rule is a dict: `match` (regex searched in "METHOD /path?query"), `action`, and per action
`status`, `retry_after`, `headers`, `body`, `ms`, `host`, `page_size`; `times` (apply to the
first N matching requests only) and `prob` (apply with this probability, from a seeded RNG). The
first rule that matches, has `times` left and wins its `prob` draw decides; no rule = pass through.

Actions: `status` (a JSON error with that status, Retry-After when asked), `drop` (close without
answering), `reset` (TCP RST), `truncate` (send half of the upstream body, then close), `stall`
(never answer; close after `ms`, default 60 s), `delay` (`ms` then pass through), `redirect` (307
to the same URL, on `host` when given; requests already on `host` pass through), `paginate`
(sorted `?n=&last=` pages with a relative Link, as v3 and ghcr.io do; `page_size` caps `n`),
`link_loop` (upstream page with a Link to itself), `endless_pages` (an infinite chain of fresh
pages, no upstream), `garbage` (200 whose body is not JSON).
"""

import asyncio
import json
import random
import re
import socket
import ssl
import struct
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from tests.harness.loopback import LoopbackServer
from tests.harness.tls import TestCA

ACTIONS = frozenset(
    {
        "status",
        "drop",
        "reset",
        "truncate",
        "stall",
        "delay",
        "redirect",
        "paginate",
        "link_loop",
        "endless_pages",
        "garbage",
    }
)
_RULE_KEYS = frozenset(
    {"match", "action", "status", "retry_after", "headers", "body", "ms", "host", "page_size"}
    | {"times", "prob"}
)
_ERROR_CODES = {
    401: "UNAUTHORIZED",
    403: "DENIED",
    404: "NAME_UNKNOWN",
    429: "TOOMANYREQUESTS",
}
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade"}
)
_IDLE_TIMEOUT = 60.0
_IO_TIMEOUT = 30.0
_DEFAULT_STALL_MS = 60_000
_DEFAULT_PAGE_SIZE = 100
_HEAD_LIMIT = 64 * 1024
_ENDLESS_PREFIX = "endless-"

Headers = list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class ProxiedRequest:
    """A request the proxy received: what the client sent, and what the proxy did with it."""

    method: str
    target: str  # path?query as sent
    headers: Mapping[str, str]  # names lower-cased
    action: str  # "pass" when forwarded untouched, else the rule's action

    @property
    def path(self) -> str:
        """The target without its query."""
        return urlsplit(self.target).path


@dataclass
class _Rule:
    pattern: re.Pattern[str]
    action: str
    options: Mapping[str, Any]
    times: int | None
    prob: float | None
    hits: int = 0

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> "_Rule":
        unknown = set(raw) - _RULE_KEYS
        if unknown:
            raise ValueError(f"unknown rule keys {sorted(unknown)} in {raw!r}")
        action = raw.get("action")
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}; known: {sorted(ACTIONS)}")
        if action == "status" and "status" not in raw:
            raise ValueError(f"action status needs a status: {raw!r}")
        return cls(
            pattern=re.compile(raw.get("match", "")),
            action=action,
            options=raw,
            times=raw.get("times"),
            prob=raw.get("prob"),
        )


@dataclass
class _Request:
    method: str
    target: str
    version: str
    headers: Headers
    body: bytes

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    @property
    def wants_close(self) -> bool:
        connection = (self.header("connection") or "").lower()
        return connection == "close" or (self.version == "HTTP/1.0" and connection != "keep-alive")


@dataclass
class _Response:
    status: int
    reason: str
    headers: Headers
    body: bytes

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)


class _ProtocolError(Exception):
    """The peer sent something that is not HTTP/1.1 as we handle it."""


def _parse_head(head: bytes) -> tuple[str, Headers]:
    lines = head.decode("latin-1").split("\r\n")
    headers: Headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise _ProtocolError(f"bad header line {line!r}")
        headers.append((name.strip(), value.strip()))
    return lines[0], headers


async def _read_body(reader: asyncio.StreamReader, headers: Headers, until_eof: bool) -> bytes:
    """A message body by Transfer-Encoding chunked, Content-Length, or (responses) end of stream."""
    values = {k.lower(): v for k, v in headers}
    if "chunked" in values.get("transfer-encoding", "").lower():
        chunks: list[bytes] = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                    pass
                return b"".join(chunks)
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
    if "content-length" in values:
        return await reader.readexactly(int(values["content-length"]))
    return await reader.read() if until_eof else b""


def _encode(start_line: str, headers: Headers, body: bytes) -> bytes:
    head = "".join(f"{k}: {v}\r\n" for k, v in headers)
    return f"{start_line}\r\n{head}\r\n".encode("latin-1") + body


def _without(headers: Headers, names: frozenset[str]) -> Headers:
    return [(k, v) for k, v in headers if k.lower() not in names]


def _json_response(status: int, payload: object, headers: Headers | None = None) -> _Response:
    body = json.dumps(payload).encode()
    return _Response(status, "", [("Content-Type", "application/json"), *(headers or [])], body)


def _is_bodyless(method: str, status: int) -> bool:
    return method == "HEAD" or status in (204, 304) or 100 <= status < 200


class _Upstream:
    """One keep-alive connection to the upstream per client connection, reopened when needed."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext | None) -> None:
        self.host, self.port, self.context = host, port, context
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def exchange(self, request: _Request, target: str, scheme: str) -> _Response:
        headers = _without(request.headers, _HOP_BY_HOP | {"content-length", "x-forwarded-proto"})
        headers.append(("X-Forwarded-Proto", scheme))
        if request.body or request.method in ("POST", "PUT", "PATCH"):
            headers.append(("Content-Length", str(len(request.body))))
        data = _encode(f"{request.method} {target} HTTP/1.1", headers, request.body)
        reused = self._streams is not None
        try:
            return await self._round_trip(data, request.method)
        except (ConnectionError, asyncio.IncompleteReadError):
            self.close()
            if not reused:
                raise
            return await self._round_trip(data, request.method)  # a stale keep-alive connection

    async def _round_trip(self, data: bytes, method: str) -> _Response:
        if self._streams is None:
            self._streams = await asyncio.wait_for(
                asyncio.open_connection(
                    self.host,
                    self.port,
                    ssl=self.context,
                    server_hostname=self.host if self.context else None,
                ),
                _IO_TIMEOUT,
            )
        reader, writer = self._streams
        writer.write(data)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _IO_TIMEOUT)
        status_line, headers = _parse_head(head)
        version, _, rest = status_line.partition(" ")
        status_text, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/"):
            raise _ProtocolError(f"bad status line {status_line!r}")
        status = int(status_text)
        close = (
            dict((k.lower(), v) for k, v in headers).get("connection") or ""
        ).lower() == "close"
        body = b""
        if not _is_bodyless(method, status):
            framed = any(k.lower() in ("content-length", "transfer-encoding") for k, _ in headers)
            body = await asyncio.wait_for(_read_body(reader, headers, until_eof=True), _IO_TIMEOUT)
            close = close or not framed
        if close:
            self.close()
        return _Response(status, reason, headers, body)

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


class FaultProxy(LoopbackServer):
    """The proxy: `start()`/`stop()` or a context manager; `url`, `host`, `port` once started.

    `tls` makes the proxy itself listen with HTTPS; `upstream_tls_ca` makes it talk HTTPS to the
    upstream, trusting that CA (a TestCA or a CA file).
    """

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        *,
        upstream_tls_ca: TestCA | Path | None = None,
        tls: TestCA | None = None,
    ) -> None:
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.tls = tls
        self._upstream_context: ssl.SSLContext | None = None
        if upstream_tls_ca is not None:
            ca_file = (
                upstream_tls_ca.ca_file if isinstance(upstream_tls_ca, TestCA) else upstream_tls_ca
            )
            self._upstream_context = ssl.create_default_context(cafile=str(ca_file))
        self.port = 0
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._latency_ms = 0.0
        self._rng = random.Random(0)
        self._requests: list[ProxiedRequest] = []
        self._actions: Counter[str] = Counter()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    # --- rules and records -------------------------------------------------------------------

    def set_rules(
        self, rules: Sequence[Mapping[str, Any]], latency_ms: float = 0, seed: int = 0
    ) -> None:
        """Replace the rules (validated now), the fixed latency per request and the RNG seed."""
        parsed = [_Rule.parse(rule) for rule in rules]
        with self._lock:
            self._rules = parsed
            self._latency_ms = latency_ms
            self._rng = random.Random(seed)

    @property
    def requests(self) -> list[ProxiedRequest]:
        """A snapshot of every request received, in arrival order."""
        with self._lock:
            return list(self._requests)

    def stats(self) -> dict[str, Any]:
        """Counts: requests received, per action ("pass" included), and hits per rule."""
        with self._lock:
            return {
                "requests": len(self._requests),
                "actions": dict(self._actions),
                "rules": [
                    {"match": rule.pattern.pattern, "action": rule.action, "hits": rule.hits}
                    for rule in self._rules
                ],
            }

    def _choose(self, request: _Request) -> tuple[_Rule | None, float]:
        """The rule that applies to `request` (consuming its `times`), and the latency to add."""
        subject = f"{request.method} {request.target}"
        with self._lock:
            chosen: _Rule | None = None
            for rule in self._rules:
                if rule.times is not None and rule.times <= 0:
                    continue
                if not rule.pattern.search(subject):
                    continue
                if rule.action == "redirect" and self._already_redirected(rule, request):
                    continue
                if rule.prob is not None and self._rng.random() >= rule.prob:
                    continue
                chosen = rule
                break
            if chosen is not None:
                chosen.hits += 1
                if chosen.times is not None:
                    chosen.times -= 1
            action = chosen.action if chosen is not None else "pass"
            self._actions[action] += 1
            self._requests.append(
                ProxiedRequest(
                    request.method,
                    request.target,
                    {k.lower(): v for k, v in request.headers},
                    action,
                )
            )
            return chosen, self._latency_ms

    @staticmethod
    def _already_redirected(rule: _Rule, request: _Request) -> bool:
        """A redirect to another host name must not fire again on that host (or it never ends)."""
        target_host = rule.options.get("host")
        request_host = (request.header("host") or "").rsplit(":", 1)[0]
        return target_host is not None and request_host == target_host

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Self:
        """Listen on a free port of 127.0.0.1 in a new thread with its own event loop."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            loop.set_exception_handler(_quiet_exception_handler)
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(
                        self._serve_connection,
                        "127.0.0.1",
                        0,
                        ssl=self.tls.server_context() if self.tls else None,
                        limit=_HEAD_LIMIT,
                    )
                )
                self.port = int(self._server.sockets[0].getsockname()[1])
            except BaseException as error:
                failure.append(error)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="faultproxy", daemon=True)
        self._thread.start()
        if not ready.wait(timeout=10):
            raise RuntimeError("fault proxy did not start within 10 s")
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        """Close the listener and every open connection (stalled ones included), end the thread."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    # --- connection handling -------------------------------------------------------------------

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        upstream = _Upstream(self.upstream_host, self.upstream_port, self._upstream_context)
        try:
            await self._serve_requests(reader, writer, upstream)
        except (
            ConnectionError,
            TimeoutError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ssl.SSLError,
            _ProtocolError,
            ValueError,
        ):
            pass
        finally:
            upstream.close()
            writer.close()
            self._connections.discard(task)

    async def _serve_requests(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, upstream: _Upstream
    ) -> None:
        first = await asyncio.wait_for(reader.read(1), _IDLE_TIMEOUT)
        if not first:
            return
        if first == b"\x16" and self.tls is None:
            # A TLS ClientHello on the plain port: answer at once as Go does, so clients that try
            # https first (skopeo, docker) fall back instead of waiting for a handshake timeout.
            writer.write(
                b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
            )
            await writer.drain()
            return
        pending = first
        while True:  # one iteration per request; ends on close, error or idle timeout
            head = pending + await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _IDLE_TIMEOUT)
            pending = b""
            request_line, headers = _parse_head(head)
            parts = request_line.split(" ")
            if len(parts) != 3:
                raise _ProtocolError(f"bad request line {request_line!r}")
            body = await asyncio.wait_for(_read_body(reader, headers, until_eof=False), _IO_TIMEOUT)
            request = _Request(parts[0], parts[1], parts[2], headers, body)
            rule, latency_ms = self._choose(request)
            if latency_ms:
                await asyncio.sleep(latency_ms / 1000)
            keep_alive = await self._apply(rule, request, writer, upstream)
            if not keep_alive or request.wants_close:
                return

    async def _apply(
        self,
        rule: _Rule | None,
        request: _Request,
        writer: asyncio.StreamWriter,
        upstream: _Upstream,
    ) -> bool:
        """Answer one request per `rule`; False when the client connection must end."""
        options: Mapping[str, Any] = rule.options if rule is not None else {}
        action = rule.action if rule is not None else "pass"
        match action:
            case "drop":
                return False
            case "reset":
                _reset(writer)
                return False
            case "stall":
                await asyncio.sleep(options.get("ms", _DEFAULT_STALL_MS) / 1000)
                return False
            case "truncate":
                response = await self._forward(request, upstream)
                full = self._frame(request, response)
                cut = len(full) - len(response.body) + len(response.body) // 2
                writer.write(full[:cut])
                await writer.drain()
                return False
            case "delay":
                await asyncio.sleep(options.get("ms", 0) / 1000)
                response = await self._forward(request, upstream)
            case "status":
                response = _status_response(options)
            case "garbage":
                body = options.get("body", "<html><body>502 Bad Gateway</body></html>")
                response = _Response(
                    200, "OK", [("Content-Type", "application/json")], body.encode()
                )
            case "redirect":
                host = (
                    options.get("host") or (request.header("host") or self.host).rsplit(":", 1)[0]
                )
                location = f"{self.scheme}://{host}:{self.port}{request.target}"
                response = _Response(307, "Temporary Redirect", [("Location", location)], b"")
            case "paginate":
                response = await self._paginate(request, upstream, options)
            case "link_loop":
                response = await self._forward(request, upstream)
                response.headers.append(("Link", f'<{request.target}>; rel="next"'))
            case "endless_pages":
                response = _endless_page(request, options)
            case _:
                response = await self._forward(request, upstream)
        writer.write(self._frame(request, response))
        await writer.drain()
        return True

    async def _forward(
        self, request: _Request, upstream: _Upstream, target: str | None = None
    ) -> _Response:
        try:
            return await upstream.exchange(request, target or request.target, self.scheme)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, _ProtocolError) as error:
            return _json_response(
                502, {"errors": [{"code": "UNKNOWN", "message": f"upstream failed: {error!r}"}]}
            )

    @staticmethod
    def _frame(request: _Request, response: _Response) -> bytes:
        """The response as bytes for the client, re-framed with Content-Length (never chunked)."""
        headers = _without(response.headers, _HOP_BY_HOP)
        body = response.body
        if _is_bodyless(request.method, response.status):
            # HEAD keeps the upstream's Content-Length (what a GET would send) and has no body.
            if response.header("content-length") is None:
                headers.append(("Content-Length", str(len(body))))
            body = b""
        else:
            headers = _without(headers, frozenset({"content-length"}))
            headers.append(("Content-Length", str(len(body))))
        reason = response.reason or _reason(response.status)
        return _encode(f"HTTP/1.1 {response.status} {reason}", headers, body)

    async def _paginate(
        self, request: _Request, upstream: _Upstream, options: Mapping[str, Any]
    ) -> _Response:
        """Serve a sorted page of the full upstream list, with a relative Link when more remain."""
        split = urlsplit(request.target)
        query = parse_qs(split.query)
        # Fetch everything at once: distribution ignores n on tags and caps the catalog at 1000.
        upstream_target = f"{split.path}?n=1000" if split.path.endswith("/_catalog") else split.path
        response = await self._forward(request, upstream, upstream_target)
        if response.status != 200:
            return response
        payload = json.loads(response.body)
        key = "repositories" if "repositories" in payload else "tags"
        items = sorted(payload.get(key) or [])
        last = query.get("last", [None])[0]
        if last is not None:
            items = [item for item in items if item > last]
        # `page_size` caps the page as a registry's own limit does (distribution's
        # catalog.maxentries): a client's larger `n` gets the smaller page and a Link.
        size = int(query.get("n", [options.get("page_size", _DEFAULT_PAGE_SIZE)])[0])
        if "page_size" in options:
            size = min(size, int(options["page_size"]))
        page = items[:size]
        payload[key] = page
        headers: Headers = []
        if size > 0 and len(items) > size:
            headers.append(("Link", _next_link(split.path, page[-1], size)))
        return _json_response(200, payload, headers)


def _next_link(path: str, last: str, size: int) -> str:
    return f'<{path}?{urlencode({"last": last, "n": size}, quote_via=quote)}>; rel="next"'


def _endless_page(request: _Request, options: Mapping[str, Any]) -> _Response:
    """Page k+1 of a list that never ends: `last` says where the previous page stopped."""
    split = urlsplit(request.target)
    query = parse_qs(split.query)
    size = int(query.get("n", [options.get("page_size", _DEFAULT_PAGE_SIZE)])[0])
    last = query.get("last", [""])[0]
    start = int(last.rsplit("-", 1)[-1]) + 1 if last.rsplit("-", 1)[-1].isdigit() else 0
    items = [f"{_ENDLESS_PREFIX}{number:08d}" for number in range(start, start + size)]
    if split.path.endswith("/_catalog"):
        payload: dict[str, Any] = {"repositories": [f"endless/{item}" for item in items]}
    else:
        name = split.path.removeprefix("/v2/").removesuffix("/tags/list")
        payload = {"name": name, "tags": items}
    return _json_response(
        200, payload, [("Link", _next_link(split.path, items[-1], size))] if items else []
    )


def _status_response(options: Mapping[str, Any]) -> _Response:
    status = int(options["status"])
    headers: Headers = [(str(k), str(v)) for k, v in options.get("headers", {}).items()]
    if "retry_after" in options:
        headers.append(("Retry-After", str(options["retry_after"])))
    if "body" in options:
        return _Response(
            status, "", [("Content-Type", "application/json"), *headers], options["body"].encode()
        )
    code = _ERROR_CODES.get(status, "UNAVAILABLE" if status >= 500 else "UNKNOWN")
    return _json_response(
        status,
        {"errors": [{"code": code, "message": f"injected {status}", "detail": None}]},
        headers,
    )


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with SO_LINGER 0, so the peer sees a TCP RST instead of a clean FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def _quiet_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Peers that hang up or fail a handshake are the point of these tests, not news."""
    if isinstance(context.get("exception"), ConnectionError | ssl.SSLError):
        return
    loop.default_exception_handler(context)
