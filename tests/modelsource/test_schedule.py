"""When a sync scans, and the `status.scan` bookkeeping (hooks/modelsource/schedule.py, §6)."""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hooks.modelsource.schedule import (
    FilterProgress,
    ScanProgress,
    ScanRecord,
    after_scan,
    backoff_seconds,
    continuing,
    fingerprint,
    read_scan_record,
    resync_after,
    scan_due,
    scan_record_json,
)
from tests.manifests import crdschema

NOW = datetime(2025, 1, 15, 10, 30, tzinfo=UTC)
HOUR = 3600.0
CRD = Path(__file__).resolve().parents[2] / "crds" / "aimclustermodelsources.yaml"
PROGRESS = ScanProgress(
    started=NOW - timedelta(seconds=20),
    fingerprint="fp",
    filters=(
        FilterProgress(0, done=True),
        FilterProgress(1, done=False, resume_after="silogen/aim-m"),
        FilterProgress(2, done=True, error="unauthorized"),
    ),
    available=7,
    not_created=2,
)


def scanned(*, failures: int = 0, next_in: float = HOUR, fp: str = "fp") -> ScanRecord:
    return ScanRecord(
        fingerprint=fp,
        last_attempt=NOW - timedelta(minutes=1),
        failure_count=failures,
        next_scan=NOW + timedelta(seconds=next_in),
    )


def scan(record: ScanRecord, **kwargs: Any) -> ScanRecord:
    arguments: dict[str, Any] = {
        "current": "fp",
        "now": NOW,
        "interval": HOUR,
        "failed": False,
        "progress": None,
        "retry_after": None,
    }
    arguments.update(kwargs)
    return after_scan(record, **arguments)


def wait_of(record: ScanRecord) -> float:
    assert record.next_scan is not None
    return (record.next_scan - NOW).total_seconds()


@pytest.fixture(scope="module")
def scan_schema():
    (crd,) = crdschema.load_file(CRD)
    status = crdschema.openapi_schema(crd)["properties"]["status"]
    return crdschema.validator(status["properties"]["scan"])


# When a scan is due.


def test_scan_is_due_when_never_scanned():
    assert scan_due(read_scan_record({}), "fp", NOW)


def test_scan_is_due_when_the_inputs_changed():
    assert scan_due(scanned(fp="old"), "new", NOW)


def test_scan_is_due_once_next_scan_time_has_come():
    assert scan_due(scanned(next_in=0), "fp", NOW)
    assert scan_due(scanned(next_in=-1), "fp", NOW)


def test_scan_is_not_due_before_next_scan_time():
    assert not scan_due(scanned(next_in=1), "fp", NOW)


def test_scan_in_progress_for_the_same_inputs_continues():
    record = scan(ScanRecord(), progress=PROGRESS)

    assert continuing(record, "fp") == PROGRESS
    assert scan_due(record, "fp", NOW)
    assert resync_after(record, NOW) == 1


def test_scan_in_progress_for_other_inputs_starts_over():
    record = scan(ScanRecord(), progress=PROGRESS)

    assert continuing(record, "changed") is None
    assert scan_due(record, "changed", NOW)


def test_bookkeeping_without_next_scan_time_is_due():
    assert scan_due(ScanRecord(fingerprint="fp", last_attempt=NOW), "fp", NOW)


# Backoff after failed scans, and the interval after good ones.


@pytest.mark.parametrize(
    ("failures", "seconds"),
    [(1, 30), (2, 60), (3, 120), (4, 240), (5, 480), (6, 960), (7, 1920), (8, 3600), (9, 3600)],
)
def test_backoff_doubles_from_thirty_seconds_up_to_the_interval(failures, seconds):
    assert backoff_seconds(failures, HOUR) == seconds


def test_backoff_never_exceeds_a_short_interval():
    assert backoff_seconds(1, 20.0) == 20.0


def test_backoff_after_very_many_failures_is_the_interval():
    assert backoff_seconds(10**6, HOUR) == HOUR


def test_consecutive_failed_scans_wait_longer_each_time():
    record = ScanRecord()
    waits = []
    for _ in range(4):
        record = scan(record, failed=True)
        waits.append(wait_of(record))

    assert waits == [30, 60, 120, 240]
    assert record.failure_count == 4


