"""The AIMClusterModelSource controller: Metacontroller's sync and customize hooks.

`sync_source` is a function of the request, a scan function and the clock. Its one promise above
all: every response carries every existing child, on every path (invalid spec, missing config,
registry down, deadline hit, a bug in the core), because Metacontroller deletes what we leave out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from hooks.conditions import Condition, carried_time, format_time
from hooks.metacontroller import (
    CustomizeRequest,
    CustomizeResponse,
    RelatedRule,
    SyncRequest,
    SyncResponse,
)
from hooks.modelsource.filters import FilterError, ImageFilter, build_filters
from hooks.modelsource.plan import (
    ChildTemplate,
    FilterOutcome,
    child_identity,
    image_key,
    kept_child,
    plan_models,
)
from hooks.modelsource.schedule import (
    FilterProgress,
    Progress,
    after_scan,
    book_to_json,
    continuing,
    fingerprint,
    read_book,
    resync_after,
    scan_due,
)
from hooks.modelsource.spec import SourceSpec, SpecError, parse_spec
from hooks.modelsource.status import (
    DEGRADED,
    FAILED,
    PROGRESSING,
    READY,
    failure_conditions,
    limit_condition,
    render_source_conditions,
    scan_conditions,
    scan_state,
)
from hooks.objects import is_object, pull_secret_names
from hooks.reference import ImageRef
from hooks.registry.credentials import Keychain, keychain_from_secrets
from hooks.registry.targets import ScanTarget, TargetResult

log = logging.getLogger(__name__)

MODEL_KEY = "AIMClusterModel.aim.silogen.ai/v1alpha1"
SECRET_KEY = "Secret.v1"
CONFIG_KEY = "AIMClusterConfig.aim.silogen.ai/v1alpha1"
DEFAULT_CONFIG = "default"
# After an unexpected failure, try again soon but not in a hot loop.
INTERNAL_ERROR_RESYNC_SECONDS = 60.0

ScanFunction = Callable[[Sequence[ScanTarget], Keychain], Sequence[TargetResult]]


@dataclass(frozen=True)
class SyncResult:
    """The response plus what the web layer logs and counts."""

    response: SyncResponse
    outcome: str
    scanned: bool = False
    created: int = 0


def customize_source(request: CustomizeRequest, operator_namespace: str) -> CustomizeResponse:
    """Ask for the source's pull secrets and its AIMClusterConfig; depends only on the spec."""
    raw = request.parent.spec if isinstance(request.parent.spec, Mapping) else {}
    secrets = pull_secret_names(raw)
    config = raw.get("configName")
    config_name = config if isinstance(config, str) and config else DEFAULT_CONFIG
    rules = [RelatedRule("aim.silogen.ai/v1alpha1", "aimclusterconfigs", (config_name,))]
    if secrets:
        # Always with the namespace: without it a same-named Secret anywhere would match.
        rules.append(RelatedRule("v1", "secrets", secrets, namespace=operator_namespace))
    return CustomizeResponse(rules)


def sync_source(
    request: SyncRequest, *, scan: ScanFunction, now: datetime, operator_namespace: str
) -> SyncResult:
    """Answer one sync; an exception anywhere in the core still keeps every child."""
    try:
        return _sync(request, scan=scan, now=now, operator_namespace=operator_namespace)
    except Exception:
        log.exception("sync of AIMClusterModelSource %s failed", request.parent.name)
        return _internal_error(request, now)


def _observed(request: SyncRequest) -> dict[str, Mapping[str, Any]]:
    """The observed children by name, each carrying its key as `metadata.name`.

    Metacontroller keys children by name and deletes every key the answer does not name, so the
    key is the name to answer with; an object without it (no API server sends one) must not come
    back nameless, and so be deleted.
    """
    observed: dict[str, Mapping[str, Any]] = {}
    for name, child in request.children_of(MODEL_KEY).items():
        metadata = child.get("metadata")
        if is_object(metadata) and metadata.get("name") == name:
            observed[name] = child
        else:
            kept = dict(metadata) if isinstance(metadata, Mapping) else {}
            observed[name] = {**child, "metadata": {**kept, "name": name}}
    return observed


