"""A registry, token realm, Docker Hub API and GitHub API in one server that answers what a test
stubs, and the calls of every client against it.

The hostile-registry campaign (test_hostile_registry.py) sends one hostile answer through each
client: the registry's tag list and catalog, an error body, the token realm, the Hub API and the
GitHub API. A root cause in the transport must be closed for all of them, so each test runs over
`CALLS`, each of which puts the answer where its client reads it.
"""

import asyncio
import gzip
import zlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Self

import httpx

from hooks.registry.auth import RegistryAuth
from hooks.registry.clock import SYSTEM_CLOCK
from hooks.registry.config import RegistrySettings
from hooks.registry.credentials import Keychain
from hooks.registry.distribution import DistributionClient
from hooks.registry.dockerhub import DockerHubClient
from hooks.registry.github import GitHubPackagesClient
from tests.harness.apiserver import ApiServer, RecordedRequest, Reply

REGISTRY = "hostile.test"
REPOSITORY = "org/model"
TAGS_PATH = f"/v2/{REPOSITORY}/tags/list"
CATALOG_PATH = "/v2/_catalog"
TOKEN_PATH = "/token"
HUB_PATH = "/v2/namespaces/org/repositories"
HUB_SIGN_IN_PATH = "/v2/auth/token"
GITHUB_PATH = "/orgs/org/packages"


class HostileServer(ApiServer):
    """Answers 404 to anything not stubbed; `/v2/` answers 200 (a registry that needs no auth)."""

    def start(self) -> Self:
        """Serve quietly: clients that stop reading a bomb reset the connection on purpose."""
        started = super().start()
        assert self._serving is not None
        self._serving.server.handle_error = lambda request, address: None  # type: ignore[method-assign]
        return started

    def handle(self, request: RecordedRequest) -> Reply:
        if request.path == "/v2/":
            return Reply(200, {})
        return Reply(404, {"errors": [{"code": "NAME_UNKNOWN", "message": "unknown"}]})


def settings_for(server: HostileServer, **overrides: Any) -> RegistrySettings:
    """The hostile server as `hostile.test`, the Hub API and the GitHub API, plain HTTP allowed."""
    options: dict[str, Any] = {
        "endpoints": {REGISTRY: server.url},
        "dockerhub_api_url": server.url,
        "github_api_url": server.url,
        "insecure_registries": frozenset({REGISTRY, server.host}),
        "request_timeout": 5.0,
    }
    options.update(overrides)
    return RegistrySettings(**options)


def gzipped(size: int, layers: int = 1) -> bytes:
    """`size` zero bytes, gzip-compressed `layers` times, without holding `size` bytes at once."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = bytes(1024 * 1024)
    parts = [compressor.compress(block) for _ in range(size // len(block))]
    data = b"".join([*parts, compressor.flush()])
    for _ in range(layers - 1):
        data = gzip.compress(data, 9)
    return data


@dataclass(frozen=True)
class Call:
    """One client reading one answer: `path` is where the server must put the answer."""

    name: str
    path: str
    run: Callable[[httpx.AsyncClient, RegistrySettings, Keychain], Awaitable[object]]
    token_realm: bool = False


async def _tags(client: httpx.AsyncClient, settings: RegistrySettings, keychain: Keychain) -> Any:
    return await _distribution(client, settings, keychain).tags(REPOSITORY)


async def _catalog(
    client: httpx.AsyncClient, settings: RegistrySettings, keychain: Keychain
) -> Any:
    return [page async for page in _distribution(client, settings, keychain).catalog()]


async def _hub(client: httpx.AsyncClient, settings: RegistrySettings, keychain: Keychain) -> Any:
    return await _hub_listing(client, settings, None)


async def _hub_signed_in(
    client: httpx.AsyncClient, settings: RegistrySettings, keychain: Keychain
) -> Any:
    return await _hub_listing(client, settings, ("hub-user", "hub-secret"))


async def _hub_listing(
    client: httpx.AsyncClient, settings: RegistrySettings, login: tuple[str, str] | None
) -> Any:
    hub = DockerHubClient(
        client,
        settings.dockerhub_api_url,
        username=login and login[0],
        secret=login and login[1],
        settings=settings,
        clock=SYSTEM_CLOCK,
    )
    return [page async for page in hub.repositories("org")]


async def _github(client: httpx.AsyncClient, settings: RegistrySettings, keychain: Keychain) -> Any:
    github = GitHubPackagesClient(
        client,
        settings.github_api_url,
        token="gh-token",
        settings=settings,
        clock=SYSTEM_CLOCK,
    )
    return [page async for page in github.packages("org")]


def _distribution(
    client: httpx.AsyncClient, settings: RegistrySettings, keychain: Keychain
) -> DistributionClient:
    base_url = settings.base_url(REGISTRY)
    auth = RegistryAuth(REGISTRY, keychain, base_url=base_url, client=client, settings=settings)
    return DistributionClient(REGISTRY, base_url, client, auth, settings)


CALLS = (
    Call("tag list", TAGS_PATH, _tags),
    Call("catalog", CATALOG_PATH, _catalog),
    Call("token realm", TOKEN_PATH, _tags, token_realm=True),
    Call("Docker Hub API", HUB_PATH, _hub),
    Call("GitHub API", GITHUB_PATH, _github),
)
TOKEN_CALLS = (CALLS[2], Call("Docker Hub sign-in", HUB_SIGN_IN_PATH, _hub_signed_in))


def challenge(server: HostileServer, realm: str | None = None) -> Reply:
    """A registry's 401 that sends the client to a token realm (by default the server's own)."""
    where = realm if realm is not None else f"{server.url}{TOKEN_PATH}"
    return Reply(
        401,
        {"errors": [{"code": "UNAUTHORIZED"}]},
        {"WWW-Authenticate": f'Bearer realm="{where}",service="{REGISTRY}"'},
    )


def place(server: HostileServer, call: Call, reply: Reply) -> None:
    """Stub `reply` where `call` reads it (a token realm also needs the registry's challenge)."""
    if call.token_realm:
        server.stub(TAGS_PATH, challenge(server))
    server.stub(call.path, reply)


def run(
    call: Call,
    settings: RegistrySettings,
    keychain: Keychain | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> object:
    """Run one call and return its result, or the exception it raised (never re-raised)."""

    async def scenario() -> object:
        async with httpx.AsyncClient(
            timeout=settings.request_timeout,
            follow_redirects=False,
            trust_env=False,
            transport=transport,
        ) as client:
            try:
                return await call.run(client, settings, keychain or Keychain())
            except Exception as error:
                return error

    return asyncio.run(scenario())


def header_map(**headers: str) -> Mapping[str, str]:
    """Headers for a Reply, written as keyword arguments (`content_encoding=...`)."""
    return {name.replace("_", "-").title(): value for name, value in headers.items()}
