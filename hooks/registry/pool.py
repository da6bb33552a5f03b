"""The connections of one registry, split over several small httpx pools.

httpcore's pool, on every request it assigns, walks all of its connections and asks each one
whether it has expired, a check that goes through anyio's socket attributes. At the scan's 16
connections that walk was 38% of a profiled 200-repository scan's CPU. Four pools of four
connections each walk a quarter as many, and a request goes to the pool with the fewest
requests in flight, so the connections are used as evenly as by one pool (bench/README.md).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import httpx

# Connections per pool: small enough that a pool's walk is cheap, large enough that a pool
# rarely has none free while another has spares.
CONNECTIONS_PER_POOL = 4


class _InFlight(httpx.AsyncByteStream):
    """A response body that gives its pool's slot back once it is read or closed."""

    def __init__(self, stream: httpx.AsyncByteStream, counts: list[int], pool: int) -> None:
        self._stream = stream
        self._counts = counts
        self._pool = pool
        self._open = True

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if self._open:
                self._open = False
                self._counts[self._pool] -= 1


class ShardedTransport(httpx.AsyncBaseTransport):
    """Several `AsyncHTTPTransport`s behind one, each request to the least busy of them."""

    def __init__(self, connections: int, verify: ssl.SSLContext) -> None:
        pools = max(1, -(-connections // CONNECTIONS_PER_POOL))
        per_pool = -(-connections // pools)
        self._pools = [
            httpx.AsyncHTTPTransport(
                verify=verify, limits=httpx.Limits(max_connections=per_pool), trust_env=False
            )
            for _ in range(pools)
        ]
        self._counts = [0] * pools

    @property
    def in_flight(self) -> int:
        """Requests sent whose response is not yet closed: 0 whenever the scan is idle."""
        return sum(self._counts)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        pool = min(range(len(self._pools)), key=self._counts.__getitem__)
        self._counts[pool] += 1
        try:
            response = await self._pools[pool].handle_async_request(request)
        except BaseException:
            self._counts[pool] -= 1
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_InFlight(response.stream, self._counts, pool),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()
