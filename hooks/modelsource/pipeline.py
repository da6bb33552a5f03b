"""The one way from a sync request to its answer: spec, config and secrets, filters, scan, plan,
status.

The sync hook (`controller.sync_source`), `python -m hooks preview` (which builds the very request
the service would receive) and the tests all run this pipeline, so they cannot disagree about what
a source finds, which credentials it uses or what status it gets. It reads as three steps:
`prepare` (parse the spec, resolve the config and pull secrets, decide whether a scan is due),
`scan_filters` (one call's scan, merged with the earlier calls of a continued scan) and `answer`
(plan the models and assemble the status). Every path keeps every observed child: Metacontroller
deletes whatever an answer leaves out.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from hooks.conditions import Condition, format_time
from hooks.metacontroller import CONFIG_GROUP, MODEL_GROUP, SECRET_GROUP, SyncRequest, SyncResponse
from hooks.modelsource.continuation import (
    counted_earlier,
    merge_results,
    next_progress,
    scan_target,
    settle,
)
from hooks.modelsource.filters import FilterError, ImageFilter, build_filters
from hooks.modelsource.plan import (
    KIND,
    ChildKind,
    ChildTemplate,
    FilterResult,
    Plan,
    child_identity,
    image_key,
    kept_child,
    plan_models,
)
from hooks.modelsource.schedule import (
    MAX_CONFIG_PULL_SECRETS,
    ScanProgress,
    ScanRecord,
    after_scan,
    continuing,
    fingerprint,
    read_scan_record,
    record_from_status,
    recreate_at,
    resync_after,
    scan_due,
    scan_record_json,
)
from hooks.modelsource.spec import SourceSpec, SpecError, parse_spec
from hooks.modelsource.status import (
    DEGRADED,
    FAILED,
    INVALID_SPEC,
    LIMIT_CONDITION,
    PENDING,
    PROGRESSING,
    READY,
    SourceStatus,
    carried_available,
    carried_count,
    carried_last_sync,
    config_condition,
    config_missing_conditions,
    failure_conditions,
    interval_note,
    limit_condition,
    previous_condition,
    render_status,
    scan_conditions,
    scan_state,
    secrets_condition,
    with_note,
)
from hooks.namespaced.tenancy import SecretRef
from hooks.objects import is_object, is_secret_name, pull_secret_names
from hooks.reference import ImageRef
from hooks.registry.credentials import Keychain, keychain_from_secrets
from hooks.registry.targets import ScanTarget, TargetResult

DEFAULT_CONFIG = "default"
PRUNED_REASON = (
    "the scan did not finish within its deadline and cannot continue in the next call: the "
    "served CRD of the source drops status.scan (install this project's CRD); will retry"
)

ScanFunction = Callable[[Sequence[ScanTarget], Keychain], Sequence[TargetResult]]

# What the web layer logs and counts for a call that did not end in a scan.
NOT_DUE = "not-due"
NO_SCAN_SLOT = "no-scan-slot"
# A scan that found every scan slot taken: come back soon, the slots free within a deadline.
NO_SCAN_SLOT_RESYNC_SECONDS = 5.0

MayScan = Callable[[], bool]
"""Asked once, just before a sync would scan: may it scan now? The web layer bounds how many
scans run at once so that probes and gated syncs always find a thread; False means no slot is
free, and the sync answers at once with everything kept, to come back soon."""


def always() -> bool:
    """The `MayScan` of a caller that bounds nothing (preview, replay, tests)."""
    return True


DELETING = "deleting"
INVALID_SPEC_OUTCOME = "invalid-spec"
CONFIG_MISSING = "config-missing"


@dataclass(frozen=True)
class ScanFindings:
    """One call's scan: the filters, what each found (merged with earlier calls), the plan.

    `excluded` holds, when asked for, the images each wildcard filter's exclusions removed.
    `plan` counts `available` and `not_created` over all calls of a continued scan.
    """

    filters: list[ImageFilter | FilterError]
    filter_results: list[FilterResult]
    excluded: list[FilterResult]
    plan: Plan
    state: str
    progress: ScanProgress | None
    retry_after: float | None
    rate_limited: bool = False


@dataclass(frozen=True)
class SyncResult:
    """The response plus what the web layer logs and counts; `findings` when a scan ran."""

    response: SyncResponse
    outcome: str
    scanned: bool = False
    created: int = 0
    findings: ScanFindings | None = None


@dataclass(frozen=True)
class Related:
    """The source's config and pull secrets, resolved from the request's related objects."""

    keychain: Keychain
    secret_count: int
    secret_problems: list[str]
    config_conditions: list[Condition]
    config_missing: str | None
    fingerprint: str
    # The resolved config's pull secret names, recorded for the customize hook.
    config_secrets: tuple[str, ...] = ()
    # The resolved config's kind, recorded for a namespaced source's customize hook: where the
    # recorded names are asked for (None for a cluster source, whose config has one kind).
    config_kind: str | None = None


Resolve = Callable[[SyncRequest, SourceSpec, str, ScanRecord], Related]
"""How a source kind resolves its config and pull secrets: the request, the parsed spec, the
operator namespace and the received bookkeeping (which config secrets were asked for)."""


@dataclass(frozen=True)
class SourceKind:
    """What differs between AIMClusterModelSource and AIMModelSource; the rest is one pipeline.

    `child_group` is the request's key of the children, `child_kind` their kind, `resolve` how
    the config and pull secrets are found (docs/decisions.md §7, §8). A namespaced kind's
    children live in the parent's namespace, and its children are keyed `namespace/name`.
    """

    kind: str
    child_group: str
    child_kind: str
    resolve: Resolve

    def children(self, request: SyncRequest) -> ChildKind:
        """The kind and namespace of this parent's children."""
        return ChildKind(self.child_kind, request.parent.namespace or None)


