"""The world the reliability campaigns run in, all on 127.0.0.1, and the figures they report.

`world` (one per session) holds three real registries:

- `registry.test`: token auth (a token server that only knows the planted credentials, behind
  a fault proxy of its own), behind the fault proxy the campaigns program;
- `other.test`: anonymous, behind a proxy that only records (its pull secret holds a planted
  registry token, which is the one credential it may receive);
- `secure.test`: HTTPS with a certificate from a CA the hook is not told to trust;

plus a decoy standing in for the Docker Hub and GitHub APIs, which no campaign should reach.
`serve(settings)` runs the hook service in a real WSGI server for one test.

At the end of the run the figures (cases, children dropped, secrets found) are printed, so every
CI log shows them.
"""

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from hooks.app import create_app
from hooks.registry.config import RegistrySettings
from hooks.settings import Settings
from tests.harness.apiserver import ApiServer, RecordedRequest, Reply
from tests.harness.faultproxy import FaultProxy
from tests.harness.populate import plan_from
from tests.harness.registry import Registry, TokenAuth
from tests.harness.tls import TestCA
from tests.harness.tokenserver import TokenServer
from tests.harness.wsgiserver import WsgiServer
from tests.hooks.emulator import Clock, HookClient
from tests.reliability.planted import IDENTITY_TOKEN, PASSWORD, USERNAME, Planted
from tests.reliability.scenarios import IMAGES, OTHER, PRIMARY, SECURE

START = datetime(2026, 8, 20, 10, 0, tzinfo=UTC)
# Metacontroller's webhook timeout for the sync hook in metacontroller/ (a contract bound).
WEBHOOK_TIMEOUT_SECONDS = 30.0
TEST_SERVER_THREADS = 64


class Decoy(ApiServer):
    """Stands in for the Docker Hub and GitHub APIs: answers 404 and records every caller."""

    def handle(self, request: RecordedRequest) -> Reply:
        return Reply(404, {"message": "Not Found"})


@dataclass
class World:
    """The servers of the campaigns (see the module docstring)."""

    token_server: TokenServer
    token_proxy: FaultProxy
    registry: Registry
    proxy: FaultProxy
    other: Registry
    other_proxy: FaultProxy
    secure: Registry
    wrong_ca: TestCA
    decoy: Decoy

    def registry_settings(self, **overrides: Any) -> RegistrySettings:
        """Each test registry at its server; plain HTTP allowed for registry.test and
        other.test only; the wrong CA trusted; short timeouts, so that a fault costs seconds."""
        options: dict[str, Any] = {
            "endpoints": {
                PRIMARY: self.proxy.url,
                OTHER: self.other_proxy.url,
                SECURE: self.secure.url,
            },
            "dockerhub_api_url": self.decoy.url,
            "github_api_url": self.decoy.url,
            "insecure_registries": frozenset({PRIMARY, OTHER}),
            "ca_bundle": str(self.wrong_ca.ca_file),
            "concurrency": 4,
            "request_timeout": 1.0,
            "scan_deadline": 6.0,
            "max_pages": 20,
        }
        options.update(overrides)
        return RegistrySettings(**options)

    def settings(self, **overrides: Any) -> Settings:
        """Service settings around `registry_settings(**overrides)`. The test server gives each
        request a thread of its own, not gunicorn's AIM_THREADS: as many scan slots as the
        campaigns send syncs at once, so that each of them scans."""
        return Settings(registry=self.registry_settings(**overrides), threads=TEST_SERVER_THREADS)

    def calm(self) -> None:
        """No fault anywhere."""
        self.proxy.set_rules([])
        self.token_proxy.set_rules([])
        self.other_proxy.set_rules([])
        self.token_server.fail_mode = None


