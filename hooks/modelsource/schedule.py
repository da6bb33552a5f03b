"""When a sync scans the registries, and the bookkeeping in `status.scan` that decides it.

Metacontroller calls the sync hook on every change and after every status write (DECISIONS §6),
so a scan runs only when one is due: never scanned, inputs changed (a fingerprint of the spec and
the related objects' identities), the interval passed, a failed attempt's backoff passed, or a scan
that hit its deadline is still in progress. Everything here is a pure function of the status it is
given and the clock value passed in.
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

BACKOFF_START_SECONDS = 30.0
# A continuation call comes back at once; Metacontroller's own status-write event usually wins.
CONTINUE_AFTER_SECONDS = 1.0
# A registry's Retry-After is honoured up to a day: an absurd value (or a clock far off) must not
# push the next scan out of reach, nor past what a datetime can hold.
MAX_RETRY_AFTER_SECONDS = 86400.0


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
    return out


def continuing(record: ScanRecord, current: str) -> ScanProgress | None:
    """The scan in progress for these very inputs, if there is one to continue."""
    if record.progress is not None and record.progress.fingerprint == current:
        return record.progress
    return None


def scan_due(record: ScanRecord, current: str, now: datetime) -> bool:
    """Whether this sync must scan (DECISIONS §6)."""
    if continuing(record, current) is not None:
        return True
    if record.fingerprint != current or record.next_scan is None:
        return True
    return now >= record.next_scan


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


def resync_after(record: ScanRecord, now: datetime) -> float:
    """Seconds until the next scan is due (at least one), for `resyncAfterSeconds`."""
    if record.progress is not None or record.next_scan is None:
        return CONTINUE_AFTER_SECONDS
    return max(CONTINUE_AFTER_SECONDS, math.ceil((record.next_scan - now).total_seconds()))