def _kept_children(existing: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [kept_child(existing[name]) for name in sorted(existing)]


def _internal_error(request: SyncRequest, now: datetime) -> SyncResult:
    """Keep every child exactly as observed and say what happened, without guessing more."""
    existing = _observed(request)
    try:
        children = _kept_children(existing)
    except Exception:
        children = [dict(existing[name]) for name in sorted(existing)]
    status = dict(request.parent.status)
    status["status"] = FAILED
    status["discoveredModels"] = len(children)
    status["conditions"] = render_source_conditions(
        failure_conditions(
            "InternalError", "The hook failed unexpectedly; see the hook's logs. Models are kept."
        ),
        request.parent.status.get("conditions"),
        now,
        request.parent.generation,
    )
    return SyncResult(
        SyncResponse(status, children, INTERNAL_ERROR_RESYNC_SECONDS), outcome="internal-error"
    )


def _related_identity(obj: Mapping[str, Any] | None, version: str) -> object:
    """uid and one version field of the metadata: enough to notice a change, free of content.

    A Secret gets a new resourceVersion only when it changes. An AIMClusterConfig also gets one
    whenever its own controller writes its status, so it enters by `generation` (its spec): else
    every config status write would cost each source using it a registry scan.
    """
    if obj is None:
        return None
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):
        return "present"
    return [metadata.get("uid"), metadata.get(version)]


@dataclass(frozen=True)
class _Inputs:
    """What the sync resolved from the request before deciding anything."""

    spec: SourceSpec
    keychain: Keychain
    secret_problems: list[str]
    config_conditions: list[Condition]
    config_missing: str | None
    fingerprint: str


def _resolve(request: SyncRequest, spec: SourceSpec, operator_namespace: str) -> _Inputs:
    config_name = spec.config_name or DEFAULT_CONFIG
    config = request.related_object(CONFIG_KEY, "", config_name)
    config_missing = None
    if config is None and spec.config_name:
        config_missing = f'failed to get AIMClusterConfig "{config_name}": not found'
        conditions = [Condition("Failure", "True", "ObservationFailed", config_missing)]
    elif config is None:
        conditions = [
            Condition(
                "ConfigResolved",
                "False",
                "DefaultConfigNotFound",
                f'AIMClusterConfig "{DEFAULT_CONFIG}" not found, proceeding with defaults',
            )
        ]
    else:
        conditions = [
            Condition(
                "ConfigResolved", "True", "ConfigFound", f'Using AIMClusterConfig "{config_name}"'
            )
        ]

    problems: list[str] = []
    found: list[tuple[str, Mapping[str, Any]]] = []
    identities: dict[str, object] = {}
    for name in spec.image_pull_secrets:
        secret = request.related_object(SECRET_KEY, operator_namespace, name)
        identities[f"secret/{name}"] = _related_identity(secret, "resourceVersion")
        if secret is None:
            problems.append(f'secret "{name}" not found in namespace {operator_namespace}')
        else:
            found.append((name, secret))
    keychain, secret_problems = keychain_from_secrets(found)
    problems.extend(str(p) for p in secret_problems)
    identities[f"config/{config_name}"] = _related_identity(config, "generation")
    return _Inputs(
        spec=spec,
        keychain=keychain,
        secret_problems=problems,
        config_conditions=conditions,
        config_missing=config_missing,
        fingerprint=fingerprint(request.parent.spec, identities),
    )


def _sync(
    request: SyncRequest, *, scan: ScanFunction, now: datetime, operator_namespace: str
) -> SyncResult:
    parent = request.parent
    existing = _observed(request)
    try:
        spec = parse_spec(parent.spec)
    except SpecError as error:
        return _not_scanned(
            request, existing, now, failure_conditions("InvalidSpec", str(error)), "invalid-spec"
        )

    inputs = _resolve(request, spec, operator_namespace)
    if inputs.config_missing is not None:
        conditions = failure_conditions("ObservationFailed", inputs.config_missing)
        return _not_scanned(
            request, existing, now, conditions + inputs.config_conditions, "config-missing"
        )

    book = read_book(parent.status)
    if not scan_due(book, inputs.fingerprint, now):
        children = _kept_children(existing)
        return SyncResult(
            SyncResponse(dict(parent.status), children, resync_after(book, now)), outcome="not-due"
        )

    progress = continuing(book, inputs.fingerprint)
    filters = build_filters(spec)
    runnable = [f for f in filters if isinstance(f, ImageFilter)]
    targets = _bounded_targets(runnable, progress, now, spec.max_models, existing)
    results = {r.key: r for r in scan(targets, inputs.keychain)} if targets else {}
    dropped = sum(r.images_dropped for r in results.values())
    uncreated = sum(r.new_images_dropped for r in results.values())
    outcomes = filter_outcomes(filters, progress, results)

    template = ChildTemplate(parent.name, spec.image_pull_secrets, spec.config_name)
    plan = plan_models(
        template, spec.max_models, outcomes, existing, _counted_earlier(runnable, progress)
    )
    available = plan.available + dropped + (progress.available if progress else 0)
    not_created = plan.not_created + uncreated + (progress.not_created if progress else 0)
    next_progress = _next_progress(
        now, inputs.fingerprint, progress, outcomes, results, available, not_created
    )
    if next_progress is None:
        outcomes = [_settle(o, results.get(o.index)) for o in outcomes]
    state = PROGRESSING if next_progress is not None else scan_state(outcomes)
    retry_after = max((r.retry_after for r in results.values() if r.retry_after), default=None)
    new_book = after_scan(
        book,
        current=inputs.fingerprint,
        now=now,
        interval=spec.sync_interval_seconds,
        failed=state in (DEGRADED, FAILED),
        progress=next_progress,
        retry_after=retry_after,
    )
    counted = replace(plan, available=available, not_created=not_created)
    conditions = [
        *scan_conditions(outcomes, counted),
        limit_condition(len(plan.children), not_created, spec.max_models),
        *inputs.config_conditions,
        _secrets_condition(spec, inputs.secret_problems),
    ]
    last_sync = carried_time(parent.status.get("lastSyncTime"))
    status: dict[str, Any] = {
        "status": state,
        "discoveredModels": len(plan.children),
        "availableModels": available,
        "modelsLimitReached": not_created > 0,
    }
    if state in (READY, DEGRADED):
        status["lastSyncTime"] = format_time(now)
    elif last_sync is not None:
        status["lastSyncTime"] = last_sync
    status["conditions"] = render_source_conditions(
        conditions, parent.status.get("conditions"), now, parent.generation
    )
    if parent.generation is not None:
        status["observedGeneration"] = parent.generation
    status["scan"] = book_to_json(new_book)
    return SyncResult(
        SyncResponse(status, plan.children, resync_after(new_book, now)),
        outcome=state,
        scanned=True,
        created=len(plan.created),
    )


