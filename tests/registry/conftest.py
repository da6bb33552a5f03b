"""Open our registry clients against the harness servers, as the scanner opens them per scan."""

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from typing import Any, Protocol

import httpx
import pytest

from hooks.registry.auth import RegistryAuth
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
        clock: Callable[[], float] = time.time,
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
        clock: Callable[[], float] = time.time,
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


class FakeClock:
    """Time that moves only when a test says so (token expiry without sleeping)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def authorizations(requests: list[Any]) -> list[str | None]:
    """The Authorization header of each recorded request (FaultProxy or TokenServer)."""
    return [request.headers.get("authorization") for request in requests]
