"""The AIMClusterModelSource status as a pure function (docs/decisions.md §5).

Metacontroller writes the status back and calls us again; any needless difference loops
forever. So: conditions in a fixed order, messages built only from the inputs, timestamps
RFC 3339 UTC seconds, and a condition's `lastTransitionTime` carried over unless its `status`
changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from hooks.conditions import Condition, carried_time, render_conditions
from hooks.modelsource.plan import FilterResult, Plan

PENDING = "Pending"
PROGRESSING = "Progressing"
READY = "Ready"
DEGRADED = "Degraded"
FAILED = "Failed"

# Condition types.
READY_CONDITION = "Ready"
DEGRADED_CONDITION = "Degraded"
LIMIT_CONDITION = "MaxModelsLimitReached"
CONFIG_CONDITION = "ConfigResolved"
SECRETS_CONDITION = "PullSecretsResolved"
FAILURE_CONDITION = "Failure"
CONDITION_ORDER = (
    READY_CONDITION,
    DEGRADED_CONDITION,
    LIMIT_CONDITION,
    CONFIG_CONDITION,
    SECRETS_CONDITION,
    FAILURE_CONDITION,
)

# Condition reasons: the Go controller's where it had one, so that alerts written for it match.
ALL_FILTERS_SUCCEEDED = "AllFiltersSucceeded"
SOME_FILTERS_HAD_ERRORS = "SomeFiltersHadErrors"
ALL_FILTERS_FAILED = "AllFiltersFailed"
NO_IMAGES_MATCHED = "NoImagesMatched"
SCAN_IN_PROGRESS = "ScanInProgress"
LIMIT_REACHED = "LimitReached"
LIMIT_NOT_REACHED = "LimitNotReached"
INVALID_SPEC = "InvalidSpec"
INTERNAL_ERROR = "InternalError"
OBSERVATION_FAILED = "ObservationFailed"
CONFIG_FOUND = "ConfigFound"
DEFAULT_CONFIG_NOT_FOUND = "DefaultConfigNotFound"
SECRETS_LOADED = "SecretsLoaded"
SECRET_PROBLEMS = "SecretProblems"


def filter_errors(filter_results: Sequence[FilterResult]) -> list[str]:
    """`filter "{image}": {error}` for each failed filter, in filter order."""
    return [
        f'filter "{o.image}": {o.error}'
        for o in sorted(filter_results, key=lambda o: o.index)
        if o.error is not None
    ]


def filter_warnings(filter_results: Sequence[FilterResult]) -> str:
    """Truncation and similar notes, `; filter "{image}": {warning}`, so they are never hidden."""
    notes = [
        f'filter "{o.image}": {w}'
        for o in sorted(filter_results, key=lambda o: o.index)
        for w in o.warnings
    ]
    return "".join(f"; {note}" for note in notes)


def scan_state(filter_results: Sequence[FilterResult]) -> str:
    """Ready, Degraded or Failed from the filters' errors; Progressing while some did not finish."""
    if any(not o.finished for o in filter_results):
        return PROGRESSING
    failed = sum(1 for o in filter_results if o.error is not None)
    if filter_results and failed == len(filter_results):
        return FAILED
    return DEGRADED if failed else READY


