"""`python -m hooks preview`: what a source would create, from a manifest file, without a cluster.

A dry run for a person about to apply an AIMClusterModelSource: it scans the registries with the
service's own code (the same settings from the environment, the same filters, scanner, plan and
status) and shows, per filter, what it found or why it failed; per image, the model that would be
created; and the status the source would get. No cluster is involved, so the cluster is taken to
hold no models yet: every matching image within `maxModels` is `new`, the rest `over limit`.
Images that a wildcard filter's `exclude` removes are listed too, marked `excluded`: the same
scan finds them for the price of their repositories' tag lists. One scan is made, as in one sync;
filters it could not finish before AIM_SCAN_DEADLINE_SECONDS are shown as unfinished.

Pull secrets are Secret objects in the source's file or in `--secret` files, found by the names
in `spec.imagePullSecrets`, exactly as the service finds them in the operator namespace.

Reading the files and scanning happen at the edge (`preview`); everything between is plain data:
`scan_source` takes the scan function, `build_report` is pure, and the renderers turn reports
into text.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, TextIO

import yaml

from hooks.modelsource.controller import ScanFunction, filter_outcomes, scan_target
from hooks.modelsource.filters import FilterError, ImageFilter, build_filters
from hooks.modelsource.naming import model_name
from hooks.modelsource.plan import (
    ChildTemplate,
    FilterOutcome,
    image_key,
    ordered_images,
    plan_models,
)
from hooks.modelsource.spec import SourceSpec, SpecError, parse_spec
from hooks.modelsource.status import FAILED, scan_conditions, scan_state
from hooks.registry.credentials import DOCKERCONFIGJSON, Keychain, keychain_from_secrets
from hooks.registry.scanner import scan_registries
from hooks.registry.targets import ScanTarget
from hooks.settings import SettingsError, settings_from_env

KIND = "AIMClusterModelSource"
OUTPUTS = ("table", "json", "yaml")

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


class PreviewInputError(ValueError):
    """A file the preview cannot use (exit 2); the message names the file and what is wrong."""


@dataclass(frozen=True, slots=True)
class SourceManifest:
    """One AIMClusterModelSource of the input, its spec parsed."""

    name: str
    spec: SourceSpec


@dataclass(frozen=True)
class Manifests:
    """What the input files hold: the sources, and the Secrets by name (`data` base64)."""

    sources: list[SourceManifest]
    secrets: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class ScanFindings:
    """One source's scan: its filters, what each found, and what each one's exclusions removed.

    `excluded` holds, for each wildcard filter with exclusions, the images of the repositories
    its pattern matches but its exclusions remove (best effort: their errors are not reported).
    """

    filters: list[ImageFilter | FilterError]
    outcomes: list[FilterOutcome]
    excluded: list[FilterOutcome]


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


def _name_of(document: Mapping[str, Any]) -> str | None:
    metadata = document.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return name if isinstance(name, str) and name else None


def read_manifests(source_file: Path, secret_files: Sequence[Path]) -> Manifests:
    """The sources of `source_file` and the Secrets of all files (later files win on a name).

    Raises PreviewInputError for an unreadable file, a file without a source, or an invalid
    spec (the message names the field, as the service's status would).
    """
    documents = load_documents(source_file)
    sources: list[SourceManifest] = []
    for document in documents:
        if not isinstance(document, Mapping) or document.get("kind") != KIND:
            continue
        name = _name_of(document) or "(unnamed)"
        try:
            spec = parse_spec(document.get("spec"))
        except SpecError as error:
            raise PreviewInputError(f'{source_file}: {KIND} "{name}": {error}') from None
        sources.append(SourceManifest(name, spec))
    if not sources:
        raise PreviewInputError(f"{source_file} holds no {KIND}")
    secrets: dict[str, dict[str, Any]] = {}
    for document in [*documents, *(d for path in secret_files for d in load_documents(path))]:
        if isinstance(document, Mapping) and document.get("kind") == "Secret":
            secret_name = _name_of(document)
            if secret_name is not None:
                secrets[secret_name] = secret_object(document)
    return Manifests(sources, secrets)


def pull_secrets(
    spec: SourceSpec, secrets: Mapping[str, Mapping[str, Any]]
) -> tuple[Keychain, list[str]]:
    """The keychain of a source's pull secrets, and a note per secret that cannot be used."""
    found = [(name, secrets[name]) for name in spec.image_pull_secrets if name in secrets]
    keychain, problems = keychain_from_secrets(found)
    notes = [
        f'pull secret "{name}" is in none of the files; scanning without it (add it with '
        "--secret FILE)"
        for name in spec.image_pull_secrets
        if name not in secrets
    ]
    notes += [f"{problem} (scanning without it)" for problem in problems]
    return keychain, notes


def unused_secrets(manifests: Manifests) -> list[str]:
    """Secrets of the files that no source names, so that a forgotten reference is noticed."""
    named = {name for source in manifests.sources for name in source.spec.image_pull_secrets}
    return [
        f'Secret "{name}" is not named in spec.imagePullSecrets; not used'
        for name, secret in sorted(manifests.secrets.items())
        if name not in named and secret.get("type") == DOCKERCONFIGJSON
    ]


# --- scanning ------------------------------------------------------------------------------


def _excluded_key(index: int) -> int:
    """The scan key of a filter's excluded images: negative, so never a filter's own key."""
    return -1 - index


def _excluded_target(image_filter: ImageFilter) -> ScanTarget | None:
    """A question for the images a wildcard filter's exclusions remove.

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


def scan_source(spec: SourceSpec, keychain: Keychain, scan: ScanFunction) -> ScanFindings:
    """Scan once for a source's filters, as one sync of the service would.

    The targets and outcomes are the service's own (`controller.scan_target`, `filter_outcomes`), so
    what each filter finds is what the service would find; a scan cut by its deadline leaves
    those filters unfinished.
    """
    filters = build_filters(spec)
    runnable = [f for f in filters if isinstance(f, ImageFilter)]
    targets = [t for f in runnable if (t := scan_target(f, None)) is not None]
    extra = [t for f in runnable if (t := _excluded_target(f)) is not None]
    results = {r.key: r for r in scan([*targets, *extra], keychain)} if targets else {}
    excluded = [
        FilterOutcome(f.index, f.image, images=results[_excluded_key(f.index)].images)
        for f in runnable
        if _excluded_key(f.index) in results
    ]
    return ScanFindings(filters, filter_outcomes(filters, None, results), excluded)


# --- the report ----------------------------------------------------------------------------


def _filter_row(image_filter: ImageFilter | FilterError, outcome: FilterOutcome) -> FilterRow:
    if outcome.error is not None:
        state = ERROR
    elif not outcome.finished:
        state = UNFINISHED
    else:
        state = OK
    registry = image_filter.registry if isinstance(image_filter, ImageFilter) else None
    return FilterRow(
        index=outcome.index,
        image=outcome.image,
        registry=registry,
        outcome=state,
        error=outcome.error,
        matched=len({image_key(image) for image in outcome.images}),
        warnings=outcome.warnings,
    )


def _first_filter(outcomes: Sequence[FilterOutcome]) -> dict[tuple[str, str, str], int]:
    """The first filter (in filter order) that found each image."""
    first: dict[tuple[str, str, str], int] = {}
    for outcome in sorted(outcomes, key=lambda o: o.index):
        for image in outcome.images:
            first.setdefault(image_key(image), outcome.index)
    return first


def build_report(
    name: str, spec: SourceSpec, findings: ScanFindings, notes: Sequence[str] = ()
) -> SourceReport:
    """What the preview shows for one source, from its scan, with an empty cluster."""
    outcomes = findings.outcomes
    template = ChildTemplate(name, spec.image_pull_secrets, spec.config_name)
    plan = plan_models(template, spec.max_models, outcomes, {})
    created = set(plan.created)
    first = _first_filter(outcomes)
    images: list[ImageRow] = []
    for image in ordered_images(outcomes):
        registry, repository, tag = key = image_key(image)
        model = model_name(*key)
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
    ready = next(c for c in scan_conditions(outcomes, plan) if c.type == "Ready")
    return SourceReport(
        name=name,
        registry=spec.registry,
        max_models=spec.max_models,
        status=scan_state(outcomes),
        reason=ready.reason,
        message=ready.message,
        filters=tuple(_filter_row(f, o) for f, o in zip(findings.filters, outcomes, strict=True)),
        images=(*images, *excluded),
        totals=Totals(
            matched=plan.available,
            new=len(plan.created),
            over_limit=plan.not_created,
            excluded=len(excluded),
        ),
        notes=tuple(notes),
    )


# --- rendering -----------------------------------------------------------------------------


def report_document(reports: Sequence[SourceReport]) -> dict[str, Any]:
    """The reports as one JSON/YAML document, keys in a fixed order."""
    return {
        "sources": [
            {
                "name": report.name,
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
    return OK


def render_source(report: SourceReport) -> list[str]:
    """The lines that show one source: filters, images, totals and status."""
    lines = [f"{KIND} {report.name} (registry {report.registry}, maxModels {report.max_models})"]
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
def progress(stream: TextIO, message: str) -> Iterator[None]:
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


def preview(
    source_file: Path,
    *,
    secret_files: Sequence[Path],
    output: str,
    max_models: int | None,
    env: Mapping[str, str],
    out: TextIO,
    err: TextIO,
) -> int:
    """The `preview` command: scan each source of the file and print the report; the exit code."""
    try:
        settings = settings_from_env(env)
        manifests = read_manifests(source_file, secret_files)
    except (PreviewInputError, SettingsError) as error:
        print(f"preview: {error}", file=err)
        return EXIT_USAGE
    for note in unused_secrets(manifests):
        print(f"preview: {note}", file=err)
    scan = partial(scan_registries, settings=settings.registry)
    reports = []
    for source in manifests.sources:
        spec = source.spec if max_models is None else replace(source.spec, max_models=max_models)
        keychain, notes = pull_secrets(spec, manifests.secrets)
        with progress(err, f"scanning {len(spec.filters)} filter(s) of {source.name}"):
            findings = scan_source(spec, keychain, scan)
        reports.append(build_report(source.name, spec, findings, notes))
    out.write(render(reports, output))
    if any(report.status == FAILED for report in reports):
        return EXIT_ALL_FILTERS_FAILED
    return EXIT_OK