def test_successful_scan_waits_the_interval_and_forgets_failures():
    record = scan(scanned(failures=5), failed=False)

    assert record == ScanRecord(
        fingerprint="fp", last_attempt=NOW, failure_count=0, next_scan=NOW + timedelta(hours=1)
    )


def test_fractional_interval_is_rounded_up_to_whole_seconds():
    assert wait_of(scan(ScanRecord(), interval=90.2)) == 91


@pytest.mark.parametrize(
    ("failed", "retry_after", "wait"),
    [(True, 300.0, 300), (True, 10.0, 30), (False, 7200.0, 7200), (True, 0.5, 30)],
)
def test_retry_after_extends_the_wait(failed, retry_after, wait):
    assert wait_of(scan(ScanRecord(), failed=failed, retry_after=retry_after)) == wait


def test_absurd_retry_after_is_capped_at_a_day():
    record = scan(ScanRecord(), failed=True, retry_after=1e17)

    assert wait_of(record) == 86400
    assert scan_record_json(record)["nextScanTime"] == "2025-01-16T10:30:00Z"


def test_unfinished_scan_continues_at_once_and_keeps_its_failures():
    record = scan(scanned(failures=2), progress=PROGRESS)

    assert record.next_scan == NOW
    assert record.progress == PROGRESS
    assert record.failure_count == 2


def test_completed_scan_clears_the_progress():
    record = scan(scan(ScanRecord(), progress=PROGRESS))

    assert record.progress is None
    assert not scan_due(record, "fp", NOW)


# resyncAfterSeconds.


@pytest.mark.parametrize(
    ("next_in", "seconds"),
    [(HOUR, 3600), (10.2, 11), (0.2, 1), (1.0, 1), (0, 1), (-30, 1)],
)
def test_resync_after_is_the_time_to_the_next_scan_rounded_up_at_least_one(next_in, seconds):
    assert resync_after(scanned(next_in=next_in), NOW) == seconds


def test_resync_after_is_one_second_when_nothing_is_scheduled():
    assert resync_after(ScanRecord(), NOW) == 1


# Reading and writing status.scan.


def test_bookkeeping_round_trips_through_status():
    record = ScanRecord(
        fingerprint="fp",
        last_attempt=NOW,
        failure_count=3,
        next_scan=NOW + timedelta(seconds=120),
        progress=PROGRESS,
    )

    written = scan_record_json(record)

    assert written == {
        "fingerprint": "fp",
        "lastAttemptTime": "2025-01-15T10:30:00Z",
        "failureCount": 3,
        "nextScanTime": "2025-01-15T10:32:00Z",
        "progress": {
            "startedTime": "2025-01-15T10:29:40Z",
            "fingerprint": "fp",
            "filters": [
                {"index": 0, "done": True},
                {"index": 1, "done": False, "resumeAfter": "silogen/aim-m"},
                {"index": 2, "done": True, "error": "unauthorized"},
            ],
            "available": 7,
            "notCreated": 2,
        },
    }
    assert read_scan_record({"scan": written}) == record


def test_times_in_other_zones_are_read_as_the_same_instant():
    record = read_scan_record({"scan": {"nextScanTime": "2025-01-15T12:30:00+02:00"}})

    assert record.next_scan == NOW
    assert scan_record_json(record)["nextScanTime"] == "2025-01-15T10:30:00Z"


@pytest.mark.parametrize(
    "status",
    [
        {},
        {"scan": None},
        {"scan": "garbage"},
        {"scan": [1, 2]},
        {
            "scan": {
                "fingerprint": 5,
                "lastAttemptTime": 7,
                "failureCount": "3",
                "nextScanTime": "soon",
                "progress": [],
            }
        },
        {"scan": {"failureCount": -4, "nextScanTime": "2025-13-45T99:00:00Z"}},
        {"scan": {"failureCount": True, "lastAttemptTime": "9999-12-31T23:59:59-23:59"}},
        {"scan": {"progress": {"startedTime": "x", "fingerprint": "fp", "filters": []}}},
        {"scan": {"progress": {"startedTime": "2025-01-15T10:30:00Z", "fingerprint": ""}}},
        {"scan": {"progress": {"startedTime": "2025-01-15T10:30:00Z", "filters": {}}}},
    ],
)
def test_malformed_bookkeeping_reads_as_nothing_known(status):
    record = read_scan_record(status)

    assert record == ScanRecord()
    assert scan_due(record, "fp", NOW)