@dataclass(frozen=True)
class Prepared:
    """A sync that is due to scan: everything `scan_filters` and `answer` need."""

    request: SyncRequest
    kind: SourceKind
    spec: SourceSpec
    related: Related
    record: ScanRecord
    existing: Mapping[str, Mapping[str, Any]]
    progress: ScanProgress | None
    # Due only because models in the last answer were deleted by hand.
    recreating: bool = False
    # The API server prunes `status.scan`: the record was rebuilt, a scan cannot continue.
    pruned: bool = False


def observed_models(request: SyncRequest, kind: SourceKind) -> dict[str, Mapping[str, Any]]:
    """The observed children by name, each carrying its name as `metadata.name`.

    Metacontroller keys children by name (`namespace/name` for a namespaced parent in v2) and
    deletes every child the answer does not name, so the key, less the parent's namespace, is the
    name to answer with: answering `team-a/x` would create an invalid name and leave the real
    model out. An object without it (no API server sends one) must not come back nameless.
    """
    prefix = f"{request.parent.namespace}/" if request.parent.namespace else None
    observed: dict[str, Mapping[str, Any]] = {}
    for key, child in request.children_of(kind.child_group).items():
        name = key.removeprefix(prefix) if prefix else key
        metadata = child.get("metadata")
        if is_object(metadata) and metadata.get("name") == name:
            observed[name] = child
        else:
            kept = dict(metadata) if isinstance(metadata, Mapping) else {}
            observed[name] = {**child, "metadata": {**kept, "name": name}}
    return observed


def kept_children(existing: Mapping[str, Mapping[str, Any]], of: ChildKind) -> list[dict[str, Any]]:
    """Every observed child, as the answer must carry it back."""
    return [kept_child(existing[name], of) for name in sorted(existing)]


def related_identity(obj: Mapping[str, Any] | None, version: str) -> object:
    """uid and one version field of the metadata: enough to notice a change, free of content.

    A Secret gets a new resourceVersion only when it changes. A config also gets one whenever
    its own controller writes its status, so it enters by `generation` (its spec): else every
    config status write would cost each source using it a registry scan.
    """
    if obj is None:
        return None
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):
        return "present"
    return [metadata.get("uid"), metadata.get(version)]


