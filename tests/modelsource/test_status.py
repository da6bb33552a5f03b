"""The source's status and conditions (hooks/modelsource/status.py, docs/decisions.md §5)."""

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hooks.conditions import Condition, format_time
from hooks.modelsource.plan import ChildTemplate, FilterResult, Plan, plan_models
from hooks.modelsource.schedule import (
    FilterProgress,
    ScanProgress,
    ScanRecord,
    after_scan,
    scan_record_json,
)
from hooks.modelsource.status import (
    DEGRADED,
    FAILED,
    PENDING,
    PROGRESSING,
    READY,
    failure_conditions,
    filter_errors,
    limit_condition,
    render_source_conditions,
    scan_conditions,
    scan_state,
)
from hooks.reference import ImageRef
from tests.manifests import crdschema

NOW = datetime(2025, 1, 15, 10, 30, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
CRD = Path(__file__).resolve().parents[2] / "crds" / "aimclustermodelsources.yaml"


def ok(index: int, image: str, *tags: str, **kwargs: Any) -> FilterResult:
    found = tuple(ImageRef("docker.io", image, tag) for tag in tags)
    return FilterResult(index, image, images=found, **kwargs)


def failed(index: int, image: str, error: str, **kwargs: Any) -> FilterResult:
    return FilterResult(index, image, error=error, **kwargs)


def long_image(index: int) -> str:
    """A filter image of the CRD's maximum length, 512 characters."""
    return f"registry.example.com/{index:03d}/".ljust(512, "x")


def counted(available: int, not_created: int = 0) -> Plan:
    return Plan(children=[], available=available, not_created=not_created)


# Status values.


def test_every_filter_succeeding_is_ready():
    assert scan_state([ok(0, "a/b", "1"), ok(1, "c/d")]) == READY


def test_nothing_matched_is_still_ready():
    assert scan_state([ok(0, "a/b")]) == READY


def test_some_filters_failing_is_degraded():
    assert scan_state([ok(0, "a/b", "1"), failed(1, "c/d", "boom")]) == DEGRADED


def test_every_filter_failing_is_failed():
    assert scan_state([failed(0, "a/b", "x"), failed(1, "c/d", "y")]) == FAILED


def test_unfinished_scan_is_progressing_even_with_failures():
    outcomes = [failed(0, "a/b", "x"), ok(1, "c/d", "1", finished=False)]

    assert scan_state(outcomes) == PROGRESSING


def test_status_values_are_the_crd_enum():
    (crd,) = crdschema.load_file(CRD)
    enum = crdschema.openapi_schema(crd)["properties"]["status"]["properties"]["status"]["enum"]

    assert sorted(enum) == sorted([PENDING, PROGRESSING, READY, DEGRADED, FAILED])


# Conditions: the Go implementation's reasons and message shapes.


def test_all_filters_succeeded_conditions():
    outcomes = [ok(0, "a/b", "1", "2"), ok(1, "c/d", "1")]

    assert scan_conditions(outcomes, counted(3)) == [
        Condition(
            "Ready",
            "True",
            "AllFiltersSucceeded",
            "Successfully discovered 3 model(s) from 2 filter(s)",
        ),
        Condition("Degraded", "False", "AllFiltersSucceeded", "All filters processed successfully"),
    ]


def test_no_images_matched_is_ready_with_its_own_reason():
    assert scan_conditions([ok(0, "a/b")], counted(0)) == [
        Condition("Ready", "True", "NoImagesMatched", "No images matched the configured filters"),
        Condition("Degraded", "False", "NoImagesMatched", "No filter failures"),
    ]


def test_some_filters_had_errors_lists_each_error_in_filter_order():
    outcomes = [
        failed(2, "silogen/aim-*", "listing failed"),
        ok(1, "a/b", "1"),
        failed(0, "ghcr.io/x/y", "unauthorized"),
    ]

    assert scan_conditions(outcomes, counted(1)) == [
        Condition("Ready", "False", "SomeFiltersHadErrors", "2 of 3 filter(s) failed"),
        Condition(
            "Degraded",
            "True",
            "SomeFiltersHadErrors",
            '2 filter(s) failed: filter "ghcr.io/x/y": unauthorized; '
            'filter "silogen/aim-*": listing failed',
        ),
    ]


def test_all_filters_failed_conditions():
    outcomes = [failed(1, "c/d", "y"), failed(0, "a/b", "x")]

    assert scan_conditions(outcomes, counted(0)) == [
        Condition("Ready", "False", "AllFiltersFailed", "All 2 filter(s) failed"),
        Condition(
            "Degraded",
            "True",
            "AllFiltersFailed",
            'All filters failed: filter "a/b": x; filter "c/d": y',
        ),
    ]


def test_scan_in_progress_conditions():
    outcomes = [ok(0, "a/b", "1"), ok(1, "c/*", "1", "2", finished=False)]

    assert scan_conditions(outcomes, counted(3)) == [
        Condition(
            "Ready",
            "False",
            "ScanInProgress",
            "Scan in progress: 1 of 2 filter(s) finished, 3 image(s) found so far; "
            "continuing in the next sync",
        ),
        Condition("Degraded", "False", "ScanInProgress", "No filter failures so far"),
    ]


def test_scan_in_progress_reports_failures_so_far():
    outcomes = [failed(0, "a/b", "x"), ok(1, "c/*", finished=False)]

    ready, degraded = scan_conditions(outcomes, counted(0))

    assert ready.reason == "ScanInProgress"
    assert degraded == Condition(
        "Degraded", "True", "SomeFiltersHadErrors", '1 filter(s) failed: filter "a/b": x'
    )


def test_filter_errors_are_quoted_per_filter():
    outcomes = [ok(1, "x/y"), failed(3, "b", "e3"), failed(0, "a", "e0")]

    assert filter_errors(outcomes) == ['filter "a": e0', 'filter "b": e3']


@pytest.mark.parametrize(
    ("outcomes", "available", "where"),
    [
        ([ok(0, "a/*", "1", warnings=("tag list truncated at 1000",))], 1, "Ready"),
        ([ok(0, "a/*", warnings=("catalog truncated at 5 pages",))], 0, "Ready"),
        (
            [ok(0, "a/*", "1", warnings=("tag list truncated at 1000",)), failed(1, "c", "x")],
            1,
            "Degraded",
        ),
        (
            [failed(0, "a/*", "y", warnings=("tag list truncated at 1000",)), failed(1, "c", "x")],
            0,
            "Degraded",
        ),
    ],
)
def test_warnings_are_appended_never_hidden(outcomes, available, where):
    conditions = {c.type: c for c in scan_conditions(outcomes, counted(available))}

    assert conditions[where].message.endswith(f'; filter "a/*": {outcomes[0].warnings[0]}')


def test_limit_reached_message_is_the_user_docs_example():
    assert limit_condition(100, 150) == Condition(
        "MaxModelsLimitReached",
        "True",
        "LimitReached",
        "Model creation limit reached (100 models created). "
        "150 available images not created as models.",
    )


def test_limit_not_reached_when_every_image_has_a_model():
    condition = limit_condition(12, 0)

    assert (condition.type, condition.status, condition.reason) == (
        "MaxModelsLimitReached",
        "False",
        "LimitNotReached",
    )
    assert "12" in condition.message


def test_failure_conditions_carry_the_reason_and_message_on_ready_and_degraded():
    message = "spec.maxModels: must be an integer from 1 to 10000, got 0"

    assert failure_conditions("InvalidSpec", message) == [
        Condition("Ready", "False", "InvalidSpec", message),
        Condition("Degraded", "True", "InvalidSpec", message),
    ]


# Rendering: fixed order, carried timestamps, byte-identical output.

ALL_TYPES = [
    Condition("Failure", "True", "ObservationFailed", "m"),
    Condition("PullSecretsResolved", "True", "SecretsLoaded", "m"),
    Condition("ConfigResolved", "False", "DefaultConfigNotFound", "m"),
    Condition("MaxModelsLimitReached", "False", "LimitNotReached", "m"),
    Condition("Degraded", "False", "AllFiltersSucceeded", "m"),
    Condition("Ready", "True", "AllFiltersSucceeded", "m"),
]


def test_conditions_come_in_a_fixed_order():
    shuffled = list(ALL_TYPES)
    random.Random(7).shuffle(shuffled)

    rendered = render_source_conditions(shuffled, None, NOW, 3)

    assert [c["type"] for c in rendered] == [
        "Ready",
        "Degraded",
        "MaxModelsLimitReached",
        "ConfigResolved",
        "PullSecretsResolved",
        "Failure",
    ]


def test_rendered_conditions_are_full_metav1_conditions():
    rendered = render_source_conditions([ALL_TYPES[-1]], None, NOW, 3)

    assert rendered == [
        {
            "type": "Ready",
            "status": "True",
            "reason": "AllFiltersSucceeded",
            "message": "m",
            "lastTransitionTime": "2025-01-15T10:30:00Z",
            "observedGeneration": 3,
        }
    ]


def test_last_transition_time_changes_only_with_the_status():
    first = render_source_conditions(scan_conditions([ok(0, "a/b", "1")], counted(1)), None, NOW, 1)
    second = render_source_conditions(
        scan_conditions([ok(0, "a/b", "1", "2")], counted(2)), first, LATER, 2
    )
    third = render_source_conditions(
        scan_conditions([ok(0, "a/b", "1"), failed(1, "c", "x")], counted(1)), second, LATER, 2
    )

    assert [c["lastTransitionTime"] for c in second] == ["2025-01-15T10:30:00Z"] * 2
    assert second[0]["message"] == "Successfully discovered 2 model(s) from 1 filter(s)"
    assert [c["lastTransitionTime"] for c in third] == ["2025-01-15T11:30:00Z"] * 2


def test_identical_inputs_give_byte_identical_conditions():
    outcomes = [ok(0, "a/b", "1"), failed(1, "c", "x", warnings=("w",))]
    conditions = [*scan_conditions(outcomes, counted(1)), limit_condition(1, 0)]

    first = render_source_conditions(conditions, None, NOW, 1)
    again = render_source_conditions(conditions, None, NOW, 1)
    # Metacontroller writes the status back and calls us again, later.
    echoed = render_source_conditions(conditions, json.loads(json.dumps(first)), LATER, 1)

    assert json.dumps(again) == json.dumps(first)
    assert json.dumps(echoed) == json.dumps(first)


def test_hundred_failing_long_filters_fit_the_condition_message_limit():
    images = [long_image(i) for i in range(100)]
    outcomes = [
        failed(i, image, "unauthorized: authentication required") for i, image in enumerate(images)
    ]
    full = f"All filters failed: {'; '.join(filter_errors(outcomes))}"
    assert len(images[0]) == 512
    assert len(full) > 32768

    rendered = render_source_conditions(scan_conditions(outcomes, counted(0)), None, NOW, 1)

    degraded = rendered[1]["message"]
    assert len(degraded) <= 32768
    assert degraded == f"{full[:32700]}… ({len(full) - 32700} more characters)"
    assert render_source_conditions(scan_conditions(outcomes, counted(0)), None, NOW, 1) == rendered


# The whole status, as the controller assembles it, validates against the CRD.


def source_status(
    outcomes: list[FilterResult], existing: dict[str, Any], *, max_models: int = 100
) -> dict[str, Any]:
    """A status built from the core's pieces the way the controller builds it."""
    plan = plan_models(ChildTemplate("silogen-models", ("pull",)), max_models, outcomes, existing)
    state = scan_state(outcomes)
    progress = None
    if state == PROGRESSING:
        progress = ScanProgress(
            started=NOW,
            fingerprint="0123456789abcdef",
            filters=tuple(
                FilterProgress(
                    o.index, o.finished, "silogen/aim-m" if not o.finished else None, o.error
                )
                for o in outcomes
            ),
            available=plan.available,
            not_created=plan.not_created,
        )
    record = after_scan(
        ScanRecord(),
        current="0123456789abcdef",
        now=NOW,
        interval=3600,
        failed=state in (DEGRADED, FAILED),
        progress=progress,
        retry_after=None,
    )
    conditions = [
        *scan_conditions(outcomes, plan),
        limit_condition(len(plan.children), plan.not_created),
        Condition(
            "ConfigResolved",
            "False",
            "DefaultConfigNotFound",
            'AIMClusterConfig "default" not found',
        ),
        Condition("PullSecretsResolved", "True", "SecretsLoaded", "1 pull secret(s) loaded"),
    ]
    status: dict[str, Any] = {
        "status": state,
        "discoveredModels": len(plan.children),
        "availableModels": plan.available,
        "modelsLimitReached": plan.limit_reached,
    }
    if state in (READY, DEGRADED):
        status["lastSyncTime"] = format_time(NOW)
    status["conditions"] = render_source_conditions(conditions, None, NOW, 4)
    status["observedGeneration"] = 4
    status["scan"] = scan_record_json(record)
    return status


SCENARIOS = {
    READY: [ok(0, "silogen/aim-llama", "1.0.0", "2.0.0", "latest")],
    DEGRADED: [
        ok(0, "silogen/aim-llama", "1.0.0", warnings=("tag list truncated",)),
        failed(1, "ghcr.io/silogen/aim-*", "a token is needed to list ghcr.io"),
    ],
    FAILED: [failed(i, long_image(i), "connection refused") for i in range(100)],
    PROGRESSING: [
        failed(0, "a/b", "manifest unknown"),
        ok(1, "silogen/aim-*", "1.0.0", finished=False),
    ],
}


@pytest.mark.parametrize("state", list(SCENARIOS))
def test_status_validates_against_the_crd(state):
    (crd,) = crdschema.load_file(CRD)
    status = source_status(SCENARIOS[state], {}, max_models=2)
    source = {
        "apiVersion": "aim.silogen.ai/v1alpha1",
        "kind": "AIMClusterModelSource",
        "metadata": {"name": "silogen-models"},
        "spec": {"filters": [{"image": "silogen/aim-*"}]},
        "status": status,
    }

    assert status["status"] == state
    assert crdschema.errors(crdschema.crd_validator(crd), source) == []
    assert json.dumps(source_status(SCENARIOS[state], {}, max_models=2)) == json.dumps(status)


def test_lowered_limit_says_models_are_kept_rather_than_within_limit() -> None:
    condition = limit_condition(150, 0, max_models=100)
    assert condition.status == "False"
    assert condition.reason == "LimitNotReached"
    assert "150 models exist, above the limit of 100" in condition.message
    assert "within limit" not in condition.message


def test_the_plans_notes_are_in_the_ready_and_degraded_messages():
    # Images dropped for their grammar and renamed collisions are notes of the plan; the status
    # shows them like the filters' warnings, so they are never silent.
    note = '2 image(s) listed outside the reference grammar, dropped: "models/x:a\\n"'
    outcomes = [
        FilterResult(0, "models/*", images=(ImageRef("registry.test", "models/x", "1.0.0"),)),
        FilterResult(1, "other/*", error="registry down"),
    ]
    plan = Plan(children=[], available=1, notes=(note,))

    ready, degraded = scan_conditions(outcomes[:1], plan)
    assert ready.message.endswith(f"; {note}")
    ready, degraded = scan_conditions(outcomes, plan)
    assert degraded.message.endswith(f"; {note}")
