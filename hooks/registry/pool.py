"""httpx's API over aiohttp's connection pool: the client and transport of every registry request.

Our code is written against httpx (requests, responses, exceptions); this module is the only one
that knows aiohttp is underneath. httpcore's pool and its per-request machinery made a
200-repository scan CPU-bound; aiohttp parses HTTP in C and keeps its idle connections per host
in a queue, a fraction of the CPU per request through httpx (bench/README.md, "Client CPU per
request").

What stays httpx's job, and the transport must not take over:

- redirects: every request is sent with `allow_redirects=False`; the client decides (ours never
  follows them, so credentials never reach another host);
- content decoding: `auto_decompress=False`, so a response's stream is the raw bytes as sent
  (chunked framing removed) and its headers still say how they are encoded;
- cookies: aiohttp's jar is a `DummyCookieJar`, so nothing is stored or sent that httpx did not;
- proxies from the environment: `trust_env=False`, as for the httpx clients;
- retries: a request the server hangs up on is not sent again behind the scanner's back;
- errors: every aiohttp and socket failure is raised as the httpx exception of the same kind
  (`_as_httpx`), which hooks/registry/transport.py turns into a RegistryError.

`RegistryClient` is the httpx client each registry's scan sends through, over this transport.

One transport (and its pool) serves one registry's scan. The aiohttp session is made on the first
request, in the event loop of that request, and dropped by `aclose`, so a transport closed at the
end of one scan opens a new session in the next one's loop.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import aiohttp
import httpx
from httpx._types import CookieTypes
from yarl import URL

# aiohttp's failures, most specific first, and the httpx exception each is raised as. The httpx
# classes are what hooks/registry/transport.py maps to messages: a timeout says "did not answer
# in time", ConnectError "cannot connect" (or the TLS hint when an ssl error is in its cause
# chain), RemoteProtocolError and ReadError "connection was dropped".
_HTTPX_ERRORS: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (TimeoutError, httpx.ReadTimeout),  # aiohttp's SocketTimeoutError and asyncio's timeouts
    (aiohttp.ClientConnectorError, httpx.ConnectError),  # refused, DNS, TLS handshake
    (OSError, httpx.ReadError),  # reset, broken pipe, and aiohttp's ClientOSError
)


# What `_as_httpx` converts; anything else (cancellation above all) passes untouched.
_FAILURES = (aiohttp.ClientError, OSError)


def _as_httpx(error: aiohttp.ClientError | OSError) -> httpx.TransportError:
    """The httpx exception for one of aiohttp's or the socket's failures. The others not in
    `_HTTPX_ERRORS` are the server's answer gone wrong (a hang-up before it, a body cut short, a
    status line or header that is not HTTP): RemoteProtocolError."""
    raised = next(
        (raised for caught, raised in _HTTPX_ERRORS if isinstance(error, caught)),
        httpx.RemoteProtocolError,
    )
    return raised(str(error) or type(error).__name__)


class _Body(httpx.AsyncByteStream):
    """An aiohttp response's raw body as httpx reads it; closing it gives its connection back
    (or closes the connection, when the body was not read to its end)."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except _FAILURES as error:
            raise _as_httpx(error) from error

    async def aclose(self) -> None:
        self._response.release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """At most `connections` HTTP/1.1 connections, kept alive between requests, trusting the CAs
    of `verify` (one context per CA bundle version, shared: hooks/registry/config.py)."""

    def __init__(self, connections: int, verify: ssl.SSLContext) -> None:
        self._connections = max(1, connections)
        self._verify = verify
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[tuple[float | None, ...], aiohttp.ClientTimeout] = {}

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=self._connections, ssl=self._verify)
        session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=False,
        )
        # aiohttp sends a GET again, at once, when the server hangs up on it; it has no public
        # switch for that (aiohttp is pinned, and tests/registry/test_pool.py counts the
        # connections). Retries are the scanner's: counted, backed off, within the deadline.
        session._retry_connection = False
        return session

    def _timeout(self, request: httpx.Request) -> aiohttp.ClientTimeout:
        """httpx's timeouts as aiohttp's: waiting for a free connection and connecting share
        aiohttp's `connect`, as they share httpx's deadline in practice (the same value)."""
        given = request.extensions.get("timeout", {})
        key = (given.get("connect"), given.get("read"), given.get("pool"))
        timeout = self._timeouts.get(key)
        if timeout is None:
            connect, read, pool = key
            timeout = aiohttp.ClientTimeout(sock_connect=connect, sock_read=read, connect=pool)
            self._timeouts[key] = timeout
        return timeout

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._session is None:
            self._session = self._open()
        body = await request.aread()
        try:
            response = await self._session.request(
                request.method,
                URL(str(request.url), encoded=True),  # as httpx encoded it, not requoted
                headers=request.headers.multi_items(),
                data=body or None,
                allow_redirects=False,
                timeout=self._timeout(request),
            )
        except _FAILURES as error:
            raise _as_httpx(error) from error
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_Body(response),
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


class _SetCookies(httpx.Cookies):
    """httpx's cookie jar, opened only for a response that sets a cookie.

    httpx hands every response to its client's jar, which builds urllib look-alikes of the
    request and the response to learn that there is no `Set-Cookie`: ~60 µs, an eighth of a
    registry request's client CPU. A registry that does set one (a load balancer's sticky
    session) has it kept and sent back as before.
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        if "set-cookie" in response.headers:
            super().extract_cookies(response)


class RegistryClient(httpx.AsyncClient):
    """The httpx client of one registry's scan: httpx's, with the cookie jar above."""

    def __init__(self, *, transport: httpx.AsyncBaseTransport, timeout: float) -> None:
        super().__init__(
            timeout=timeout, follow_redirects=False, transport=transport, trust_env=False
        )
        self._set_cookies = _SetCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._set_cookies

    @cookies.setter
    def cookies(self, cookies: CookieTypes) -> None:
        self._set_cookies = _SetCookies(cookies)