def scan_conditions(filter_results: Sequence[FilterResult], plan: Plan) -> list[Condition]:
    """Ready and Degraded after a scan, with the Go implementation's reasons and message shapes."""
    total = len(filter_results)
    errors = filter_errors(filter_results)
    failed = len(errors)
    error_list = "; ".join(errors)
    warnings = filter_warnings(filter_results) + "".join(f"; {note}" for note in plan.notes)
    if any(not o.finished for o in filter_results):
        finished = sum(1 for o in filter_results if o.finished)
        ready = Condition(
            READY_CONDITION,
            "False",
            SCAN_IN_PROGRESS,
            f"Scan in progress: {finished} of {total} filter(s) finished, "
            f"{plan.available} image(s) found so far; continuing in the next sync" + warnings,
        )
        if failed:
            degraded = Condition(
                DEGRADED_CONDITION,
                "True",
                SOME_FILTERS_HAD_ERRORS,
                f"{failed} filter(s) failed: {error_list}",
            )
        else:
            degraded = Condition(
                DEGRADED_CONDITION, "False", SCAN_IN_PROGRESS, "No filter failures so far"
            )
        return [ready, degraded]
    if failed == total and total > 0:
        return [
            Condition(
                READY_CONDITION, "False", ALL_FILTERS_FAILED, f"All {total} filter(s) failed"
            ),
            Condition(
                DEGRADED_CONDITION,
                "True",
                ALL_FILTERS_FAILED,
                f"All filters failed: {error_list}" + warnings,
            ),
        ]
    if failed:
        return [
            Condition(
                READY_CONDITION,
                "False",
                SOME_FILTERS_HAD_ERRORS,
                f"{failed} of {total} filter(s) failed",
            ),
            Condition(
                DEGRADED_CONDITION,
                "True",
                SOME_FILTERS_HAD_ERRORS,
                f"{failed} filter(s) failed: {error_list}" + warnings,
            ),
        ]
    if plan.available == 0:
        return [
            Condition(
                READY_CONDITION,
                "True",
                NO_IMAGES_MATCHED,
                "No images matched the configured filters" + warnings,
            ),
            Condition(DEGRADED_CONDITION, "False", NO_IMAGES_MATCHED, "No filter failures"),
        ]
    return [
        Condition(
            READY_CONDITION,
            "True",
            ALL_FILTERS_SUCCEEDED,
            _discovered(plan, total) + warnings,
        ),
        Condition(
            DEGRADED_CONDITION, "False", ALL_FILTERS_SUCCEEDED, "All filters processed successfully"
        ),
    ]


def _discovered(plan: Plan, filters: int) -> str:
    """The Go controller's sentence, saying what its number counts when maxModels bites.

    It counts matching images: beside `discoveredModels: 100`, "discovered 250 model(s)" would
    read as a contradiction, so then it says images, and how many got no model.
    """
    if plan.not_created == 0:
        return f"Successfully discovered {plan.available} model(s) from {filters} filter(s)"
    return (
        f"Successfully discovered {plan.available} matching image(s) from {filters} filter(s); "
        f"{plan.not_created} not created as models because of maxModels"
    )


# The shortest syncInterval the user documentation recommends: shorter ones risk rate limits.
RECOMMENDED_MIN_INTERVAL_SECONDS = 900.0


def interval_note(interval_seconds: float) -> str:
    """A note for a syncInterval under the recommended 15m, or "" (Ready message, preview)."""
    if interval_seconds >= RECOMMENDED_MIN_INTERVAL_SECONDS:
        return ""
    minutes, seconds = divmod(round(interval_seconds), 60)
    shown = (f"{minutes}m" if minutes else "") + (f"{seconds}s" if seconds or not minutes else "")
    return (
        f"syncInterval {shown} is under the recommended minimum of 15m: every scan queries the "
        "registries, which may rate-limit them"
    )


def with_note(conditions: Sequence[Condition], note: str) -> list[Condition]:
    """The conditions with `note` appended to the Ready condition's message."""
    if not note:
        return list(conditions)
    return [
        replace(c, message=f"{c.message}; note: {note}") if c.type == READY_CONDITION else c
        for c in conditions
    ]


def limit_condition(discovered: int, not_created: int, max_models: int | None = None) -> Condition:
    """MaxModelsLimitReached, worded as the user documentation shows it.

    With more models than the limit (the user lowered it) and nothing waiting, "within limit"
    would be wrong: the message says the models are kept and nothing more will be created.
    """
    if not_created > 0:
        return Condition(
            LIMIT_CONDITION,
            "True",
            LIMIT_REACHED,
            f"Model creation limit reached ({discovered} models created). "
            f"{not_created} available images not created as models.",
        )
    message = f"Created {discovered} models, within limit"
    if max_models is not None and discovered > max_models:
        message = (
            f"{discovered} models exist, above the limit of {max_models}; all are kept and "
            "no new model will be created while the count stays at or above the limit"
        )
    return Condition(LIMIT_CONDITION, "False", LIMIT_NOT_REACHED, message)


