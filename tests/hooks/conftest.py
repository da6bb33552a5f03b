"""The hook service against real registries, over real HTTP.

`hooks_env` provides, for one test:

- a public registry holding the images of every user-doc example, behind a fault proxy of the
  test's own (its request log counts registry calls, its rules inject faults); it serves both
  docker.io and ghcr.io;
- a private registry with Basic auth (htpasswd) serving private.registry.io;
  (the two registries are started once per session and never changed;)
- the Docker Hub API listing the docker.io namespaces and the GitHub API listing the ghcr.io
  owners (for the token in `GITHUB_TOKEN` only, as GitHub does);
- a clock the test moves.

`hooks_env.serve(settings)` runs the Flask app in a real WSGI server on 127.0.0.1 and returns a
`HookClient` for it; `hook` is that for the default settings.
"""

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from hooks.app import create_app
from hooks.modelsource.controller import ScanFunction
from hooks.registry.config import RegistrySettings
from hooks.settings import Settings
from tests.harness.dockerhub_api import DockerHubApi
from tests.harness.faultproxy import FaultProxy
from tests.harness.github_api import GitHubApi
from tests.harness.populate import plan_from
from tests.harness.registry import BasicAuth, Registry
from tests.harness.wsgiserver import WsgiServer
from tests.hooks.emulator import Clock, HookClient

START = datetime(2026, 8, 20, 10, 0, tzinfo=UTC)
GITHUB_TOKEN = "ghp_readpackages0123456789abcdefEXAMPLE"
GITHUB_USER = "aim-robot"
PRIVATE_USER, PRIVATE_PASSWORD = "robot", "robot-password"

# The repositories of the user documentation's examples, on docker.io and ghcr.io alike.
PUBLIC_IMAGES: dict[str, list[str]] = {
    "amdenterpriseai/aim-llama3": ["0.8.4", "1.0.0", "latest"],
    "amdenterpriseai/aim-mistral-7b": ["0.9.0"],
    "amdenterpriseai/aim-base": ["0.1.0", "latest"],
    "amdenterpriseai/aim-experimental": ["0.1.0-dev"],
    "amdenterpriseai/tools": ["1.0.0"],
    "silogen/aim-llama": ["0.9.0", "1.0.0", "1.1.0", "2.0.0", "2.1.0-rc1", "latest"],
    "silogen/aim-mistral": ["1.5.0", "2.0.0"],
    "silogen/aim-google-gemma-3-1b-it": ["0.8.0", "0.8.1-rc1"],
    "silogen/tools": ["1.0.0"],
    "myorg/private-model-x": ["1.0.0", "2.0.0"],
    "myorg/public-model": ["1.0.0"],
    # 250 images for the Max Models Limit example (its status shows 100 of 250 created).
    **{f"org/very-broad-pattern-{n}": [f"1.{minor}.0" for minor in range(50)] for n in range(1, 6)},
    "org/narrow": ["1.0.0"],
}
PRIVATE_IMAGES: dict[str, list[str]] = {
    "myorg/model-a": ["0.9.0", "1.0.0", "1.2.0", "latest"],
    "myorg/model-b": ["0.5.0", "1.1.0"],
    "otherorg/model-c": ["1.0.0"],
}


def namespaces(images: dict[str, list[str]]) -> dict[str, list[str]]:
    """Repository names by namespace (first path component), as the Hub and GitHub list them."""
    listed: dict[str, list[str]] = {}
    for repository in images:
        owner, name = repository.split("/", 1)
        listed.setdefault(owner, []).append(name)
    return listed


@dataclass
class HookEnv:
    """Registries, registry APIs, a clock, and hook servers started on demand."""

    public: Registry
    proxy: FaultProxy
    private: Registry
    hub: DockerHubApi
    github: GitHubApi
    clock: Clock
    stack: ExitStack

    def registry_settings(self, **overrides: Any) -> RegistrySettings:
        """docker.io and ghcr.io at the proxied public registry, private.registry.io at the
        private one; credentials allowed over plain HTTP where the tests need them."""
        options: dict[str, Any] = {
            "endpoints": {
                "docker.io": self.proxy.url,
                "ghcr.io": self.proxy.url,
                "private.registry.io": self.private.url,
            },
            "dockerhub_api_url": self.hub.url,
            "github_api_url": self.github.url,
            "insecure_registries": frozenset({"private.registry.io", self.github.host}),
            "scan_deadline": 15.0,
            "request_timeout": 5.0,
        }
        options.update(overrides)
        return RegistrySettings(**options)

    def serve(
        self, settings: Settings | None = None, *, scan: ScanFunction | None = None
    ) -> HookClient:
        """Start the hook service with `settings` (default: `registry_settings()`), and another
        scan function when given (the app factory's own parameter, as replays use it)."""
        settings = settings or Settings(registry=self.registry_settings())
        app = create_app(settings, scan=scan, clock=self.clock)
        server = self.stack.enter_context(WsgiServer(app))
        http = self.stack.enter_context(httpx.Client(base_url=server.url, timeout=60.0))
        return HookClient(http)

    def registry_calls(self) -> int:
        """Requests the public registry has received so far (through the proxy)."""
        return len(self.proxy.requests)

    def api_calls(self) -> int:
        """Requests the Docker Hub and GitHub APIs have received so far."""
        return len(self.hub.requests) + len(self.github.requests)


@pytest.fixture(scope="session")
def doc_registries(registry_binary: Path) -> Iterator[tuple[Registry, Registry]]:
    """The public and the private registry, shared by the session: tests must not change them
    (a test that pushes images starts its own with `registry_factory`)."""
    with (
        Registry(plan_from(PUBLIC_IMAGES), binary=registry_binary) as public,
        Registry(
            plan_from(PRIVATE_IMAGES),
            BasicAuth({PRIVATE_USER: PRIVATE_PASSWORD}),
            binary=registry_binary,
        ) as private,
    ):
        yield public, private


@pytest.fixture
def hooks_env(doc_registries: tuple[Registry, Registry]) -> Iterator[HookEnv]:
    """The whole environment of the hook tests (see the module docstring); everything but the
    registries themselves is fresh for each test."""
    public, private = doc_registries
    with ExitStack() as stack:
        proxy = stack.enter_context(FaultProxy("127.0.0.1", public.port))
        hub = stack.enter_context(DockerHubApi(namespaces(PUBLIC_IMAGES)))
        owners = namespaces(PUBLIC_IMAGES)
        github = stack.enter_context(
            GitHubApi(
                orgs={"silogen": owners["silogen"], "myorg": owners["myorg"]},
                tokens=[GITHUB_TOKEN],
            )
        )
        yield HookEnv(public, proxy, private, hub, github, Clock(START), stack)


@pytest.fixture
def hook(hooks_env: HookEnv) -> HookClient:
    """A hook server with the default test settings."""
    return hooks_env.serve()
