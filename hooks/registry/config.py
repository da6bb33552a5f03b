"""Where registries are served and how hard we may lean on them.

Plain data, built once from the environment by `hooks.settings`; tests and air-gapped users point
a registry host at their own server through `endpoints`.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field

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
        """System trust plus the operator's extra CA bundle, if any."""
        context = ssl.create_default_context()
        if self.ca_bundle:
            context.load_verify_locations(cafile=self.ca_bundle)
        return context
