"""A real registry behind the fault proxy, the product's settings for it, and one sync call.

The registry is the test harness's (Debian's docker-registry on 127.0.0.1, storage on tmpfs);
sources name it as `models.example.com`, which the settings point at the proxy, exactly as the
hook tests do. A benchmark whose tool is missing says what to install and skips.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from bench.proxy import ProxyProcess
from hooks.metacontroller import parse_sync_request
from hooks.modelsource.controller import SyncResult, sync_source
from hooks.registry.config import RegistrySettings
from hooks.registry.scanner import scan_registries
from hooks.settings import settings_from_env
from tests.harness.populate import ImagePlan
from tests.harness.registry import DEFAULT_BINARY, Registry
from tests.hooks import wire

REGISTRY = "models.example.com"
NAMESPACE = "kaiwo-system"
SOURCE = "bench-source"


def have(command: str, install: str, what: str) -> bool:
    """Whether `command` is installed; if not, say what is skipped and how to install it."""
    if shutil.which(command) or os.path.isfile(command):
        return True
    print(f"note: {what} skipped: {command} is not installed ({install})", flush=True)
    return False


def require_registry() -> None:
    """Exit cleanly, with the install hint, when docker-registry is missing."""
    if not have(str(DEFAULT_BINARY), "apt-get install docker-registry", "this benchmark"):
        sys.exit(0)


# A registry on its own host does not take the client's cores. This one shares two with the
# client and the proxy, and with two Go Ps its scheduler spins between requests: 0.34-0.41 s of
# CPU per 203-request scan, 0.21-0.26 s with one P (docker-registry 2.8, 2026-12-06).
REGISTRY_ENVIRONMENT = {"GOMAXPROCS": "1"}


@contextmanager
def proxied_registry(plan: ImagePlan) -> Iterator[tuple[Registry, ProxyProcess]]:
    """The registry holding `plan` (with REGISTRY_ENVIRONMENT), and the fault proxy in front."""
    with (
        Registry(plan, environment=REGISTRY_ENVIRONMENT) as registry,
        ProxyProcess(registry.port) as proxy,
    ):
        yield registry, proxy


def product_settings(proxy: ProxyProcess, **overrides: Any) -> RegistrySettings:
    """The product's registry settings from the environment (AIM_SCAN_CONCURRENCY applies),
    with `models.example.com` served by the proxy and a deadline no benchmark reaches."""
    base = settings_from_env(os.environ).registry
    options: dict[str, Any] = {
        "endpoints": {REGISTRY: proxy.url},
        "concurrency": base.concurrency,
        "request_timeout": base.request_timeout,
        "scan_deadline": 120.0,
    }
    options.update(overrides)
    return RegistrySettings(**options)


def sync_request(
    spec: Mapping[str, Any],
    status: Mapping[str, Any] | None = None,
    children: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """A model-source sync request as Metacontroller sends it (the `default` config exists)."""
    parent = wire.source(SOURCE, spec, status=status)
    related = wire.source_related(spec, [wire.config("default", {})])
    return wire.sync_request(parent, children or {}, related)


def sync_once(
    spec: Mapping[str, Any],
    settings: RegistrySettings,
    *,
    status: Mapping[str, Any] | None = None,
    children: Mapping[str, Mapping[str, Any]] | None = None,
    now: datetime | None = None,
) -> SyncResult:
    """One call of the product's sync hook with the real scanner, in this process."""
    request = parse_sync_request(sync_request(spec, status, children))
    return sync_source(
        request,
        scan=partial(scan_registries, settings=settings),
        now=now or datetime.now(UTC),
        operator_namespace=NAMESPACE,
    )


@dataclass
class PlayedSource:
    """A source synced call after call as Metacontroller would: each answer's status goes back
    into the parent, and its new children into the observed ones (as the API server holds them)."""

    spec: dict[str, Any]
    settings: RegistrySettings
    status: dict[str, Any] | None = None
    observed: dict[str, dict[str, Any]] = field(default_factory=dict)
    parent: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.parent = wire.source(SOURCE, self.spec)

    @property
    def state(self) -> str:
        """The status of the last answer; Progressing before the first."""
        return str(self.status["status"]) if self.status is not None else "Progressing"

    def sync(self) -> SyncResult:
        """One call of the sync hook, its answer written back."""
        result = sync_once(self.spec, self.settings, status=self.status, children=self.observed)
        self.status = dict(result.response.status)
        for serial, child in enumerate(result.response.children, start=len(self.observed)):
            name = child["metadata"]["name"]
            if name not in self.observed:
                self.observed[name] = wire.observed_child(child, self.parent, serial)
        return result
