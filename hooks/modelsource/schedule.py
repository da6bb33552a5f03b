"""When a sync scans the registries, and the bookkeeping in `status.scan` that decides it.

Metacontroller calls the sync hook on every change and after every status write (docs/decisions.md
§6), so a scan runs only when one is due: never scanned, inputs changed (a fingerprint of the spec
and the related objects' identities), the interval passed, a failed attempt's backoff passed, or a
scan that hit its deadline is still in progress. Everything here is a pure function of the status it
is given and the clock value passed in.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hooks.conditions import format_time
from hooks.objects import is_secret_name

BACKOFF_START_SECONDS = 30.0
# A continuation call comes back at once; Metacontroller's own status-write event usually wins.
CONTINUE_AFTER_SECONDS = 1.0
# A registry's Retry-After is honoured up to a day: an absurd value (or a clock far off) must not
# push the next scan out of reach, nor past what a datetime can hold.
MAX_RETRY_AFTER_SECONDS = 86400.0
# `resyncAfterSeconds` becomes a Go time.Duration (int64 nanoseconds, about 292 years at most):
# a year is far inside it, and a sync at least once a year costs nothing.
MAX_RESYNC_SECONDS = 365 * 86400.0
# The most pull secret names of a config the bookkeeping carries (the CRD's bound too).
MAX_CONFIG_PULL_SECRETS = 64
NAMESPACE_CONFIG = "AIMNamespaceConfig"
CLUSTER_CONFIG = "AIMClusterConfig"
CONFIG_KINDS = (NAMESPACE_CONFIG, CLUSTER_CONFIG)


@dataclass(frozen=True, slots=True)
class FilterProgress:
    """How far one filter got in a scan that spans several calls."""

    index: int
    done: bool
    resume_after: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ScanProgress:
    """A scan under way: which inputs it is for, and where each filter stands."""

    started: datetime
    fingerprint: str
    filters: tuple[FilterProgress, ...]
    available: int = 0
    not_created: int = 0

    def filter(self, index: int) -> FilterProgress | None:
        """The progress of one filter, if the scan has any for it."""
        return next((f for f in self.filters if f.index == index), None)


@dataclass(frozen=True, slots=True)
class ScanRecord:
    """`status.scan`: what the last scans decided and when the next one is due."""

    fingerprint: str | None = None
    last_attempt: datetime | None = None
    failure_count: int = 0
    next_scan: datetime | None = None
    progress: ScanProgress | None = None
    # Models in the answer of the last scan: owning fewer means some were deleted by hand.
    answered: int | None = None
    # Scans in a row made to recreate models deleted by hand; sets their backoff.
    recreate_attempts: int = 0
    # The config's pull secrets, for the customize hook, which sees only the source.
    config_pull_secrets: tuple[str, ...] = ()
    # The kind of config those secrets belong to (namespaced sources only): where they live.
    config_kind: str | None = None


def fingerprint(spec: object, related: Mapping[str, object]) -> str:
    """A short hash of the scanned inputs: the spec and the identities of related objects.

    Related objects enter by uid and resourceVersion, never by content, so no secret-derived
    value ever reaches the status.
    """
    canonical = json.dumps(
        {"spec": spec, "related": related}, sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        # In UTC at once: an offset near the ends of the calendar cannot be written back.
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def _count(value: object) -> int | None:
    """A non-negative JSON integer, as the CRD requires of every count and index in `scan`."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def read_scan_record(status: Mapping[str, Any]) -> ScanRecord:
    """The bookkeeping from a received status; anything malformed reads as 'nothing known'."""
    raw = status.get("scan")
    if not isinstance(raw, Mapping):
        return ScanRecord()
    progress = None
    raw_progress = raw.get("progress")
    if isinstance(raw_progress, Mapping):
        started = _time(raw_progress.get("startedTime"))
        print_ = _text(raw_progress.get("fingerprint"))
        raw_filters = raw_progress.get("filters")
        if started and print_ and isinstance(raw_filters, list):
            # An entry without a usable index is forgotten (that filter starts over), never
            # written back as an index the CRD rejects.
            filters = tuple(
                FilterProgress(
                    index=index,
                    done=f.get("done") is True,
                    resume_after=_text(f.get("resumeAfter")),
                    error=_text(f.get("error")),
                )
                for f in raw_filters
                if isinstance(f, Mapping) and (index := _count(f.get("index"))) is not None
            )
            progress = ScanProgress(
                started=started,
                fingerprint=print_,
                filters=filters,
                available=_count(raw_progress.get("available")) or 0,
                not_created=_count(raw_progress.get("notCreated")) or 0,
            )
    return ScanRecord(
        fingerprint=_text(raw.get("fingerprint")),
        last_attempt=_time(raw.get("lastAttemptTime")),
        failure_count=_count(raw.get("failureCount")) or 0,
        next_scan=_time(raw.get("nextScanTime")),
        progress=progress,
        answered=_count(raw.get("answeredModels")),
        recreate_attempts=_count(raw.get("recreateAttempts")) or 0,
        config_pull_secrets=config_pull_secrets(raw),
        config_kind=config_kind(raw),
    )


def config_pull_secrets(scan: object) -> tuple[str, ...]:
    """`configPullSecrets` of a received `status.scan`: distinct Secret names, bounded."""
    raw = scan.get("configPullSecrets") if isinstance(scan, Mapping) else None
    if not isinstance(raw, list):
        return ()
    # A dict keeps the first of each name in order, in linear time (as `pull_secret_names`).
    names = dict.fromkeys(n for n in raw if isinstance(n, str) and is_secret_name(n))
    return tuple(names)[:MAX_CONFIG_PULL_SECRETS]


