"""Configuration from the environment, read once at start-up.

Everything else receives a `Settings` value; nothing below the web layer reads the environment.
A bad value stops the service at start with a message naming the variable, instead of surfacing
later as odd behaviour.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hooks.reference import canonical_registry
from hooks.registry.config import DEFAULT_DENIED_NETWORKS, Network, RegistrySettings, parse_networks
from hooks.tokens import TokenFileError, read_tokens


class SettingsError(ValueError):
    """An environment variable has a value we cannot use; the message names it."""


@dataclass(frozen=True)
class Settings:
    """The service's configuration."""

    registry: RegistrySettings = field(default_factory=RegistrySettings)
    operator_namespace: str = "kaiwo-system"
    hook_token: str | None = None
    # Accepted tokens, one per line, re-read when the file changes (hooks/tokens.py).
    hook_token_file: Path | None = None
    # The largest request is a source's sync with 10,000 models: 13.6 MB, 31 MB once parsed.
    # 32 MiB leaves room for larger models (labels, annotations) and bounds what a request
    # may hold (hooks/app.py), where the former 256 MiB let one request reach 4.9 GiB.
    max_request_bytes: int = 32 * 1024 * 1024
    log_level: str = "INFO"
    # Request threads per gunicorn worker (AIM_THREADS); scans may take all but one of them.
    threads: int = 8

    @property
    def scan_slots(self) -> int:
        """How many syncs of one worker may scan at once: all threads but one, which is left
        for the probes and for the syncs that need no scan (and those that find no slot)."""
        return max(1, self.threads - 1)


def _number(env: Mapping[str, str], name: str, default: float, *, minimum: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    # float() also reads "inf" and "nan": an endless deadline or timeout is never meant, and
    # gunicorn's worker timeout is computed from the deadline.
    if not math.isfinite(value):
        raise SettingsError(f"{name}={raw!r} is not a finite number")
    if value < minimum:
        raise SettingsError(f"{name}={raw!r} must be at least {minimum:g}")
    return value


def _endpoints(raw: str) -> dict[str, str]:
    """`host=base-url,host=base-url` (e.g. `docker.io=http://127.0.0.1:5001`)."""
    endpoints: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        host, sep, url = item.partition("=")
        if not sep or not host.strip() or not url.strip().startswith(("http://", "https://")):
            raise SettingsError(
                f"AIM_REGISTRY_ENDPOINTS entry {item!r} is not host=http(s)://base-url"
            )
        endpoints[canonical_registry(host.strip())] = url.strip().rstrip("/")
    return endpoints


def _token_file(path: str | None, token: str | None) -> Path | None:
    """AIM_HOOK_TOKEN_FILE, checked to hold at least one token now."""
    if path is None:
        return None
    if token is not None:
        raise SettingsError("set AIM_HOOK_TOKEN or AIM_HOOK_TOKEN_FILE, not both")
    try:
        read_tokens(Path(path))
    except TokenFileError as exc:
        raise SettingsError(f"AIM_HOOK_TOKEN_FILE: {exc}") from None
    return Path(path)


def _denied_networks(raw: str) -> tuple[Network, ...]:
    """`AIM_REGISTRY_DENIED_NETWORKS`: CIDRs separated by commas; unset or empty is the
    default (loopback, "this network", link-local), `none` denies nothing."""
    if raw.strip().lower() == "none":
        return ()
    texts = [part for part in raw.split(",") if part.strip()] or list(DEFAULT_DENIED_NETWORKS)
    try:
        return parse_networks(texts)
    except ValueError:
        raise SettingsError(
            f"AIM_REGISTRY_DENIED_NETWORKS={raw!r} is not a comma-separated list of networks "
            "(such as 127.0.0.0/8,169.254.0.0/16) or none"
        ) from None


def settings_from_env(env: Mapping[str, str]) -> Settings:
    """Build Settings from environment variables (README lists every one)."""
    insecure = frozenset(
        canonical_registry(h.strip())
        for h in env.get("AIM_INSECURE_REGISTRIES", "").split(",")
        if h.strip()
    )
    registry = RegistrySettings(
        endpoints=_endpoints(env.get("AIM_REGISTRY_ENDPOINTS", "")),
        dockerhub_api_url=env.get("AIM_DOCKERHUB_API_URL", "").strip().rstrip("/")
        or "https://hub.docker.com",
        github_api_url=env.get("AIM_GITHUB_API_URL", "").strip().rstrip("/")
        or "https://api.github.com",
        insecure_registries=insecure,
        ca_bundle=env.get("AIM_CA_BUNDLE", "").strip() or None,
        concurrency=int(_number(env, "AIM_SCAN_CONCURRENCY", 16, minimum=1)),
        request_timeout=_number(env, "AIM_REQUEST_TIMEOUT_SECONDS", 10.0, minimum=0.1),
        scan_deadline=_number(env, "AIM_SCAN_DEADLINE_SECONDS", 20.0, minimum=0.1),
        denied_networks=_denied_networks(env.get("AIM_REGISTRY_DENIED_NETWORKS", "")),
        max_continuation_seconds=_number(env, "AIM_SCAN_CONTINUATION_SECONDS", 3600.0, minimum=1.0),
    )
    token = env.get("AIM_HOOK_TOKEN", "").strip() or None
    token_file = _token_file(env.get("AIM_HOOK_TOKEN_FILE", "").strip() or None, token)
    level = env.get("AIM_LOG_LEVEL", "INFO").strip().upper() or "INFO"
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise SettingsError(f"AIM_LOG_LEVEL={level!r} is not DEBUG, INFO, WARNING or ERROR")
    return Settings(
        registry=registry,
        operator_namespace=env.get("AIM_OPERATOR_NAMESPACE", "").strip() or "kaiwo-system",
        hook_token=token,
        hook_token_file=token_file,
        max_request_bytes=int(
            _number(env, "AIM_MAX_REQUEST_BYTES", Settings.max_request_bytes, minimum=1024)
        ),
        log_level=level,
        threads=int(_number(env, "AIM_THREADS", Settings.threads, minimum=2)),
    )