@dataclass(frozen=True)
class PullSecrets:
    """The pull secrets a scan uses: the keychain, how many were named, what went wrong, and
    each Secret's identity (uid and resourceVersion, for the fingerprint)."""

    keychain: Keychain
    count: int
    problems: list[str]
    identities: dict[SecretRef, object]


def config_secret_names(
    named: Sequence[str], own: Sequence[SecretRef], namespace: str
) -> tuple[str, ...]:
    """The pull secrets a config names, to be read from `namespace`: valid names only, none the
    source already names there, bounded as `status.scan.configPullSecrets` is."""
    return tuple(
        name
        for name in dict.fromkeys(named)
        if is_secret_name(name) and SecretRef(namespace, name) not in own
    )[:MAX_CONFIG_PULL_SECRETS]


def load_secrets(
    lookup: Callable[[SecretRef], Mapping[str, Any] | None],
    own: Sequence[SecretRef],
    config: Sequence[SecretRef],
    origin: str,
    requested: Collection[str],
) -> PullSecrets:
    """The source's own pull secrets, then its config's (`origin` names the config), each
    looked up by `lookup` in its own namespace only.

    The source's come first, so its credential wins for a host both name (docs/decisions.md
    §7). The customize hook asks for the config's secrets by the names the last sync recorded
    (`requested`): one the config names that was not asked for yet arrives with the next sync,
    whose changed fingerprint scans again.
    """
    problems: list[str] = []
    found: list[tuple[str, Mapping[str, Any]]] = []
    identities: dict[SecretRef, object] = {}
    for ref, of in [*((ref, "") for ref in own), *((ref, f" (of {origin})") for ref in config)]:
        secret = lookup(ref)
        identities[ref] = related_identity(secret, "resourceVersion")
        if secret is not None:
            found.append((ref.name, secret))
        elif of and ref.name not in requested:
            problems.append(f'secret "{ref.name}"{of} is asked for; it arrives with the next sync')
        else:
            problems.append(f'secret "{ref.name}"{of} not found in namespace {ref.namespace}')
    keychain, secret_problems = keychain_from_secrets(found)
    problems.extend(str(p) for p in secret_problems)
    return PullSecrets(keychain, len(own) + len(config), problems, identities)


def resolve_related(
    request: SyncRequest, spec: SourceSpec, operator_namespace: str, record: ScanRecord
) -> Related:
    """An AIMClusterModelSource's config (the one it names, or `default`) and pull secrets,
    all of them in the operator namespace."""
    config_name = spec.config_name or DEFAULT_CONFIG
    config = request.related_object(CONFIG_GROUP, "", config_name)
    config_missing = None
    conditions: list[Condition] = []
    if config is None and spec.config_name:
        config_missing = f'failed to get AIMClusterConfig "{config_name}": not found'
    else:
        conditions = [config_condition(config_name, config is not None)]
    own = [SecretRef(operator_namespace, name) for name in spec.image_pull_secrets]
    named = pull_secret_names(config.get("spec")) if config is not None else ()
    config_secrets = config_secret_names(named, own, operator_namespace)
    secrets = load_secrets(
        lambda ref: request.related_object(SECRET_GROUP, ref.namespace, ref.name),
        own,
        [SecretRef(operator_namespace, name) for name in config_secrets],
        f'AIMClusterConfig "{config_name}"',
        record.config_pull_secrets,
    )
    identities: dict[str, object] = {
        f"secret/{ref.name}": identity for ref, identity in secrets.identities.items()
    }
    identities[f"config/{config_name}"] = related_identity(config, "generation")
    return Related(
        keychain=secrets.keychain,
        secret_count=secrets.count,
        secret_problems=secrets.problems,
        config_conditions=conditions,
        config_missing=config_missing,
        fingerprint=fingerprint(request.parent.spec, identities),
        config_secrets=config_secrets,
    )


