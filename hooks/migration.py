"""`python -m hooks migrate-check`: which existing AIMClusterModels Metacontroller would not
manage, and the `kubectl label` commands that make it manage them.

Metacontroller selects a source's models by the label `controller-uid=<source uid>` (it
generates the selector, see metacontroller/modelsource-controller.yaml) and claims them by
ownerReference: a model with no *controller* ownerReference that carries the label is adopted;
one whose controller ownerReference is the source but whose label does not match is released.
The Go controller's models carry a plain (non-controller) ownerReference to their source and no
`controller-uid` label: Metacontroller neither adopts nor releases them, they never appear in a
sync request, and the hook counts them as missing and proposes them again (the create fails with
"already exists", every sync). Labelling them is the whole migration: on the next sync
Metacontroller adopts them, and the hook sees each one once.

Which source a model belongs to: its ownerReference to an AIMClusterModelSource (controller or
not), else its `aim.silogen.ai/model-source` label when the sources are in the input. The input
is what `kubectl get aimclustermodelsources,aimclustermodels -o yaml` prints (JSON too).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from hooks.modelsource.plan import LABEL_SOURCE
from hooks.preview import PreviewInputError, load_documents

SOURCE_KIND = "AIMClusterModelSource"
MODEL_KIND = "AIMClusterModel"
SELECTOR_LABEL = "controller-uid"
"""The label of Metacontroller's generated selector (literally this key, no prefix)."""

EXIT_OK = 0
EXIT_NEEDS_FIX = 1
EXIT_USAGE = 2

NOT_ADOPTED = "not adopted: no controller ownerReference and no controller-uid label"
RELEASED = "would be released: owned by its source, but its controller-uid label does not match"
FOREIGN_LABEL = "not adopted: its controller-uid label names another source"
OTHER_CONTROLLER = "owned by another controller: Metacontroller leaves it alone"
SOURCE_MISSING = "its source is not in the input"


class MigrationInputError(ValueError):
    """Input the check cannot use (exit 2); the message names the file."""


@dataclass(frozen=True)
class Source:
    """An AIMClusterModelSource: what the selector and the ownerReferences name."""

    name: str
    uid: str


@dataclass(frozen=True)
class Finding:
    """One model Metacontroller would not manage as its source's, and why."""

    model: str
    source: Source | None
    problem: str

    @property
    def fixable(self) -> bool:
        """Labelling fixes it: the source is known and no other controller owns the model."""
        return self.source is not None and self.problem in (NOT_ADOPTED, RELEASED, FOREIGN_LABEL)


@dataclass(frozen=True)
class Report:
    """Every source model of the input, and those that need something done."""

    models: int
    managed: int
    findings: tuple[Finding, ...]


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _source_owner(metadata: Mapping[str, Any]) -> tuple[Source | None, bool, str | None]:
    """(the AIMClusterModelSource it names as owner, whether as controller, another
    controller's kind/name)."""
    source: Source | None = None
    controlled = False
    other: str | None = None
    references = metadata.get("ownerReferences")
    for reference in references if isinstance(references, list) else []:
        ref = _mapping(reference)
        name, uid = _text(ref.get("name")), _text(ref.get("uid"))
        is_controller = ref.get("controller") is True
        if ref.get("kind") == SOURCE_KIND and name and uid:
            if source is None or is_controller:
                source, controlled = Source(name, uid), is_controller
        elif is_controller:
            other = f"{ref.get('kind')}/{ref.get('name')}"
    return source, controlled, other


def check(objects: Iterable[object]) -> Report:
    """The findings for every AIMClusterModel among `objects` that comes from a source."""
    items = [_mapping(o) for o in objects]
    sources = {
        name: Source(name, uid)
        for o in items
        if o.get("kind") == SOURCE_KIND
        and (name := _text(_mapping(o.get("metadata")).get("name")))
        and (uid := _text(_mapping(o.get("metadata")).get("uid")))
    }
    known = {s.uid for s in sources.values()}
    models = managed = 0
    findings: list[Finding] = []
    for o in items:
        metadata = _mapping(o.get("metadata"))
        name = _text(metadata.get("name"))
        if o.get("kind") != MODEL_KIND or name is None:
            continue
        labels = _mapping(metadata.get("labels"))
        owner, controlled, other = _source_owner(metadata)
        source = owner or sources.get(str(labels.get(LABEL_SOURCE)))
        if source is None:
            continue  # not a source's model (made by hand, or by something else)
        models += 1
        label = labels.get(SELECTOR_LABEL)
        if other is not None and not controlled:
            problem: str | None = f"{OTHER_CONTROLLER} ({other})"
        elif known and source.uid not in known:
            problem = f"{SOURCE_MISSING} (uid {source.uid})"
        elif label == source.uid:
            problem = None
        elif controlled:
            problem = RELEASED
        else:
            problem = NOT_ADOPTED if label is None else FOREIGN_LABEL
        if problem is None:
            managed += 1
        else:
            findings.append(Finding(name, source, problem))
    return Report(models, managed, tuple(findings))


def fix_commands(findings: Iterable[Finding]) -> list[str]:
    """One `kubectl label` per source, naming every model of it that needs the label."""
    by_source: dict[Source, list[str]] = {}
    for finding in findings:
        if finding.fixable and finding.source is not None:
            by_source.setdefault(finding.source, []).append(finding.model)
    return [
        shlex.join(
            [
                "kubectl",
                "label",
                "--overwrite",
                "aimclustermodels.aim.silogen.ai",
                *sorted(names),
                f"{SELECTOR_LABEL}={source.uid}",
            ]
        )
        for source, names in sorted(by_source.items(), key=lambda item: item[0].name)
    ]


def _read(paths: Sequence[Path]) -> list[Any]:
    objects: list[Any] = []
    for path in paths:
        try:
            objects += load_documents(path)
        except PreviewInputError as exc:
            raise MigrationInputError(str(exc)) from None
    return objects


def migrate_check(paths: Sequence[Path], *, out: TextIO, err: TextIO) -> int:
    """The `migrate-check` command: the findings, then the commands; the exit code."""
    try:
        report = check(_read(paths))
    except MigrationInputError as exc:
        print(f"migrate-check: {exc}", file=err)
        return EXIT_USAGE
    if report.models == 0:
        print(
            "migrate-check: no AIMClusterModel of a source in the input (use `kubectl get "
            "aimclustermodelsources,aimclustermodels -o yaml`)",
            file=err,
        )
        return EXIT_USAGE
    print(
        f"{report.models} model(s) of sources: {report.managed} managed by Metacontroller, "
        f"{len(report.findings)} not",
        file=out,
    )
    for finding in sorted(report.findings, key=lambda f: f.model):
        source = finding.source.name if finding.source is not None else "-"
        print(f"  {finding.model}  (source {source}): {finding.problem}", file=out)
    commands = fix_commands(report.findings)
    if commands:
        print("\nLabel them so that Metacontroller adopts them on the next sync:\n", file=out)
        for command in commands:
            print(command, file=out)
    unfixable = [f for f in report.findings if not f.fixable]
    if unfixable:
        print(f"\n{len(unfixable)} model(s) cannot be fixed by a label; see above.", file=out)
    return EXIT_NEEDS_FIX if report.findings else EXIT_OK