def failure_conditions(reason: str, message: str) -> list[Condition]:
    """Ready and Degraded when nothing could be scanned (invalid spec, explicit config missing)."""
    return [
        Condition(READY_CONDITION, "False", reason, message),
        Condition(DEGRADED_CONDITION, "True", reason, message),
    ]


def render_source_conditions(
    conditions: Sequence[Condition], previous: object, now: datetime, generation: int | None
) -> list[dict[str, Any]]:
    """The source's conditions in their fixed order: Ready, Degraded, MaxModelsLimitReached..."""
    return render_conditions(conditions, previous, now, generation, order=CONDITION_ORDER)


def config_condition(config_name: str, found: bool) -> Condition:
    """ConfigResolved when the config was found, or the implicit `default` was not (scan on)."""
    if found:
        return Condition(
            CONFIG_CONDITION, "True", CONFIG_FOUND, f'Using AIMClusterConfig "{config_name}"'
        )
    return Condition(
        CONFIG_CONDITION,
        "False",
        DEFAULT_CONFIG_NOT_FOUND,
        f'AIMClusterConfig "{config_name}" not found, proceeding with defaults',
    )


def config_missing_conditions(message: str) -> list[Condition]:
    """An explicitly named config is missing: Failed, with the Go controller's Failure condition."""
    return [
        *failure_conditions(OBSERVATION_FAILED, message),
        Condition(FAILURE_CONDITION, "True", OBSERVATION_FAILED, message),
    ]


def secrets_condition(secret_count: int, problems: Sequence[str]) -> Condition:
    """PullSecretsResolved: how many pull secrets were loaded, or which could not be used."""
    if problems:
        return Condition(
            SECRETS_CONDITION,
            "False",
            SECRET_PROBLEMS,
            "; ".join(problems) + " (scanning without those credentials)",
        )
    message = (
        f"{secret_count} pull secret(s) loaded" if secret_count else "No pull secrets configured"
    )
    return Condition(SECRETS_CONDITION, "True", SECRETS_LOADED, message)


@dataclass(frozen=True)
class SourceStatus:
    """Everything `status` says, before it is rendered; built by every path of the sync."""

    state: str
    discovered: int
    available: int
    limit_reached: bool
    last_sync: str | None
    conditions: Sequence[Condition]
    scan: Mapping[str, Any] | None = None


def render_status(
    status: SourceStatus, previous: Mapping[str, Any], now: datetime, generation: int | None
) -> dict[str, Any]:
    """The status as written back: the one place its fields are assembled."""
    out: dict[str, Any] = {
        "status": status.state,
        "discoveredModels": status.discovered,
        "availableModels": status.available,
        "modelsLimitReached": status.limit_reached,
    }
    if status.last_sync is not None:
        out["lastSyncTime"] = status.last_sync
    out["conditions"] = render_source_conditions(
        status.conditions, previous.get("conditions"), now, generation
    )
    if generation is not None:
        out["observedGeneration"] = generation
    if status.scan is not None:
        out["scan"] = dict(status.scan)
    return out


def carried_count(previous: Mapping[str, Any], field: str) -> int | None:
    """A count of the received status, when the CRD would accept it back."""
    count = previous.get(field)
    # The CRD wants a non-negative integer; JSON `true` is an int to Python, not to it.
    if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
        return count
    return None


def carried_available(previous: Mapping[str, Any]) -> int:
    """`availableModels` of the received status, or 0."""
    return carried_count(previous, "availableModels") or 0


def carried_last_sync(previous: Mapping[str, Any]) -> str | None:
    """`lastSyncTime` of the received status, when it is a timestamp the CRD accepts."""
    return carried_time(previous.get("lastSyncTime"))


def previous_condition(status: Mapping[str, Any], kind: str) -> Condition | None:
    """A condition of the received status, if it is well formed."""
    conditions = status.get("conditions")
    if not isinstance(conditions, list):
        return None
    for item in conditions:
        if isinstance(item, Mapping) and item.get("type") == kind:
            fields = [item.get(k) for k in ("status", "reason", "message")]
            if all(isinstance(v, str) for v in fields):
                return Condition(kind, *(str(v) for v in fields))
    return None