def test_malformed_progress_entries_are_forgotten_one_by_one():
    status = {
        "scan": {
            "fingerprint": "fp",
            "progress": {
                "startedTime": "2025-01-15T10:30:00Z",
                "fingerprint": "fp",
                "filters": [
                    {"index": 0, "done": True},
                    {"index": -1, "done": True},
                    {"index": "1", "done": True},
                    {"done": True},
                    "filter 3",
                    {"index": 4, "done": "yes", "resumeAfter": 9, "error": ["x"]},
                ],
                "available": -3,
                "notCreated": 1.5,
            },
        }
    }

    progress = read_scan_record(status).progress

    assert progress == ScanProgress(
        started=NOW,
        fingerprint="fp",
        filters=(FilterProgress(0, done=True), FilterProgress(4, done=False)),
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
times = (
    st.sampled_from(
        [
            "2025-01-15T10:30:00Z",
            "2025-01-15T10:30:00.75+05:30",
            "2025-01-15",
            "0001-01-01T00:00:00+01:00",
            "x",
        ]
    )
    | json_values
)
counts = st.integers(-5, 10**12) | json_values
filter_entries = st.fixed_dictionaries(
    {},
    optional={
        "index": counts,
        "done": st.booleans() | json_values,
        "resumeAfter": st.text(max_size=10) | json_values,
        "error": st.text(max_size=10) | json_values,
    },
)
progress_maps = st.fixed_dictionaries(
    {},
    optional={
        "startedTime": times,
        "fingerprint": st.sampled_from(["fp", ""]) | json_values,
        "filters": st.lists(filter_entries | json_values, max_size=5) | json_values,
        "available": counts,
        "notCreated": counts,
    },
)
scan_maps = st.fixed_dictionaries(
    {},
    optional={
        "fingerprint": st.sampled_from(["fp", ""]) | json_values,
        "lastAttemptTime": times,
        "failureCount": counts,
        "nextScanTime": times,
        "progress": progress_maps | json_values,
    },
)


@settings(max_examples=300, deadline=None)
@given(raw=scan_maps | json_values)
def test_any_bookkeeping_reads_without_error_and_writes_back_valid_and_stable(raw, scan_schema):
    record = read_scan_record({"scan": raw})
    written = scan_record_json(record)

    assert crdschema.errors(scan_schema, written) == []
    assert scan_record_json(read_scan_record({"scan": written})) == written
    if written.get("fingerprint") != "fp" or "nextScanTime" not in written:
        assert scan_due(record, "fp", NOW)
    assert resync_after(record, NOW) >= 1


# The fingerprint of the scanned inputs.

RELATED = {"secret/pull": ["uid-1", "100"], "config/default": None}
SPEC = {"filters": [{"image": "silogen/aim-*"}], "maxModels": 10, "registry": "docker.io"}


def test_fingerprint_is_sixteen_hex_digits():
    assert re.fullmatch(r"[0-9a-f]{16}", fingerprint(SPEC, RELATED))


def test_fingerprint_does_not_depend_on_key_order():
    reordered_spec = dict(reversed(list(SPEC.items())))
    reordered_related = dict(reversed(list(RELATED.items())))

    assert fingerprint(reordered_spec, reordered_related) == fingerprint(SPEC, RELATED)


@pytest.mark.parametrize(
    ("spec", "related"),
    [
        ({**SPEC, "maxModels": 11}, RELATED),
        ({**SPEC, "filters": [{"image": "silogen/aim-*", "exclude": ["x"]}]}, RELATED),
        (SPEC, {**RELATED, "secret/pull": ["uid-1", "101"]}),
        (SPEC, {**RELATED, "config/default": ["uid-2", "1"]}),
        (SPEC, {"config/default": None}),
    ],
)
def test_fingerprint_changes_with_the_spec_or_a_related_identity(spec, related):
    assert fingerprint(spec, related) != fingerprint(SPEC, RELATED)