def _secrets_condition(spec: SourceSpec, problems: list[str]) -> Condition:
    if problems:
        return Condition(
            "PullSecretsResolved",
            "False",
            "SecretProblems",
            "; ".join(problems) + " (scanning without those credentials)",
        )
    count = len(spec.image_pull_secrets)
    message = f"{count} pull secret(s) loaded" if count else "No pull secrets configured"
    return Condition("PullSecretsResolved", "True", "SecretsLoaded", message)


def _not_scanned(
    request: SyncRequest,
    existing: Mapping[str, Mapping[str, Any]],
    now: datetime,
    conditions: list[Condition],
    outcome: str,
) -> SyncResult:
    """Failed without a scan: children kept, counts and bookkeeping carried over."""
    parent = request.parent
    children = _kept_children(existing)
    previous = parent.status
    available = previous.get("availableModels")
    status: dict[str, Any] = {
        "status": FAILED,
        "discoveredModels": len(children),
        # The CRD wants a non-negative integer; JSON `true` is an int to Python, not to it.
        "availableModels": available
        if isinstance(available, int) and not isinstance(available, bool) and available >= 0
        else 0,
        "modelsLimitReached": previous.get("modelsLimitReached") is True,
    }
    last_sync = carried_time(previous.get("lastSyncTime"))
    if last_sync is not None:
        status["lastSyncTime"] = last_sync
    limit = limit_condition(len(children), 0)
    old_limit = _previous_condition(previous, "MaxModelsLimitReached")
    if old_limit is not None:
        limit = old_limit
    status["conditions"] = render_source_conditions(
        [*conditions, limit], previous.get("conditions"), now, parent.generation
    )
    if parent.generation is not None:
        status["observedGeneration"] = parent.generation
    if isinstance(previous.get("scan"), Mapping):
        # Without the fingerprint of the inputs last scanned: when the inputs change back to them
        # (the spec fixed, configName reverted), the next sync must scan and replace this Failed
        # status, instead of finding nothing due and keeping it until the interval ends.
        status["scan"] = book_to_json(replace(read_book(previous), fingerprint=None))
    return SyncResult(SyncResponse(status, children), outcome=outcome)


def _previous_condition(status: Mapping[str, Any], kind: str) -> Condition | None:
    conditions = status.get("conditions")
    if not isinstance(conditions, list):
        return None
    for item in conditions:
        if isinstance(item, Mapping) and item.get("type") == kind:
            fields = [item.get(k) for k in ("status", "reason", "message")]
            if all(isinstance(v, str) for v in fields):
                return Condition(kind, *(str(v) for v in fields))
    return None


def scan_target(
    image_filter: ImageFilter, progress: Progress | None, now: datetime | None = None
) -> ScanTarget | None:
    """The scan question for a filter, or None when an earlier call already finished it.
    `now` dates a continued scan (how long it has run bounds it)."""
    resume_after = None
    continued = 0.0
    if progress is not None:
        continued = (now - progress.started).total_seconds() if now is not None else 0.0
        state = progress.filter(image_filter.index)
        if state is not None and state.done:
            return None
        resume_after = state.resume_after if state is not None else None
    return ScanTarget(
        key=image_filter.index,
        registry=image_filter.registry,
        repository=image_filter.repository,
        wildcard=image_filter.is_wildcard,
        tag=image_filter.tag,
        digest=image_filter.digest,
        selects_repository=image_filter.selects_repository,
        selects_tag=image_filter.selects_tag,
        resume_after=resume_after,
        continued_seconds=continued,
    )


