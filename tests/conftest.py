"""Fixtures for tests against real servers on 127.0.0.1; the logic lives in tests/harness/."""

import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.harness.faultproxy import FaultProxy
from tests.harness.populate import ImagePlan, synthetic_plan
from tests.harness.registry import DEFAULT_BINARY, Auth, Registry, RegistryFactory
from tests.harness.tls import TestCA
from tests.harness.tokenserver import TokenServer
from tests.shared import require


@pytest.fixture(scope="session")
def registry_binary() -> Path:
    """Path of docker-registry; a failure in CI, a skip elsewhere, when it is not installed."""
    found = shutil.which("docker-registry")
    path = Path(found) if found else DEFAULT_BINARY
    if not path.is_file():
        require("docker-registry", "apt-get install docker-registry")
    return path


@pytest.fixture
def registry_factory(registry_binary: Path) -> Iterator[RegistryFactory]:
    """`registry_factory(plan=, auth=, tls=)` starts a registry; all are stopped after the test."""
    with ExitStack() as stack:

        def start(
            plan: ImagePlan | None = None, auth: Auth | None = None, tls: TestCA | None = None
        ) -> Registry:
            return stack.enter_context(Registry(plan, auth, tls, binary=registry_binary))

        yield start


@pytest.fixture(scope="session")
def populated_registry(registry_binary: Path) -> Iterator[Registry]:
    """One anonymous plain-HTTP registry with `synthetic_plan(200, seed=42)` (`.plan`, `.images`).

    Shared by the whole session: tests must not change its contents.
    """
    with Registry(synthetic_plan(200, seed=42), binary=registry_binary) as registry:
        yield registry


@pytest.fixture
def token_server() -> Iterator[Callable[..., TokenServer]]:
    """`token_server(users=..., **options)` starts a TokenServer; all are stopped after the test."""
    with ExitStack() as stack:

        def start(*args: Any, **options: Any) -> TokenServer:
            return stack.enter_context(TokenServer(*args, **options))

        yield start


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    """A CA and a 127.0.0.1/localhost server certificate, shared by the session."""
    return TestCA(tmp_path_factory.mktemp("test-ca"))


@pytest.fixture
def fault_proxy_factory() -> Iterator[Callable[..., FaultProxy]]:
    """`fault_proxy_factory(upstream_host, upstream_port, **options)`; stopped after the test."""
    with ExitStack() as stack:

        def start(upstream_host: str, upstream_port: int, **options: Any) -> FaultProxy:
            return stack.enter_context(FaultProxy(upstream_host, upstream_port, **options))

        yield start
