"""What the scanner tests share: the targets the controller would scan, and what servers received.

Targets are built as the service builds them (spec -> filters -> `pipeline.scan_targets`), so
that the scanner is tested with the input it gets in production, not with targets made by hand.
"""

from collections.abc import Mapping
from typing import Any

from hooks.modelsource.filters import ImageFilter, build_filters
from hooks.modelsource.pipeline import scan_targets
from hooks.modelsource.spec import parse_spec
from hooks.registry.targets import ScanTarget


def targets_for(spec: Mapping[str, Any]) -> list[ScanTarget]:
    """The scan targets the controller asks for, on a first call (no progress yet)."""
    filters = build_filters(parse_spec(dict(spec)))
    runnable = [f for f in filters if isinstance(f, ImageFilter)]
    assert len(runnable) == len(filters), filters
    return scan_targets(filters, None)


def sent_authorizations(requests: list[Any]) -> set[str]:
    """Every Authorization value a server received (any recorded request type)."""
    return {r.headers["authorization"] for r in requests if "authorization" in r.headers}
