"""Gated sync requests: a source whose scan is not due, with N children, as Metacontroller sends it.

The status is the one the product itself wrote after a scan that found N images (computed by
the real sync with a scan function that answers those images), the children are the objects the
API server holds after Metacontroller created them (`wire.observed_child`), and the body is
encoded as Go's encoding/json writes it (`wire.encode`). The scan happened at the given time
with a one-hour interval, so for the next hour every sync of it is gated.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bench.environment import NAMESPACE, REGISTRY, SOURCE, sync_request
from hooks.metacontroller import parse_sync_request
from hooks.modelsource.controller import sync_source
from hooks.reference import ImageRef
from hooks.registry.credentials import Keychain
from hooks.registry.targets import ScanTarget, TargetResult
from tests.hooks import wire

SPEC: dict[str, Any] = {
    "registry": REGISTRY,
    "filters": [{"image": "org/model-*"}],
    "maxModels": 10000,
    "syncInterval": "1h",
}
TAGS_PER_REPOSITORY = 10


def _images(count: int) -> tuple[ImageRef, ...]:
    return tuple(
        ImageRef(
            REGISTRY,
            f"org/model-{n // TAGS_PER_REPOSITORY:05d}",
            tag=f"1.{n % TAGS_PER_REPOSITORY}.0",
        )
        for n in range(count)
    )


def scanned(children: int, now: datetime) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The status and the desired children after a scan at `now` that found `children` images."""
    images = _images(children)

    def scan(targets: Sequence[ScanTarget], _: Keychain) -> list[TargetResult]:
        return [TargetResult(t.key, images=images) for t in targets]

    request = parse_sync_request(sync_request(SPEC))
    result = sync_source(request, scan=scan, now=now, operator_namespace=NAMESPACE)
    assert len(result.response.children) == children
    return dict(result.response.status), result.response.children


def gated_body(children: int, now: datetime) -> bytes:
    """The body of a sync with `children` existing children and no scan due until now + 1 h."""
    status, desired = scanned(children, now)
    parent = wire.source(SOURCE, SPEC, status=status)
    observed = {
        child["metadata"]["name"]: wire.observed_child(child, parent, serial)
        for serial, child in enumerate(desired)
    }
    related = wire.source_related(SPEC, [wire.config("default", {})])
    return wire.encode(wire.sync_request(parent, observed, related))
