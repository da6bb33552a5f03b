"""Where registries are served and how hard we may lean on them.

Plain data, built once from the environment by `hooks.settings`; tests and air-gapped users point
a registry host at their own server through `endpoints`.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from urllib.parse import urlsplit

from hooks.reference import canonical_registry

DOCKER_HUB_REGISTRY_URL = "https://registry-1.docker.io"
# Hosts every deployment may talk to, labelled as themselves in the metrics.
WELL_KNOWN_HOSTS = frozenset(
    {"docker.io", "auth.docker.io", "hub.docker.com", "ghcr.io", "api.github.com", "quay.io"}
)
# The one `registry` label of every host the operator did not configure.
OTHER_HOSTS_LABEL = "other"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# Networks no registry, token realm or redirect a source leads to may be reached in: the
# machine itself, "this network", link-local (cloud metadata endpoints: 169.254.169.254 and
# AWS's fd00:ec2::254). Private ranges stay reachable: air-gapped registries live there.
DEFAULT_DENIED_NETWORKS = (
    "127.0.0.0/8",
    "::1/128",
    "0.0.0.0/8",
    "::/128",
    "169.254.0.0/16",
    "fe80::/10",
    "fd00:ec2::254/128",
)


def parse_networks(texts: Iterable[str]) -> tuple[Network, ...]:
    """CIDR networks (`10.0.0.0/8`, `::1/128`, or a bare address); ValueError for others."""
    return tuple(ipaddress.ip_network(text.strip(), strict=False) for text in texts)


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
    denied_networks: tuple[Network, ...] = parse_networks(DEFAULT_DENIED_NETWORKS)
    check_addresses: bool = True
    """Resolve and check hosts nobody configured; False only where no request reaches a
    network (a cassette replay, which runs offline)."""

    def base_url(self, registry: str) -> str:
        """The URL a canonical registry host is served at (`docker.io` is registry-1.docker.io)."""
        if registry in self.endpoints:
            return self.endpoints[registry].rstrip("/")
        if registry == "docker.io":
            return DOCKER_HUB_REGISTRY_URL
        scheme = "http" if registry in self.insecure_registries else "https"
        return f"{scheme}://{registry}"

    def metric_label(self, host: str) -> str:
        """The `registry` label of a request to `host` (host[:port]): a host the operator
        configured or a well-known one as itself (an endpoint by the registry it serves),
        any other as OTHER_HOSTS_LABEL.

        Redirects, token realms and sources name hosts too; were each a label value, a registry
        could make a time series per request (and fill the multiprocess metric files).
        """
        canonical = canonical_registry(host)
        if canonical in WELL_KNOWN_HOSTS:
            return canonical
        return self._configured_hosts.get(canonical, OTHER_HOSTS_LABEL)

    def is_configured(self, host: str) -> bool:
        """Whether the operator named `host` (host[:port]): an AIM_REGISTRY_ENDPOINTS registry
        or URL, an AIM_INSECURE_REGISTRIES host, the Hub or GitHub API. Those are reached
        wherever they are; `denied_networks` applies to every other host."""
        return canonical_registry(host) in self._configured_hosts

    def denied_network(self, address: Address) -> Network | None:
        """The denied network `address` is in (an IPv4-mapped IPv6 address as its IPv4)."""
        mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        return next(
            (
                network
                for network in self.denied_networks
                if address in network or (mapped is not None and mapped in network)
            ),
            None,
        )

    @cached_property
    def _configured_hosts(self) -> dict[str, str]:
        """Each configured host and its metric label (an endpoint URL's by its registry)."""
        hosts = {host: host for host in self.insecure_registries}
        for url in (self.dockerhub_api_url, self.github_api_url):
            netloc = canonical_registry(urlsplit(url).netloc)
            hosts[netloc] = netloc
        for registry, url in self.endpoints.items():
            hosts[registry] = registry
            hosts[canonical_registry(urlsplit(url).netloc)] = registry
        return hosts

    def allows_plain_http(self, host: str) -> bool:
        """Credentials may travel over plain HTTP only to hosts the operator listed as insecure."""
        return host in self.insecure_registries

    def ssl_context(self) -> ssl.SSLContext:
        """System trust plus the operator's extra CA bundle, if any.

        Loading the system roots costs a noticeable share of a small scan's CPU
        (bench/README.md), so a context is built once and shared by every scan (OpenSSL contexts
        are safe to share between threads); a CA bundle that changes on disk (a remounted Secret
        or ConfigMap) is loaded again.
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