@pytest.fixture(scope="session")
def world(
    registry_binary: Path, test_ca: TestCA, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """The campaign servers, started once; every test starts from `calm()`."""
    plan = plan_from(IMAGES)
    with ExitStack() as stack:
        tokens = stack.enter_context(
            TokenServer(
                {USERNAME: PASSWORD},
                anonymous_pull=False,
                refresh_tokens={IDENTITY_TOKEN: USERNAME},
            )
        )
        token_proxy = stack.enter_context(FaultProxy("127.0.0.1", tokens.port))
        registry = stack.enter_context(
            Registry(
                plan, TokenAuth(tokens, realm=f"{token_proxy.url}/token"), binary=registry_binary
            )
        )
        proxy = stack.enter_context(FaultProxy("127.0.0.1", registry.port))
        other = stack.enter_context(Registry(plan, binary=registry_binary))
        other_proxy = stack.enter_context(FaultProxy("127.0.0.1", other.port))
        secure = stack.enter_context(Registry(plan, tls=test_ca, binary=registry_binary))
        wrong_ca = TestCA(tmp_path_factory.mktemp("wrong-ca"), name="unrelated-ca")
        decoy = stack.enter_context(Decoy())
        yield World(
            tokens, token_proxy, registry, proxy, other, other_proxy, secure, wrong_ca, decoy
        )


@pytest.fixture
def calm_world(world: World) -> Iterator[World]:
    """The world with no fault injected, and none left behind for the next test."""
    world.calm()
    yield world
    world.calm()


Serve = Callable[[Settings], HookClient]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """`serve(settings)` starts the hook service in a real WSGI server; stopped after the test."""
    with ExitStack() as stack:

        def start(settings: Settings) -> HookClient:
            server = stack.enter_context(WsgiServer(create_app(settings, clock=Clock(START))))
            http = stack.enter_context(
                httpx.Client(base_url=server.url, timeout=WEBHOOK_TIMEOUT_SECONDS)
            )
            return HookClient(http)

        yield start


@pytest.fixture
def planted() -> Planted:
    """The planted credentials, and the search for them."""
    return Planted()


@dataclass
class Figures:
    """What the campaigns ran and found, for the end-of-run summary (tests/README.md)."""

    faults: set[str] = field(default_factory=set)
    cases: int = 0
    rounds: int = 0
    children_received: int = 0
    children_dropped: int = 0
    texts_searched: int = 0
    secret_hits: int = 0
    hostile: Counter[str] = field(default_factory=Counter)
    hostile_registry: dict[str, str] = field(default_factory=dict)
    hostile_names: list[str] = field(default_factory=list)
    soak: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> list[str]:
        """The figures as lines for the terminal."""
        hostile = ", ".join(f"{kind} {count}" for kind, count in sorted(self.hostile.items()))
        registries = [f"  {k}: {v}" for k, v in sorted(self.hostile_registry.items())]
        return [
            f"fault campaign: {len(self.faults)} faults (the fault-free baseline included), "
            f"{self.cases} fault x scenario cases "
            f"({self.rounds} syncs), {self.children_received} existing children sent, "
            f"{self.children_dropped} dropped",
            f"hostile input: {hostile or 'not run'}",
            f"hostile registries: {'' if registries else 'not run'}",
            *registries,
            f"hostile names: {'' if self.hostile_names else 'not run'}",
            *(f"  {line}" for line in self.hostile_names),
            f"secrets: {self.texts_searched} texts searched, {self.secret_hits} planted values "
            "found",
            f"soak: {self._soak()}",
        ]

    def _soak(self) -> str:
        if not self.soak:
            return "not run"
        report = self.soak
        memory = ", ".join(
            f"{old['rss_kib'] / 1024:.1f} -> {new['rss_kib'] / 1024:.1f} MiB"
            for old, new in zip(report["workers_before"], report["workers_after"], strict=True)
        )
        return (
            f"{report['requests']} requests in {report['seconds']} s, {report['errors']} errors, "
            f"{report['children_dropped']} children dropped, worker RSS {memory}"
        )


FIGURES = pytest.StashKey[Figures]()


@pytest.fixture(scope="session")
def figures(pytestconfig: pytest.Config) -> Figures:
    """The session's figures, shared by every campaign."""
    return pytestconfig.stash.setdefault(FIGURES, Figures())


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Print the figures when a campaign ran."""
    found = config.stash.get(FIGURES, None)
    if found is not None:
        terminalreporter.section("reliability figures")
        for line in found.summary():
            terminalreporter.write_line(line)
