"""The service's Prometheus metrics: what the hooks answered and how the registries answered.

A leaf module: the web layer and the registry transport call its functions, it imports neither
(nor Flask). Every label holds a bounded value: a hook name, an outcome, a registry host the
operator configured or `other` (RegistrySettings.metric_label), a status-code class. Never a
repository, a tag or a source name (each distinct value would be a time series kept forever)
and never anything secret.

Under gunicorn each worker is a process of its own. With `PROMETHEUS_MULTIPROC_DIR` set in the
environment before prometheus_client is first imported (hooks/gunicorn_config.py sets it),
every process writes its values to files there and `exposition` sums the files of all of them;
without it (tests, `replay`) the values live in this process. The metric objects are module
globals because that is what prometheus_client's multiprocess files are keyed on.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

# Status codes a registry answers often enough to be told apart; any other is counted by class.
_DISTINCT_CODES = frozenset({200, 202, 204, 301, 302, 307, 308, 400, 401, 403, 404, 405, 429})
# A scan may take up to its deadline (20 s by default); gated syncs take milliseconds.
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60)

_hook_calls = Counter(
    "aim_hooks_hook_calls",
    "Hook calls answered, by hook and outcome (the source's status, not-due, bad-request, ...).",
    ["hook", "outcome"],
)
_hook_duration = Histogram(
    "aim_hooks_hook_duration_seconds",
    "Time to answer a hook call, registry scan included.",
    ["hook"],
    buckets=_DURATION_BUCKETS,
)
_scans = Counter(
    "aim_hooks_scans",
    "Model source syncs that scanned the registries (run) or answered without a scan (skipped: "
    "not due, invalid spec, missing config).",
    ["result"],
)
_registry_requests = Counter(
    "aim_hooks_registry_requests",
    "Requests to registries and their APIs, by host and answer (status code, its class such as "
    "5xx, or error when no answer came).",
    ["registry", "code"],
)
_rate_limited = Counter(
    "aim_hooks_registry_rate_limited",
    "Registry answers that were 429 Too Many Requests, by host.",
    ["registry"],
)
_models_created = Counter(
    "aim_hooks_models_created",
    "AIMClusterModels the model source syncs asked Metacontroller to create.",
)
_scan_deadline_hits = Counter(
    "aim_hooks_scan_deadline_hits",
    "Scans stopped by AIM_SCAN_DEADLINE_SECONDS (they continue in the next sync).",
)


def code_label(status: int | None) -> str:
    """The `code` label: a common status as itself, any other by class, `error` for no answer."""
    if status is None:
        return "error"
    if status in _DISTINCT_CODES:
        return str(status)
    return f"{status // 100}xx"


def hook_called(hook: str, outcome: str, seconds: float) -> None:
    """Count one answered hook call and how long it took."""
    _hook_calls.labels(hook, outcome).inc()
    _hook_duration.labels(hook).observe(seconds)


def sync_finished(*, scanned: bool, created: int) -> None:
    """Count one model source sync: whether it scanned, and the models it created."""
    _scans.labels("run" if scanned else "skipped").inc()
    if created:
        _models_created.inc(created)


def registry_answered(registry: str, status: int | None) -> None:
    """Count one registry request by its answer's status; None when no answer came."""
    _registry_requests.labels(registry, code_label(status)).inc()
    if status == 429:
        _rate_limited.labels(registry).inc()


def scan_deadline_hit() -> None:
    """Count one scan that stopped at its deadline with targets unfinished."""
    _scan_deadline_hits.inc()


def exposition(multiprocess_dir: str | None) -> tuple[bytes, str]:
    """The text exposition and its content type: of every process writing to
    `multiprocess_dir` when given, of this process otherwise."""
    if multiprocess_dir is None:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=multiprocess_dir)  # type: ignore[no-untyped-call]
    return generate_latest(registry), CONTENT_TYPE_LATEST
