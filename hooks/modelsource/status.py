"""The AIMClusterModelSource status as a pure function (DECISIONS §5).

Metacontroller writes the status back and calls us again; any needless difference loops
forever. So: conditions in a fixed order, messages built only from the inputs, timestamps
RFC 3339 UTC seconds, and a condition's `lastTransitionTime` carried over unless its `status`
changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from hooks.conditions import Condition, render_conditions
from hooks.modelsource.plan import FilterOutcome, Plan

PENDING = "Pending"
PROGRESSING = "Progressing"
READY = "Ready"
DEGRADED = "Degraded"
FAILED = "Failed"

CONDITION_ORDER = (
    "Ready",
    "Degraded",
    "MaxModelsLimitReached",
    "ConfigResolved",
    "PullSecretsResolved",
    "Failure",
)


def filter_errors(outcomes: Sequence[FilterOutcome]) -> list[str]:
    """`filter "{image}": {error}` for each failed filter, in filter order."""
    return [
        f'filter "{o.image}": {o.error}'
        for o in sorted(outcomes, key=lambda o: o.index)
        if o.error is not None
    ]


def filter_warnings(outcomes: Sequence[FilterOutcome]) -> str:
    """Truncation and similar notes, `; filter "{image}": {warning}`, so they are never hidden."""
    notes = [
        f'filter "{o.image}": {w}'
        for o in sorted(outcomes, key=lambda o: o.index)
        for w in o.warnings
    ]
    return "".join(f"; {note}" for note in notes)


def scan_state(outcomes: Sequence[FilterOutcome]) -> str:
    """Ready, Degraded or Failed from the filters' errors; Progressing while some did not finish."""
    if any(not o.finished for o in outcomes):
        return PROGRESSING
    failed = sum(1 for o in outcomes if o.error is not None)
    if outcomes and failed == len(outcomes):
        return FAILED
    return DEGRADED if failed else READY


def scan_conditions(outcomes: Sequence[FilterOutcome], plan: Plan) -> list[Condition]:
    """Ready and Degraded after a scan, with the Go implementation's reasons and message shapes."""
    total = len(outcomes)
    errors = filter_errors(outcomes)
    failed = len(errors)
    error_list = "; ".join(errors)
    warnings = filter_warnings(outcomes) + "".join(f"; {note}" for note in plan.notes)
    if any(not o.finished for o in outcomes):
        finished = sum(1 for o in outcomes if o.finished)
        ready = Condition(
            "Ready",
            "False",
            "ScanInProgress",
            f"Scan in progress: {finished} of {total} filter(s) finished, "
            f"{plan.available} image(s) found so far; continuing in the next sync" + warnings,
        )
        if failed:
            degraded = Condition(
                "Degraded",
                "True",
                "SomeFiltersHadErrors",
                f"{failed} filter(s) failed: {error_list}",
            )
        else:
            degraded = Condition("Degraded", "False", "ScanInProgress", "No filter failures so far")
        return [ready, degraded]
    if failed == total and total > 0:
        return [
            Condition("Ready", "False", "AllFiltersFailed", f"All {total} filter(s) failed"),
            Condition(
                "Degraded",
                "True",
                "AllFiltersFailed",
                f"All filters failed: {error_list}" + warnings,
            ),
        ]
    if failed:
        return [
            Condition(
                "Ready", "False", "SomeFiltersHadErrors", f"{failed} of {total} filter(s) failed"
            ),
            Condition(
                "Degraded",
                "True",
                "SomeFiltersHadErrors",
                f"{failed} filter(s) failed: {error_list}" + warnings,
            ),
        ]
    if plan.available == 0:
        return [
            Condition(
                "Ready",
                "True",
                "NoImagesMatched",
                "No images matched the configured filters" + warnings,
            ),
            Condition("Degraded", "False", "NoImagesMatched", "No filter failures"),
        ]
    return [
        Condition(
            "Ready",
            "True",
            "AllFiltersSucceeded",
            f"Successfully discovered {plan.available} model(s) from {total} filter(s)" + warnings,
        ),
        Condition("Degraded", "False", "AllFiltersSucceeded", "All filters processed successfully"),
    ]


def limit_condition(discovered: int, not_created: int, max_models: int | None = None) -> Condition:
    """MaxModelsLimitReached, worded as the user documentation shows it.

    With more models than the limit (the user lowered it) and nothing waiting, "within limit"
    would be wrong: the message says the models are kept and nothing more will be created.
    """
    if not_created > 0:
        return Condition(
            "MaxModelsLimitReached",
            "True",
            "LimitReached",
            f"Model creation limit reached ({discovered} models created). "
            f"{not_created} available images not created as models.",
        )
    message = f"Created {discovered} models, within limit"
    if max_models is not None and discovered > max_models:
        message = (
            f"{discovered} models exist, above the limit of {max_models}; all are kept and "
            "no new model will be created while the count stays at or above the limit"
        )
    return Condition("MaxModelsLimitReached", "False", "LimitNotReached", message)


def failure_conditions(reason: str, message: str) -> list[Condition]:
    """Ready and Degraded when nothing could be scanned (invalid spec, explicit config missing)."""
    return [
        Condition("Ready", "False", reason, message),
        Condition("Degraded", "True", reason, message),
    ]


def render_source_conditions(
    conditions: Sequence[Condition], previous: object, now: datetime, generation: int | None
) -> list[dict[str, Any]]:
    """The source's conditions in their fixed order: Ready, Degraded, MaxModelsLimitReached..."""
    return render_conditions(conditions, previous, now, generation, order=CONDITION_ORDER)