def _bounded_targets(
    runnable: Sequence[ImageFilter],
    progress: Progress | None,
    now: datetime,
    max_models: int,
    existing: Mapping[str, Mapping[str, Any]],
) -> list[ScanTarget]:
    """The scan targets, each told how many of its images could still become models.

    Models are created in filter order, then repository, then newest first. Past
    max(maxModels, children) images, a filter alone fills the room left, so the n-th filter's
    images past n times that can never be created: the scanner counts them instead of keeping
    them (a count that, unlike the images kept, cannot tell an image two filters found).
    """
    most = max(max_models, len(existing))
    known = {ident for child in existing.values() if (ident := child_identity(child))}

    def has_model(image: ImageRef) -> bool:
        return image_key(image) in known

    return [
        replace(target, keep_images=(position + 1) * most, has_model=has_model)
        for position, image_filter in enumerate(runnable)
        if (target := scan_target(image_filter, progress, now)) is not None
    ]


def filter_outcomes(
    filters: Sequence[ImageFilter | FilterError],
    progress: Progress | None,
    results: Mapping[int, TargetResult],
) -> list[FilterOutcome]:
    """One outcome per filter: a spec error, an earlier call's verdict, or this call's result."""
    outcomes = []
    for f in filters:
        if isinstance(f, FilterError):
            outcomes.append(FilterOutcome(f.index, f.image, error=f.message))
            continue
        result = results.get(f.index)
        earlier = progress.filter(f.index) if progress else None
        earlier_error = earlier.error if earlier else None
        if result is None:
            outcomes.append(FilterOutcome(f.index, f.image, error=earlier_error))
            continue
        # Errors of earlier calls of a continued scan stay until the scan completes.
        errors = [e for e in (earlier_error, result.error) if e]
        outcomes.append(
            FilterOutcome(
                f.index,
                f.image,
                images=result.images,
                error="; ".join(errors) if errors else None,
                finished=result.finished,
                warnings=result.warnings,
            )
        )
    return outcomes


def _next_progress(
    now: datetime,
    current: str,
    progress: Progress | None,
    outcomes: Sequence[FilterOutcome],
    results: Mapping[int, TargetResult],
    available: int,
    not_created: int,
) -> Progress | None:
    """Where a scan that hit its deadline stands, or None when it is complete.

    A call that found nothing new and moved no cursor would loop forever: its unfinished
    filters are then settled as errors (`_settle`) instead.
    """
    unfinished = [o for o in outcomes if not o.finished]
    if not unfinished:
        return None
    advanced = any(o.images for o in outcomes) or any(
        results[o.index].resume_after != _resume_of(progress, o.index) for o in unfinished
    )
    if not advanced and progress is not None:
        return None
    filters = tuple(
        FilterProgress(
            index=o.index,
            done=o.finished,
            resume_after=results[o.index].resume_after if o.index in results else None,
            error=o.error,
        )
        for o in outcomes
    )
    return Progress(
        started=progress.started if progress else now,
        fingerprint=current,
        filters=filters,
        available=available,
        not_created=not_created,
    )


def _counted_earlier(
    filters: Sequence[ImageFilter], progress: Progress | None
) -> Callable[[ImageRef], bool]:
    """Which images an earlier call of this continued scan counted already.

    An image found now by one filter was counted before if another filter that matches it had
    covered its repository then: finished without error, or a wildcard whose resume point is
    at or past the repository (each call reports exactly the repositories up to its resume
    point). The counts are totals over the calls; without this an image matched by two filters
    that finished in different calls was counted twice.
    """
    covered: list[tuple[ImageFilter, str | None]] = []
    for image_filter in filters:
        state = progress.filter(image_filter.index) if progress else None
        if state is None:
            continue
        if state.done and state.error is None:
            covered.append((image_filter, None))
        elif not state.done and state.resume_after is not None:
            covered.append((image_filter, state.resume_after))

    def counted(image: ImageRef) -> bool:
        return any(
            (upto is None or image.repository <= upto) and image_filter.matches(image)
            for image_filter, upto in covered
        )

    return counted


def _resume_of(progress: Progress | None, index: int) -> str | None:
    state = progress.filter(index) if progress else None
    return state.resume_after if state else None


def _settle(outcome: FilterOutcome, result: TargetResult | None) -> FilterOutcome:
    """An unfinished filter that made no progress becomes that filter's error."""
    if outcome.finished:
        return outcome
    reason = "the scan did not finish within its deadline and made no progress; will retry"
    if result is not None and result.error:
        reason = result.error
    return replace(outcome, error=reason, finished=True)