CLUSTER_SOURCE = SourceKind("AIMClusterModelSource", MODEL_GROUP, KIND, resolve_related)


def prepare(
    request: SyncRequest, now: datetime, operator_namespace: str, kind: SourceKind = CLUSTER_SOURCE
) -> Prepared | SyncResult:
    """What a due scan needs, or the whole answer when this sync does not scan."""
    parent = request.parent
    existing = observed_models(request, kind)
    children = kind.children(request)
    if parent.deleting:
        # Metacontroller deletes the children itself (ownerReferences); scanning would be waste.
        return kept_answer(request, existing, children, None, DELETING)
    try:
        spec = parse_spec(parent.spec)
    except SpecError as error:
        conditions = failure_conditions(INVALID_SPEC, str(error))
        return not_scanned(request, existing, children, now, conditions, INVALID_SPEC_OUTCOME)
    record = read_scan_record(parent.status)
    related = kind.resolve(request, spec, operator_namespace, record)
    if related.config_missing is not None:
        conditions = config_missing_conditions(related.config_missing)
        return not_scanned(request, existing, children, now, conditions, CONFIG_MISSING)
    interval = spec.sync_interval_seconds
    rebuilt = record_from_status(parent.status, related.fingerprint, parent.generation, interval)
    known = rebuilt or record
    if known.answered is None:
        # A status written before `answeredModels` existed: its count is the best known.
        known = replace(known, answered=carried_count(parent.status, "discoveredModels"))
    due = scan_due(known, related.fingerprint, now)
    recreate = recreate_at(known, len(existing), interval)
    recreating = not due and recreate is not None and now >= recreate
    if not due and not recreating:
        return kept_answer(request, existing, children, resync_after(known, now, recreate), NOT_DUE)
    progress = None if rebuilt else continuing(record, related.fingerprint)
    return Prepared(
        request,
        kind,
        spec,
        related,
        known,
        existing,
        progress,
        recreating=recreating,
        pruned=rebuilt is not None,
    )


def kept_answer(
    request: SyncRequest,
    existing: Mapping[str, Mapping[str, Any]],
    of: ChildKind,
    resync: float | None,
    outcome: str,
) -> SyncResult:
    """No scan: the status received, with `discoveredModels` the models of this very answer."""
    children = kept_children(existing, of)
    status = {**request.parent.status, "discoveredModels": len(children)}
    return SyncResult(SyncResponse(status, children, resync or 0.0), outcome=outcome)


def _excluded_key(index: int) -> int:
    """The scan key of a filter's excluded images: negative, so never a filter's own key."""
    return -1 - index


def _excluded_target(image_filter: ImageFilter) -> ScanTarget | None:
    """A question for the images a wildcard filter's exclusions remove (for `preview`).

    It shares the scan's listings (each repository is listed once per scan), so it costs only
    the tag lists of the excluded repositories.
    """
    if not image_filter.is_wildcard or not image_filter.exclude:
        return None
    unfiltered = replace(image_filter, exclude=())
    target = scan_target(unfiltered, None)
    if target is None:
        return None

    def excluded(repository: str) -> bool:
        return unfiltered.selects_repository(repository) and not image_filter.selects_repository(
            repository
        )

    return replace(target, key=_excluded_key(image_filter.index), selects_repository=excluded)


