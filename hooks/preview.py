"""`python -m hooks preview`: what a source would create, from a manifest file, without a cluster.

A dry run for a person about to apply an AIMClusterModelSource or an AIMModelSource. It builds
the sync request the service would receive for the source (its customize hook's rules applied to
the Secrets and configs of the files, as Metacontroller applies them to the cluster's objects) and
runs the service's own pipeline on it (`controller.sync_source`): the same settings from the
environment, the same secret resolution (a Secret outside the operator namespace, or outside an
AIMModelSource's own namespace, is not found),
filters, scanner, plan and status. It shows, per filter, what it found or why it failed; per
image, the model that would be created; and the status the source would get. No cluster is
involved, so the cluster is taken to hold no models yet: every matching image within `maxModels`
is `new`, the rest `over limit`. Images that a wildcard filter's `exclude` removes are listed too,
marked `excluded`: the same scan finds them for the price of their repositories' tag lists. One
scan is made, as in one sync; filters it could not finish before AIM_SCAN_DEADLINE_SECONDS are
shown as unfinished. `--emit-request` prints the request instead, for `python -m hooks replay`.

Reading the files and scanning happen at the edge (`preview`); everything between is plain data:
`sync_request` builds the request, `build_report` is pure, and the renderers turn reports into
text.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TextIO

import yaml

from hooks.metacontroller import (
    CustomizeRequest,
    CustomizeResponse,
    RelatedRule,
    parse_sync_request,
)
from hooks.modelsource.controller import (
    CLUSTER_SOURCE,
    ScanFunction,
    SourceKind,
    SyncResult,
    sync_source,
)
from hooks.modelsource.customize import customize_source
from hooks.modelsource.filters import FilterError, ImageFilter, build_filters
from hooks.modelsource.naming import model_name
from hooks.modelsource.plan import FilterResult, child_identity, image_key, ordered_images
from hooks.modelsource.spec import SourceSpec, SpecError, parse_spec
from hooks.modelsource.status import FAILED, READY_CONDITION, interval_note
from hooks.namespaced.source import NAMESPACED_SOURCE
from hooks.namespaced.tenancy import customize_namespaced_source
from hooks.registry.credentials import PULL_SECRET_TYPES
from hooks.registry.scanner import scan_registries
from hooks.settings import SettingsError, settings_from_env

OUTPUTS = ("table", "json", "yaml")
# The kinds a customize rule can name, by (apiVersion, resource).
_KINDS = {
    ("v1", "secrets"): "Secret",
    ("aim.silogen.ai/v1alpha1", "aimclusterconfigs"): "AIMClusterConfig",
    ("aim.silogen.ai/v1alpha1", "aimnamespaceconfigs"): "AIMNamespaceConfig",
}
# A namespaced source without metadata.namespace is where `kubectl apply` would put it.
DEFAULT_NAMESPACE = "default"


@dataclass(frozen=True)
class PreviewedKind:
    """A source kind as Metacontroller serves it: the controller it names in every request
    (metacontroller/*modelsource-controller.yaml), the customize hook, the pipeline's kind."""

    controller: str
    customize: Callable[[CustomizeRequest, str], CustomizeResponse]
    source: SourceKind


PREVIEWED = {
    "AIMClusterModelSource": PreviewedKind(
        "aim-clustermodelsource-controller", customize_source, CLUSTER_SOURCE
    ),
    "AIMModelSource": PreviewedKind(
        "aim-modelsource-controller", customize_namespaced_source, NAMESPACED_SOURCE
    ),
}
SOURCE_KINDS = " or ".join(PREVIEWED)

EXIT_OK = 0
# Every filter of some source failed (status Failed): a script can stop before applying it.
EXIT_ALL_FILTERS_FAILED = 1
EXIT_USAGE = 2

NEW = "new"
OVER_LIMIT = "over limit"
EXCLUDED = "excluded"

OK = "ok"
ERROR = "error"
UNFINISHED = "unfinished"
NOT_SCANNED = "not scanned"


class PreviewInputError(ValueError):
    """A file the preview cannot use (exit 2); the message names the file and what is wrong."""


@dataclass(frozen=True, slots=True)
class SourceManifest:
    """One source of the input: the object as written, its spec parsed, its kind, and for an
    AIMModelSource its namespace (empty for a cluster source)."""

    name: str
    spec: SourceSpec
    document: Mapping[str, Any]
    kind: str = "AIMClusterModelSource"
    namespace: str = ""

    @property
    def previewed(self) -> PreviewedKind:
        """How the service serves this source's kind."""
        return PREVIEWED[self.kind]


@dataclass(frozen=True)
class Manifests:
    """What the input files hold: the sources, and the objects they may relate (Secrets with
    `data` base64, AIMClusterConfigs)."""

    sources: list[SourceManifest]
    related: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class FilterRow:
    """One filter as the preview shows it; `registry` is None for a filter that cannot run."""

    index: int
    image: str
    registry: str | None
    outcome: str
    error: str | None
    matched: int
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ImageRow:
    """One image: the model it would become (None when excluded), and its mark."""

    model: str | None
    image: str
    mark: str
    filter: int
    registry: str
    repository: str
    tag: str


@dataclass(frozen=True, slots=True)
class Totals:
    """Distinct images matched, and how many of them would be created or stay over the limit."""

    matched: int
    new: int
    over_limit: int
    excluded: int


@dataclass(frozen=True, slots=True)
class SourceReport:
    """Everything the preview says about one source."""

    name: str
    registry: str
    max_models: int
    status: str
    reason: str
    message: str
    filters: tuple[FilterRow, ...]
    images: tuple[ImageRow, ...]
    totals: Totals
    notes: tuple[str, ...] = ()
    kind: str = "AIMClusterModelSource"
    # An AIMModelSource's namespace; empty for a cluster source.
    namespace: str = ""


# --- reading the input ---------------------------------------------------------------------


def load_documents(path: Path) -> list[Any]:
    """The objects of a YAML file; PreviewInputError when it is unreadable or not YAML.

    A `kind: List` (what `kubectl get ... -o yaml` prints for several objects) gives its items.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PreviewInputError(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise PreviewInputError(f"cannot read {path}: not UTF-8 text") from None
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as error:
        raise PreviewInputError(f"{path} is not valid YAML: {error}") from None
    except RecursionError:
        raise PreviewInputError(f"{path} is YAML nested too deeply") from None
    except ValueError as error:  # an integer of more than 4,300 digits
        raise PreviewInputError(f"{path} holds a value that cannot be read: {error}") from None
    objects: list[Any] = []
    for document in documents:
        items = document.get("items") if isinstance(document, Mapping) else None
        if isinstance(items, list) and document.get("kind") == "List":
            objects += items
        else:
            objects.append(document)
    return objects


def secret_object(document: Mapping[str, Any]) -> dict[str, Any]:
    """A Secret as the API server stores it: `stringData` entries base64-encoded into `data`.

    The service receives Secrets from the API server, where `stringData` no longer exists, so
    the preview converts a manifest's plain-text entries the same way (they win over `data`).
    """
    data = document.get("data")
    merged: dict[str, Any] = dict(data) if isinstance(data, Mapping) else {}
    plain = document.get("stringData")
    if isinstance(plain, Mapping):
        for key, value in plain.items():
            if isinstance(value, str):
                merged[str(key)] = base64.b64encode(value.encode()).decode()
    return {**{k: v for k, v in document.items() if k != "stringData"}, "data": merged}


def _metadata(document: Mapping[str, Any], field: str) -> str | None:
    metadata = document.get("metadata")
    value = metadata.get(field) if isinstance(metadata, Mapping) else None
    return value if isinstance(value, str) and value else None


def read_manifests(source_file: Path, secret_files: Sequence[Path]) -> Manifests:
    """The sources of `source_file`, and the Secrets and AIMClusterConfigs of all files.

    Raises PreviewInputError for an unreadable file, a file without a source, or an invalid
    spec (the message names the field, as the service's status would).
    """
    documents = load_documents(source_file)
    sources: list[SourceManifest] = []
    for document in documents:
        kind = document.get("kind") if isinstance(document, Mapping) else None
        if not isinstance(document, Mapping) or kind not in PREVIEWED:
            continue
        name = _metadata(document, "name") or "(unnamed)"
        try:
            spec = parse_spec(document.get("spec"))
        except SpecError as error:
            raise PreviewInputError(f'{source_file}: {kind} "{name}": {error}') from None
        namespace = ""
        if kind != "AIMClusterModelSource":
            namespace = _metadata(document, "namespace") or DEFAULT_NAMESPACE
        sources.append(SourceManifest(name, spec, document, str(kind), namespace))
    if not sources:
        raise PreviewInputError(f"{source_file} holds no {SOURCE_KINDS}")
    related: list[dict[str, Any]] = []
    for document in [*documents, *(d for path in secret_files for d in load_documents(path))]:
        if not isinstance(document, Mapping) or _metadata(document, "name") is None:
            continue
        if document.get("kind") == "Secret":
            related.append(secret_object(document))
        elif document.get("kind") in _KINDS.values():
            related.append(dict(document))
    return Manifests(sources, related)


# --- the request the service would receive -------------------------------------------------


def _selected(rule: RelatedRule, document: Mapping[str, Any]) -> bool:
    """Whether Metacontroller would relate this object by this rule (kind, names, namespace)."""
    return (
        document.get("kind") == _KINDS.get((rule.api_version, rule.resource))
        and _metadata(document, "name") in rule.names
        and (rule.namespace is None or _metadata(document, "namespace") == rule.namespace)
    )


def sync_request(
    source: SourceManifest, objects: Sequence[Mapping[str, Any]], operator_namespace: str
) -> dict[str, Any]:
    """The first sync request Metacontroller would send for the source (v2 keys, no children).

    The related objects are those the service's customize hook asks for, selected as
    Metacontroller selects them: by kind, name and (for Secrets) namespace: the operator
    namespace for a cluster source, its own for an AIMModelSource. A later object of the same
    key wins, as a later `kubectl apply` would.
    """
    metadata = source.document.get("metadata")
    previewed = source.previewed
    parent = {
        **source.document,
        "metadata": {
            **(metadata if isinstance(metadata, Mapping) else {}),
            "name": source.name,
            "uid": f"preview-{source.name}",
            "generation": 1,
            **({"namespace": source.namespace} if source.namespace else {}),
        },
    }
    rules = previewed.customize(
        CustomizeRequest(previewed.controller, parse_sync_request({"parent": parent}).parent),
        operator_namespace,
    ).rules
    related: dict[str, dict[str, Any]] = {}
    for rule in rules:
        group = related.setdefault(
            f"{_KINDS[(rule.api_version, rule.resource)]}.{rule.api_version}", {}
        )
        for document in objects:
            if _selected(rule, document):
                namespace = _metadata(document, "namespace")
                name = str(_metadata(document, "name"))
                group[f"{namespace}/{name}" if namespace else name] = dict(document)
    return {
        "controller": {
            "apiVersion": "metacontroller.k8s.io/v1alpha1",
            "kind": "CompositeController",
            "metadata": {"name": previewed.controller},
        },
        "parent": parent,
        "children": {previewed.source.child_group: {}},
        "related": related,
        "finalizing": False,
    }


def secret_notes(
    source: SourceManifest, objects: Sequence[Mapping[str, Any]], operator_namespace: str
) -> list[str]:
    """Why a pull secret the source names was not related, when the files explain it.

    The status already says "not found in namespace ..."; this says where the Secret is instead.
    """
    notes = []
    home = (
        f"the source's namespace {source.namespace}"
        if source.namespace
        else f"the operator namespace {operator_namespace}"
    )
    for name in source.spec.image_pull_secrets:
        secrets = [d for d in objects if d.get("kind") == "Secret" and _metadata(d, "name") == name]
        if not secrets:
            notes.append(
                f'pull secret "{name}" is in none of the files; scanning without it (add it '
                "with --secret FILE)"
            )
        elif not any(
            _metadata(d, "namespace") == (source.namespace or operator_namespace) for d in secrets
        ):
            where = sorted({_metadata(d, "namespace") or "(none)" for d in secrets})
            notes.append(
                f'pull secret "{name}" is in namespace {", ".join(where)}, not in {home} where '
                "the service reads its pull secrets; scanning without it (set its "
                "metadata.namespace)"
            )
    return notes


def _config_notes(source: SourceManifest, objects: Sequence[Mapping[str, Any]]) -> list[str]:
    """A note when the config the source names explicitly is not in the files."""
    name = source.spec.config_name

    def held(kind: str, namespace: str | None) -> bool:
        return any(
            d.get("kind") == kind
            and _metadata(d, "name") == name
            and _metadata(d, "namespace") == namespace
            for d in objects
        )

    if name is None or held("AIMClusterConfig", None):
        return []
    if not source.namespace:
        return [f'AIMClusterConfig "{name}" is in none of the files (add it with --secret FILE)']
    if held("AIMNamespaceConfig", source.namespace):
        return []
    return [
        f'AIMNamespaceConfig "{name}" of namespace {source.namespace} and AIMClusterConfig '
        f'"{name}" are in none of the files (add one with --secret FILE)'
    ]


def unused_secrets(manifests: Manifests) -> list[str]:
    """Secrets of the files that no source names, so that a forgotten reference is noticed."""
    named = {name for source in manifests.sources for name in source.spec.image_pull_secrets}
    return [
        f'Secret "{name}" is not named in spec.imagePullSecrets; not used'
        for name in sorted(
            {
                str(_metadata(d, "name"))
                for d in manifests.related
                if d.get("kind") == "Secret" and d.get("type") in PULL_SECRET_TYPES
            }
        )
        if name not in named
    ]


# --- the report ----------------------------------------------------------------------------


def _filter_row(image_filter: ImageFilter | FilterError, found: FilterResult) -> FilterRow:
    if found.error is not None:
        state = ERROR
    elif not found.finished:
        state = UNFINISHED
    else:
        state = OK
    registry = image_filter.registry if isinstance(image_filter, ImageFilter) else None
    return FilterRow(
        index=found.index,
        image=found.image,
        registry=registry,
        outcome=state,
        error=found.error,
        matched=len({image_key(image) for image in found.images}),
        warnings=found.warnings,
    )


def _first_filter(filter_results: Sequence[FilterResult]) -> dict[tuple[str, str, str], int]:
    """The first filter (in filter order) that found each image."""
    first: dict[tuple[str, str, str], int] = {}
    for found in sorted(filter_results, key=lambda r: r.index):
        for image in found.images:
            first.setdefault(image_key(image), found.index)
    return first


def build_report(
    name: str, spec: SourceSpec, result: SyncResult, notes: Sequence[str] = ()
) -> SourceReport:
    """What the preview shows for one source, from the service's answer to its first sync."""
    status = result.response.status
    ready = next(c for c in status["conditions"] if c["type"] == READY_CONDITION)
    unscanned = SourceReport(
        name=name,
        registry=spec.registry,
        max_models=spec.max_models,
        status=status["status"],
        reason=ready["reason"],
        message=ready["message"],
        filters=tuple(
            FilterRow(f.index, f.image, None, NOT_SCANNED, None, 0) for f in build_filters(spec)
        ),
        images=(),
        totals=Totals(0, 0, 0, 0),
        notes=tuple(notes),
    )
    findings = result.findings
    if findings is None:
        # The service answered without scanning (an explicitly named config is missing).
        return unscanned
    filter_results = findings.filter_results
    created = set(findings.plan.created)
    # The plan names the models (a second image whose name is taken gets a longer one); an
    # image it does not create is shown under the name it would get.
    planned = {
        identity: child["metadata"]["name"]
        for child in findings.plan.children
        if (identity := child_identity(child)) is not None
    }
    first = _first_filter(filter_results)
    images: list[ImageRow] = []
    for image in ordered_images(filter_results):
        registry, repository, tag = key = image_key(image)
        model = planned.get(key) or model_name(*key)
        mark = NEW if model in created else OVER_LIMIT
        images.append(
            ImageRow(model, image.spec_image(), mark, first[key], registry, repository, tag)
        )
    excluded_first = _first_filter(findings.excluded)
    excluded = [
        ImageRow(None, image.spec_image(), EXCLUDED, excluded_first[key], *key)
        for image in ordered_images(findings.excluded)
        if (key := image_key(image)) not in first
    ]
    return replace(
        unscanned,
        filters=tuple(
            _filter_row(f, o) for f, o in zip(findings.filters, filter_results, strict=True)
        ),
        images=(*images, *excluded),
        totals=Totals(
            matched=findings.plan.available,
            new=len(findings.plan.created),
            over_limit=findings.plan.not_created,
            excluded=len(excluded),
        ),
    )


# --- rendering -----------------------------------------------------------------------------


def report_document(reports: Sequence[SourceReport]) -> dict[str, Any]:
    """The reports as one JSON/YAML document, keys in a fixed order."""
    return {
        "sources": [
            {
                "name": report.name,
                **(
                    {"kind": report.kind, "namespace": report.namespace} if report.namespace else {}
                ),
                "registry": report.registry,
                "maxModels": report.max_models,
                "status": {
                    "status": report.status,
                    "reason": report.reason,
                    "message": report.message,
                    "modelsLimitReached": report.totals.over_limit > 0,
                },
                "totals": {
                    "matched": report.totals.matched,
                    "new": report.totals.new,
                    "overLimit": report.totals.over_limit,
                    "excluded": report.totals.excluded,
                },
                "filters": [
                    {
                        "index": row.index,
                        "image": row.image,
                        "registry": row.registry,
                        "outcome": row.outcome,
                        "error": row.error,
                        "matched": row.matched,
                        "warnings": list(row.warnings),
                    }
                    for row in report.filters
                ],
                "images": [
                    {
                        "model": row.model,
                        "image": row.image,
                        "mark": row.mark,
                        "filter": row.filter,
                        "registry": row.registry,
                        "repository": row.repository,
                        "tag": row.tag,
                    }
                    for row in report.images
                ],
                "notes": list(report.notes),
            }
            for report in reports
        ]
    }


def _aligned(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns padded to their widest cell, two spaces apart; the last one is not padded."""
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header) - 1)]
    return [
        "  ".join(
            [*(cell.ljust(width) for cell, width in zip(line, widths, strict=False)), line[-1]]
        )
        for line in [header, *rows]
    ]


def _outcome_text(row: FilterRow) -> str:
    if row.outcome == ERROR:
        return f"error: {row.error}"
    if row.outcome == UNFINISHED:
        return "unfinished: the scan deadline passed (raise AIM_SCAN_DEADLINE_SECONDS)"
    return row.outcome


def render_source(report: SourceReport) -> list[str]:
    """The lines that show one source: filters, images, totals and status."""
    where = f"{report.namespace}/" if report.namespace else ""
    title = f"{report.kind} {where}{report.name}"
    lines = [f"{title} (registry {report.registry}, maxModels {report.max_models})"]
    lines += [f"  note: {note}" for note in report.notes]
    lines.append("")
    lines += _aligned(
        ("FILTER", "IMAGE", "REGISTRY", "MATCHED", "OUTCOME"),
        [
            (str(r.index), r.image, r.registry or "-", str(r.matched), _outcome_text(r))
            for r in report.filters
        ],
    )
    lines += [
        f'  warning: filter "{row.image}": {warning}'
        for row in report.filters
        for warning in row.warnings
    ]
    lines.append("")
    if report.images:
        lines += _aligned(
            ("MODEL", "IMAGE", "FILTER", "MARK"),
            [(r.model or "-", r.image, str(r.filter), r.mark) for r in report.images],
        )
    else:
        lines.append("No images matched.")
    totals = report.totals
    lines += [
        "",
        f"Totals: {totals.matched} matched, {totals.new} would be created, "
        f"{totals.over_limit} over the limit, {totals.excluded} excluded",
        f"Status: {report.status} ({report.reason}): {report.message}",
    ]
    return lines


def render_table(reports: Sequence[SourceReport]) -> str:
    """The reports as aligned plain text, one block per source."""
    blocks = ["\n".join(render_source(report)) for report in reports]
    return "\n\n".join(blocks) + "\n"


def render(reports: Sequence[SourceReport], output: str) -> str:
    """The reports in the chosen output: `table`, `json` or `yaml`."""
    if output == "table":
        return render_table(reports)
    document = report_document(reports)
    if output == "json":
        return json.dumps(document, indent=2) + "\n"
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


# --- the command ---------------------------------------------------------------------------


@contextmanager
def spinner(stream: TextIO, message: str) -> Iterator[None]:
    """A spinner with `message` on `stream` while the block runs, erased after; only on a TTY."""
    if not stream.isatty():
        yield
        return
    done = threading.Event()

    def spin() -> None:
        for frame in itertools.cycle("|/-\\"):
            stream.write(f"\r{frame} {message}…")
            stream.flush()
            if done.wait(0.1):
                return

    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    try:
        yield
    finally:
        done.set()
        spinner.join()
        stream.write("\r\x1b[K")
        stream.flush()


def preview_source(
    source: SourceManifest,
    objects: Sequence[Mapping[str, Any]],
    *,
    scan: ScanFunction,
    now: datetime,
    operator_namespace: str,
) -> SourceReport:
    """The report of one source: the service's answer to the request it would receive."""
    request = parse_sync_request(sync_request(source, objects, operator_namespace))
    result = sync_source(
        request,
        scan=scan,
        now=now,
        operator_namespace=operator_namespace,
        kind=source.previewed.source,
        explain_exclusions=True,
    )
    notes = [
        *_config_notes(source, objects),
        *secret_notes(source, objects, operator_namespace),
    ]
    interval = interval_note(source.spec.sync_interval_seconds)
    if interval:
        notes.append(interval)
    report = build_report(source.name, source.spec, result, notes)
    return replace(report, kind=source.kind, namespace=source.namespace)


def preview(
    source_file: Path,
    *,
    secret_files: Sequence[Path],
    output: str,
    max_models: int | None,
    env: Mapping[str, str],
    out: TextIO,
    err: TextIO,
    emit_request: bool = False,
) -> int:
    """The `preview` command: scan each source of the file and print the report; the exit code.

    With `emit_request`, print instead the sync request the service would receive for each
    source (one JSON document per line), ready for `python -m hooks replay`.
    """
    try:
        settings = settings_from_env(env)
        manifests = read_manifests(source_file, secret_files)
    except (PreviewInputError, SettingsError) as error:
        print(f"preview: {error}", file=err)
        return EXIT_USAGE
    namespace = settings.operator_namespace
    sources = [
        source if max_models is None else _with_max_models(source, max_models)
        for source in manifests.sources
    ]
    if emit_request:
        for source in sources:
            out.write(json.dumps(sync_request(source, manifests.related, namespace)) + "\n")
        return EXIT_OK
    for note in unused_secrets(manifests):
        print(f"preview: {note}", file=err)
    scan = partial(scan_registries, settings=settings.registry)
    reports = []
    for source in sources:
        with spinner(err, f"scanning {len(source.spec.filters)} filter(s) of {source.name}"):
            report = preview_source(
                source,
                manifests.related,
                scan=scan,
                now=datetime.now(UTC),
                operator_namespace=namespace,
            )
        reports.append(report)
    out.write(render(reports, output))
    if any(report.status == FAILED for report in reports):
        return EXIT_ALL_FILTERS_FAILED
    return EXIT_OK


def _with_max_models(source: SourceManifest, max_models: int) -> SourceManifest:
    """The source with `--max-models` in place of its own, in the spec the request carries too."""
    spec = source.document.get("spec")
    document = {
        **source.document,
        "spec": {**(spec if isinstance(spec, Mapping) else {}), "maxModels": max_models},
    }
    return replace(source, spec=replace(source.spec, max_models=max_models), document=document)