def config_kind(scan: object) -> str | None:
    """`configKind` of a received `status.scan`: which kind of config a namespaced source last
    resolved, one of CONFIG_KINDS, else None (nothing known)."""
    raw = scan.get("configKind") if isinstance(scan, Mapping) else None
    return raw if raw in CONFIG_KINDS else None


def record_from_status(
    status: Mapping[str, Any], current: str, generation: int | None, interval: float
) -> ScanRecord | None:
    """The bookkeeping an API server pruned, rebuilt from the rest of the status.

    A served AIMClusterModelSource CRD without `status.scan` (the AIM operator's) drops it on
    every write. A status our hook wrote (it has `status`) without `scan` is read as: the inputs
    are unchanged while `observedGeneration` is the parent's generation (changes of secrets or
    config go unnoticed until the interval passes), and the next scan is due `syncInterval` after
    `lastSyncTime`. None when the status holds the bookkeeping, or was never written.
    """
    if isinstance(status.get("scan"), Mapping) or not isinstance(status.get("status"), str):
        return None
    observed = status.get("observedGeneration")
    last_sync = _time(status.get("lastSyncTime"))
    next_scan = None
    if last_sync is not None:
        next_scan = last_sync + timedelta(seconds=min(interval, MAX_RESYNC_SECONDS))
    return ScanRecord(
        fingerprint=current if generation is not None and observed == generation else None,
        last_attempt=last_sync,
        next_scan=next_scan,
    )


def scan_record_json(record: ScanRecord) -> dict[str, Any]:
    """`status.scan` as written back, with only the fields that are set."""
    out: dict[str, Any] = {}
    if record.fingerprint:
        out["fingerprint"] = record.fingerprint
    if record.last_attempt:
        out["lastAttemptTime"] = format_time(record.last_attempt)
    out["failureCount"] = record.failure_count
    if record.next_scan:
        out["nextScanTime"] = format_time(record.next_scan)
    if record.progress:
        p = record.progress
        filters = []
        for f in p.filters:
            item: dict[str, Any] = {"index": f.index, "done": f.done}
            if f.resume_after is not None:
                item["resumeAfter"] = f.resume_after
            if f.error is not None:
                item["error"] = f.error
            filters.append(item)
        out["progress"] = {
            "startedTime": format_time(p.started),
            "fingerprint": p.fingerprint,
            "filters": filters,
            "available": p.available,
            "notCreated": p.not_created,
        }
    if record.answered is not None:
        out["answeredModels"] = record.answered
    if record.recreate_attempts:
        out["recreateAttempts"] = record.recreate_attempts
    if record.config_pull_secrets:
        out["configPullSecrets"] = list(record.config_pull_secrets)
    if record.config_kind:
        out["configKind"] = record.config_kind
    return out


def continuing(record: ScanRecord, current: str) -> ScanProgress | None:
    """The scan in progress for these very inputs, if there is one to continue."""
    if record.progress is not None and record.progress.fingerprint == current:
        return record.progress
    return None


def scan_due(record: ScanRecord, current: str, now: datetime) -> bool:
    """Whether this sync must scan: new inputs, a continued scan, or its time has come."""
    if continuing(record, current) is not None:
        return True
    if record.fingerprint != current or record.next_scan is None:
        return True
    return now >= record.next_scan


def recreate_at(record: ScanRecord, owned: int, interval: float) -> datetime | None:
    """When a scan to recreate models deleted by hand is due, if the source owns too few.

    (docs/decisions.md §6.)

    Models in the last answer that the source no longer owns were deleted by hand (the hook
    never deletes one). The scan that recreates them waits out a failed scan's backoff, and its
    own backoff doubles while models stay missing, so a model that cannot be created (refused by
    the API server) never causes a scan loop.
    """
    if record.answered is None or owned >= record.answered or record.last_attempt is None:
        return None
    wait = backoff_seconds(record.recreate_attempts + 1, interval)
    due = record.last_attempt + timedelta(seconds=math.ceil(wait))
    if record.failure_count > 0 and record.next_scan is not None:
        due = max(due, record.next_scan)
    return due


def backoff_seconds(failure_count: int, interval: float) -> float:
    """Doubling from 30 s per consecutive failed scan, capped at the sync interval."""
    if failure_count <= 0:
        return interval
    doubled: float = BACKOFF_START_SECONDS * 2.0 ** min(failure_count - 1, 32)
    return min(doubled, interval)


def after_scan(
    record: ScanRecord,
    *,
    current: str,
    now: datetime,
    interval: float,
    failed: bool,
    progress: ScanProgress | None,
    retry_after: float | None,
) -> ScanRecord:
    """The bookkeeping after a scan call: continue, back off, or wait for the interval."""
    if progress is not None:
        return replace(
            record, fingerprint=current, last_attempt=now, next_scan=now, progress=progress
        )
    failures = record.failure_count + 1 if failed else 0
    wait = backoff_seconds(failures, interval)
    if retry_after is not None:
        wait = max(wait, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return ScanRecord(
        fingerprint=current,
        last_attempt=now,
        failure_count=failures,
        next_scan=now + timedelta(seconds=math.ceil(wait)),
        progress=None,
    )


def resync_after(record: ScanRecord, now: datetime, recreate: datetime | None = None) -> float:
    """Seconds until the next scan is due, for `resyncAfterSeconds`: one to MAX_RESYNC_SECONDS."""
    if record.progress is not None or record.next_scan is None:
        return CONTINUE_AFTER_SECONDS
    due = record.next_scan if recreate is None else min(record.next_scan, recreate)
    seconds = math.ceil((due - now).total_seconds())
    return min(max(CONTINUE_AFTER_SECONDS, seconds), MAX_RESYNC_SECONDS)
