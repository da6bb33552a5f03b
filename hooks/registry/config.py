"""Where registries are served and how hard we may lean on them.

Plain data, built once from the environment by `hooks.settings`; tests and air-gapped users point
a registry host at their own server through `endpoints`.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

DOCKER_HUB_REGISTRY_URL = "https://registry-1.docker.io"


@dataclass(frozen=True)
class RegistrySettings:
    """Endpoints, trust and limits for every registry call of a scan."""

    endpoints: Mapping[str, str] = field(default_factory=dict)
    dockerhub_api_url: str = "https://hub.docker.com"
    github_api_url: str = "https://api.github.com"
    insecure_registries: frozenset[str] = frozenset()
    ca_bundle: str | None = None
    concurrency: int = 16
    request_timeout: float = 10.0
    scan_deadline: float = 20.0
    max_pages: int = 200
    # A wildcard whose listing has not ended after this long of continued calls stops there.
    max_continuation_seconds: float = 3600.0
    max_tags_per_repository: int = 10_000
    max_response_bytes: int = 8 * 1024 * 1024

    def base_url(self, registry: str) -> str:
        """The URL a canonical registry host is served at (`docker.io` is registry-1.docker.io)."""
        if registry in self.endpoints:
            return self.endpoints[registry].rstrip("/")
        if registry == "docker.io":
            return DOCKER_HUB_REGISTRY_URL
        scheme = "http" if registry in self.insecure_registries else "https"
        return f"{scheme}://{registry}"

    def allows_plain_http(self, host: str) -> bool:
        """Credentials may travel over plain HTTP only to hosts the operator listed as insecure."""
        return host in self.insecure_registries

    def ssl_context(self) -> ssl.SSLContext:
        """System trust plus the operator's extra CA bundle, if any.

        Loading the system roots costs ~20 ms of CPU, a fifth of a small scan, so a context is
        built once and shared by every scan (OpenSSL contexts are safe to share between threads);
        a CA bundle that changes on disk (a remounted Secret or ConfigMap) is loaded again.
        OSError when the bundle cannot be read, ssl.SSLError when it holds no usable certificate.
        """
        version = None
        if self.ca_bundle:
            stat = os.stat(self.ca_bundle)
            version = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        return _trust(self.ca_bundle, version)


@lru_cache(maxsize=4)
def _trust(ca_bundle: str | None, version: tuple[int, int, int] | None) -> ssl.SSLContext:
    """A context for one version of the bundle (`version` only keys the cache)."""
    context = ssl.create_default_context()
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)
    return context