def scan_targets(
    filters: Sequence[ImageFilter | FilterError],
    progress: ScanProgress | None,
    now: datetime,
    max_models: int,
    existing: Mapping[str, Mapping[str, Any]],
) -> list[ScanTarget]:
    """What this call asks the scanner: one target per runnable filter not finished earlier,
    each told how many of its images could still become models.

    Models are created in filter order, then repository, then newest first. Past
    max(maxModels, children) images, a filter alone fills the room left, so the n-th filter's
    images past n times that can never be created: the scanner counts them instead of keeping
    them (a count that, unlike the images kept, cannot tell an image two filters found).
    """
    most = max(max_models, len(existing))
    known = {ident for child in existing.values() if (ident := child_identity(child))}

    def has_model(image: ImageRef) -> bool:
        return image_key(image) in known

    runnable = [f for f in filters if isinstance(f, ImageFilter)]
    return [
        replace(target, keep_images=(position + 1) * most, has_model=has_model)
        for position, image_filter in enumerate(runnable)
        if (target := scan_target(image_filter, progress, now)) is not None
    ]


def scan_filters(
    prepared: Prepared, scan: ScanFunction, now: datetime, *, explain_exclusions: bool = False
) -> ScanFindings:
    """Scan for the filters this call still has to do, and plan the models from what was found.

    With `explain_exclusions`, each wildcard filter's excluded images are looked up too (for
    `preview`); they never become models.
    """
    spec, progress = prepared.spec, prepared.progress
    filters = build_filters(spec)
    runnable = [f for f in filters if isinstance(f, ImageFilter)]
    targets = scan_targets(filters, progress, now, spec.max_models, prepared.existing)
    extra = (
        [t for f in runnable if (t := _excluded_target(f)) is not None]
        if explain_exclusions and progress is None
        else []
    )
    found = scan([*targets, *extra], prepared.related.keychain) if targets else []
    results = {r.key: r for r in found if r.key >= 0}
    dropped = sum(r.images_dropped for r in results.values())
    uncreated = sum(r.new_images_dropped for r in results.values())
    excluded = [
        FilterResult(f.index, f.image, images=r.images)
        for f in runnable
        for r in found
        if r.key == _excluded_key(f.index)
    ]
    filter_results = merge_results(filters, progress, results)

    template = ChildTemplate(
        prepared.request.parent.name,
        spec.image_pull_secrets,
        spec.config_name,
        prepared.kind.children(prepared.request),
    )
    plan = plan_models(
        template,
        spec.max_models,
        filter_results,
        prepared.existing,
        counted_earlier(runnable, progress),
    )
    available = plan.available + dropped + (progress.available if progress else 0)
    not_created = plan.not_created + uncreated + (progress.not_created if progress else 0)
    following = next_progress(
        now, prepared.related.fingerprint, progress, filter_results, results, available, not_created
    )
    if prepared.pruned:
        following = None
        filter_results = [settle(o, results.get(o.index), PRUNED_REASON) for o in filter_results]
    elif following is None:
        filter_results = [settle(o, results.get(o.index)) for o in filter_results]
    failed = [o for o in filter_results if o.error is not None]
    return ScanFindings(
        filters=filters,
        filter_results=filter_results,
        excluded=excluded,
        plan=replace(plan, available=available, not_created=not_created),
        state=PROGRESSING if following is not None else scan_state(filter_results),
        progress=following,
        retry_after=max((r.retry_after for r in results.values() if r.retry_after), default=None),
        # Every failure is a registry's "come back later": nothing is known to be wrong yet.
        rate_limited=bool(failed)
        and all(o.index in results and results[o.index].retry_after for o in failed),
    )


def _state(prepared: Prepared, findings: ScanFindings) -> str:
    """The scan's state, or Pending while no scan has completed and this one only waits.

    A first scan whose every filter a registry answered with "retry after" completed nothing
    and found nothing wrong yet: the source is Pending until the retry, not Failed
    (docs/decisions.md §5). One filter that succeeded makes it a Degraded scan, as usual.
    """
    previous = prepared.request.parent.status.get("status")
    completed_before = previous in (READY, DEGRADED, FAILED)
    if findings.state == FAILED and findings.rate_limited and not completed_before:
        return PENDING
    return findings.state


