"""Configuration from the environment, read once at start-up.

Everything else receives a `Settings` value; nothing below the web layer reads the environment.
A bad value stops the service at start with a message naming the variable, instead of surfacing
later as odd behaviour.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from hooks.reference import canonical_registry
from hooks.registry.config import RegistrySettings


class SettingsError(ValueError):
    """An environment variable has a value we cannot use; the message names it."""


@dataclass(frozen=True)
class Settings:
    """The service's configuration."""

    registry: RegistrySettings = field(default_factory=RegistrySettings)
    operator_namespace: str = "kaiwo-system"
    hook_token: str | None = None
    max_request_bytes: int = 256 * 1024 * 1024
    log_level: str = "INFO"


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
        max_continuation_seconds=_number(env, "AIM_SCAN_CONTINUATION_SECONDS", 3600.0, minimum=1.0),
    )
    token = env.get("AIM_HOOK_TOKEN", "").strip() or None
    level = env.get("AIM_LOG_LEVEL", "INFO").strip().upper() or "INFO"
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise SettingsError(f"AIM_LOG_LEVEL={level!r} is not DEBUG, INFO, WARNING or ERROR")
    return Settings(
        registry=registry,
        operator_namespace=env.get("AIM_OPERATOR_NAMESPACE", "").strip() or "kaiwo-system",
        hook_token=token,
        max_request_bytes=int(
            _number(env, "AIM_MAX_REQUEST_BYTES", 256 * 1024 * 1024, minimum=1024)
        ),
        log_level=level,
    )
