"""Open our registry clients against the harness servers, as the scanner opens them per scan."""

import asyncio
import heapq
import itertools
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

import httpx
import pytest

from hooks.registry.auth import RegistryAuth
from hooks.registry.clock import SYSTEM_CLOCK, Clock
from hooks.registry.config import RegistrySettings
from hooks.registry.credentials import Credential, Keychain
from hooks.registry.distribution import DistributionClient

USERS = {"alice": "secret"}
ALICE = Credential(username="alice", password="secret")


class Server(Protocol):
    """What the clients need of a Registry, FaultProxy or TokenServer: where it is."""

    @property
    def url(self) -> str: ...


class Connect(Protocol):
    def __call__(
        self,
        server: Server | str,
        *,
        registry: str | None = None,
        credential: Credential | None = None,
        keychain: Keychain | None = None,
        settings: RegistrySettings | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> AbstractAsyncContextManager[DistributionClient]: ...


@pytest.fixture
def connect() -> Connect:
    """`async with connect(server, credential=...) as client:` a DistributionClient for `server`.

    The registry is named by the server's host:port unless `registry` says otherwise; a plain
    HTTP server is listed as insecure unless `settings` are given. `credential` is that
    registry's credential (or pass a whole `keychain`).
    """

    @asynccontextmanager
    async def open_client(
        server: Server | str,
        *,
        registry: str | None = None,
        credential: Credential | None = None,
        keychain: Keychain | None = None,
        settings: RegistrySettings | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> AsyncIterator[DistributionClient]:
        base_url = server if isinstance(server, str) else server.url
        name = registry or httpx.URL(base_url).netloc.decode()
        if settings is None:
            insecure = {name} if base_url.startswith("http://") else set()
            settings = RegistrySettings(insecure_registries=frozenset(insecure))
        if name not in settings.endpoints:  # the server is where the test sends the registry
            settings = replace(settings, endpoints={**settings.endpoints, name: base_url})
        if keychain is None:
            keychain = Keychain([(name, credential)] if credential is not None else [])
        async with httpx.AsyncClient(
            verify=settings.ssl_context(), timeout=settings.request_timeout
        ) as client:
            auth = RegistryAuth(
                name, keychain, base_url=base_url, client=client, settings=settings, clock=clock
            )
            yield DistributionClient(name, base_url, client, auth, settings, clock)

    return open_client


class FakeClock(Clock):
    """Time that moves only when a test says so (token expiry without sleeping): `now` is the
    wall and the monotonic reading alike, and a sleep moves it at once."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start.timestamp() if start is not None else time.time()

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        self.now += seconds


class JumpingClock(Clock):
    """A scan's time that passes only while the scan sleeps: whenever `idle` real seconds go by
    with a sleeper waiting, monotonic time jumps to the earliest sleeper's wake-up (wall time
    follows). A deadline or a `Retry-After` of minutes then takes milliseconds of a test."""

    def __init__(self, idle: float = 0.05) -> None:
        self.now = 0.0
        self._epoch = time.time()
        self._idle = idle
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def time(self) -> float:
        return self._epoch + self.now

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._order), woken))
        try:
            while not woken.done():
                await asyncio.wait({woken}, timeout=self._idle)
                if not woken.done():
                    self._jump()
        finally:
            woken.cancel()

    def _jump(self) -> None:
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)
        if self._sleepers:
            self.now = max(self.now, self._sleepers[0][0])
        while self._sleepers and self._sleepers[0][0] <= self.now:
            _, _, woken = heapq.heappop(self._sleepers)
            if not woken.done():
                woken.set_result(None)


def authorizations(requests: list[Any]) -> list[str | None]:
    """The Authorization header of each recorded request (FaultProxy or TokenServer)."""
    return [request.headers.get("authorization") for request in requests]