def answer(prepared: Prepared, findings: ScanFindings, now: datetime) -> SyncResult:
    """The response to a scanned sync: the planned children, the status, when to call again."""
    parent, spec, related = prepared.request.parent, prepared.spec, prepared.related
    plan, state = findings.plan, _state(prepared, findings)
    record = after_scan(
        prepared.record,
        current=related.fingerprint,
        now=now,
        interval=spec.sync_interval_seconds,
        failed=state in (DEGRADED, FAILED, PENDING),
        progress=findings.progress,
        retry_after=findings.retry_after,
    )
    record = replace(
        record,
        answered=len(plan.children),
        recreate_attempts=prepared.record.recreate_attempts + 1 if prepared.recreating else 0,
        config_pull_secrets=related.config_secrets,
        config_kind=related.config_kind,
    )
    conditions = [
        *with_note(
            scan_conditions(findings.filter_results, plan),
            interval_note(spec.sync_interval_seconds),
        ),
        limit_condition(len(plan.children), plan.not_created, spec.max_models),
        *related.config_conditions,
        secrets_condition(related.secret_count, related.secret_problems),
    ]
    last_sync = format_time(now) if state in (READY, DEGRADED) else carried_last_sync(parent.status)
    status = SourceStatus(
        state=state,
        discovered=len(plan.children),
        available=plan.available,
        limit_reached=plan.not_created > 0,
        last_sync=last_sync,
        conditions=conditions,
        scan=scan_record_json(record),
    )
    rendered = render_status(status, parent.status, now, parent.generation)
    if prepared.pruned and {**rendered, "scan": None} == {**parent.status, "scan": None}:
        # The bookkeeping would be the only change, and the API server drops it: writing it
        # would only trigger the next sync, and that one the next (docs/decisions.md §6).
        del rendered["scan"]
    return SyncResult(
        SyncResponse(rendered, plan.children, resync_after(record, now)),
        outcome=state,
        scanned=True,
        created=len(plan.created),
        findings=findings,
    )


def not_scanned(
    request: SyncRequest,
    existing: Mapping[str, Mapping[str, Any]],
    of: ChildKind,
    now: datetime,
    conditions: list[Condition],
    outcome: str,
) -> SyncResult:
    """Failed without a scan: children kept, counts and bookkeeping carried over."""
    parent = request.parent
    children = kept_children(existing, of)
    previous = parent.status
    limit = previous_condition(previous, LIMIT_CONDITION) or limit_condition(len(children), 0)
    scan = None
    if isinstance(previous.get("scan"), Mapping):
        # Without the fingerprint of the inputs last scanned: when the inputs change back to them
        # (the spec fixed, configName reverted), the next sync must scan and replace this Failed
        # status, instead of finding nothing due and keeping it until the interval ends.
        scan = scan_record_json(replace(read_scan_record(previous), fingerprint=None))
    status = SourceStatus(
        state=FAILED,
        discovered=len(children),
        available=carried_available(previous),
        limit_reached=previous.get("modelsLimitReached") is True,
        last_sync=carried_last_sync(previous),
        conditions=[*conditions, limit],
        scan=scan,
    )
    return SyncResult(
        SyncResponse(render_status(status, previous, now, parent.generation), children),
        outcome=outcome,
    )


def run_sync(
    request: SyncRequest,
    *,
    scan: ScanFunction,
    now: datetime,
    operator_namespace: str,
    kind: SourceKind = CLUSTER_SOURCE,
    explain_exclusions: bool = False,
    may_scan: MayScan = always,
) -> SyncResult:
    """prepare, scan, answer."""
    prepared = prepare(request, now, operator_namespace, kind)
    if isinstance(prepared, SyncResult):
        return prepared
    if not may_scan():
        # Status and bookkeeping unchanged: the scan stays due, and runs when a slot is free.
        return kept_answer(
            request,
            prepared.existing,
            kind.children(request),
            NO_SCAN_SLOT_RESYNC_SECONDS,
            NO_SCAN_SLOT,
        )
    findings = scan_filters(prepared, scan, now, explain_exclusions=explain_exclusions)
    return answer(prepared, findings, now)
