"""What the scanner tests share: the targets the controller would scan, and what servers received.

Targets are built as the service builds them (spec -> filters -> `pipeline.scan_targets`), so
that the scanner is tested with the input it gets in production, not with targets made by hand.
"""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from hooks.modelsource.filters import ImageFilter, build_filters
from hooks.modelsource.pipeline import scan_targets
from hooks.modelsource.spec import MAX_MODELS_LIMIT, parse_spec
from hooks.registry.targets import ScanTarget

# A first call has no progress, so its date does not matter to the targets.
FIRST_CALL = datetime(2026, 1, 1, tzinfo=UTC)


def targets_for(spec: Mapping[str, Any]) -> list[ScanTarget]:
    """The scan targets the controller asks for, on a first call (no progress yet)."""
    parsed = parse_spec(dict(spec))
    filters = build_filters(parsed)
    runnable = [f for f in filters if isinstance(f, ImageFilter)]
    assert len(runnable) == len(filters), filters
    # Every image found, whatever maxModels says: the bound on kept images is tested via the sync.
    return scan_targets(filters, None, FIRST_CALL, MAX_MODELS_LIMIT, {})


def sent_authorizations(requests: list[Any]) -> set[str]:
    """Every Authorization value a server received (any recorded request type)."""
    return {r.headers["authorization"] for r in requests if "authorization" in r.headers}
