"""The model source sync hooks (AIMClusterModelSource, AIMModelSource): the pipeline, and a net
under it.

`sync_source` is a function of the request, a scan function and the clock. Its one promise above
all: every response carries every existing child, on every path (invalid spec, missing config,
registry down, deadline hit, a bug in the core), because Metacontroller deletes what we leave out.
The work itself is `pipeline.run_sync`; this module only catches what escapes it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from hooks.conditions import carried_time
from hooks.metacontroller import SyncRequest, SyncResponse
from hooks.modelsource.pipeline import (
    CLUSTER_SOURCE,
    MayScan,
    ScanFunction,
    SourceKind,
    SyncResult,
    always,
    kept_children,
    observed_models,
    run_sync,
)
from hooks.modelsource.status import (
    FAILED,
    INTERNAL_ERROR,
    SourceStatus,
    carried_available,
    failure_conditions,
    render_status,
)

log = logging.getLogger(__name__)

# After an unexpected failure, try again soon but not in a hot loop.
INTERNAL_ERROR_RESYNC_SECONDS = 60.0
INTERNAL_ERROR_OUTCOME = "internal-error"

__all__ = ["CLUSTER_SOURCE", "MayScan", "ScanFunction", "SourceKind", "SyncResult", "sync_source"]


def sync_source(
    request: SyncRequest,
    *,
    scan: ScanFunction,
    now: datetime,
    operator_namespace: str,
    kind: SourceKind = CLUSTER_SOURCE,
    explain_exclusions: bool = False,
    may_scan: MayScan = always,
) -> SyncResult:
    """Answer one sync of a source of `kind`; an exception anywhere in the core still keeps
    every child."""
    try:
        return run_sync(
            request,
            scan=scan,
            now=now,
            operator_namespace=operator_namespace,
            kind=kind,
            explain_exclusions=explain_exclusions,
            may_scan=may_scan,
        )
    except Exception:
        log.exception("sync of %s %s failed", kind.kind, request.parent.key)
        return _internal_error(request, now, kind)


def _internal_error(request: SyncRequest, now: datetime, kind: SourceKind) -> SyncResult:
    """Keep every child exactly as observed and say what happened, without guessing more."""
    existing = observed_models(request, kind)
    try:
        children = kept_children(existing, kind.children(request))
    except Exception:
        children = [dict(existing[name]) for name in sorted(existing)]
    previous = request.parent.status
    scan = previous.get("scan")
    status = SourceStatus(
        state=FAILED,
        discovered=len(children),
        available=carried_available(previous),
        limit_reached=previous.get("modelsLimitReached") is True,
        last_sync=carried_time(previous.get("lastSyncTime")),
        conditions=failure_conditions(
            INTERNAL_ERROR, "The hook failed unexpectedly; see the hook's logs. Models are kept."
        ),
        scan=scan if isinstance(scan, Mapping) else None,
    )
    rendered = render_status(status, previous, now, request.parent.generation)
    return SyncResult(
        SyncResponse(rendered, children, INTERNAL_ERROR_RESYNC_SECONDS),
        outcome=INTERNAL_ERROR_OUTCOME,
    )
