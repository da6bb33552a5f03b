"""Which AIMClusterModels a source should own after this sync: the append-only plan.

A pure function of the spec, what each filter found and the children that exist. Existing
children are always kept, whatever the filters now say (DECISIONS §4); `maxModels` limits only
creation; new images are considered in filter order, then repository, then newest first, so that
when the limit bites the newest images are the ones created.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hooks.modelsource.naming import model_name
from hooks.modelsource.versions import newest_first_key
from hooks.objects import is_object
from hooks.reference import ImageRef, canonical_registry

API_VERSION = "aim.silogen.ai/v1alpha1"
KIND = "AIMClusterModel"
LABEL_SOURCE = "aim.silogen.ai/model-source"
LABEL_AUTO_CREATED = "aim.silogen.ai/auto-created"
ANNOTATION_REGISTRY = "aim.eai.amd.com/source-registry"
ANNOTATION_REPOSITORY = "aim.eai.amd.com/source-repository"
ANNOTATION_TAG = "aim.eai.amd.com/source-tag"
# Metacontroller's own bookkeeping; returning it would only echo its previous value back.
LAST_APPLIED = "metacontroller.k8s.io/last-applied-configuration"

MAX_LABEL_VALUE = 63


@dataclass(frozen=True, slots=True)
class FilterResult:
    """What one filter found in this scan: its images, or its error, and whether it finished."""

    index: int
    image: str
    images: tuple[ImageRef, ...] = ()
    error: str | None = None
    finished: bool = True
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ChildTemplate:
    """What every created model shares, taken from the source."""

    source_name: str
    image_pull_secrets: tuple[str, ...] = ()
    config_name: str | None = None


@dataclass(frozen=True)
class Plan:
    """The desired children and the counts the status reports."""

    children: list[dict[str, Any]]
    created: list[str] = field(default_factory=list)
    available: int = 0
    not_created: int = 0

    @property
    def limit_reached(self) -> bool:
        """Some matching image has no model because of maxModels."""
        return self.not_created > 0


def image_key(image: ImageRef) -> tuple[str, str, str]:
    """Identity of an image: registry/repository:tag, or @digest when pinned."""
    return (image.registry, image.repository, image.digest or image.tag or "")


def ordered_images(outcomes: Sequence[FilterResult]) -> list[ImageRef]:
    """Distinct images in creation order: filter order, repository, newest version first."""
    seen: set[tuple[str, str, str]] = set()
    ordered: list[ImageRef] = []
    for outcome in sorted(outcomes, key=lambda o: o.index):
        images = sorted(
            outcome.images,
            key=lambda i: (i.repository, newest_first_key(i.tag or ""), i.digest or "", i.registry),
        )
        for image in images:
            key = image_key(image)
            if key not in seen:
                seen.add(key)
                ordered.append(image)
    return ordered


def kept_child(child: Mapping[str, Any]) -> dict[str, Any]:
    """An existing child as we return it: the same object, minus server-owned fields.

    Under OnDelete nothing is updated anyway; under InPlace returning what is there is a no-op.
    Every sync returns every child, so this runs 10,000 times for a large source: it shares the
    labels and the spec with the observed child (the answer is encoded, never changed), copies
    the annotations only to drop Metacontroller's last-applied copy, and tests `dict` before the
    slower `Mapping` check (`is_object`, bench/gated_sync.py).
    """
    raw = child.get("metadata")
    metadata: Mapping[str, Any] = raw if is_object(raw) else {}
    kept_meta: dict[str, Any] = {"name": metadata.get("name")}
    labels = metadata.get("labels")
    if labels and is_object(labels):
        kept_meta["labels"] = labels  # shared, not copied: neither side is changed after this
    annotations = metadata.get("annotations")
    if annotations and is_object(annotations):
        if LAST_APPLIED in annotations:
            annotations = dict(annotations)
            del annotations[LAST_APPLIED]
        if annotations:
            kept_meta["annotations"] = annotations
    kept: dict[str, Any] = {
        "apiVersion": child.get("apiVersion") or API_VERSION,
        "kind": child.get("kind") or KIND,
        "metadata": kept_meta,
    }
    if "spec" in child:
        kept["spec"] = child["spec"]
    return kept


def child_identity(child: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """The image an existing child was created for, from our annotations (Go uses the same).

    The registry is compared in canonical form: a child annotated `index.docker.io` is the same
    image as `docker.io`, and must not get a second model under another name.
    """
    metadata = child.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    if not isinstance(annotations, Mapping):
        return None
    registry = annotations.get(ANNOTATION_REGISTRY)
    repository = annotations.get(ANNOTATION_REPOSITORY)
    tag = annotations.get(ANNOTATION_TAG)
    if isinstance(registry, str) and isinstance(repository, str) and isinstance(tag, str):
        return (canonical_registry(registry), repository, tag)
    return None


def source_label_value(source_name: str) -> str:
    """The model-source label; a name over 63 characters is shortened with a hash suffix.

    Label values are limited to 63 characters while object names may have 253; a sync whose child
    carries an invalid label fails as a whole, so a long source name must not break it.
    """
    if len(source_name) <= MAX_LABEL_VALUE:
        return source_name
    digest = hashlib.sha256(source_name.encode()).hexdigest()[:6]
    return f"{source_name[: MAX_LABEL_VALUE - 7].rstrip('-.')}-{digest}"


def new_child(name: str, image: ImageRef, template: ChildTemplate) -> dict[str, Any]:
    """The AIMClusterModel for one image, exactly as DECISIONS §4 describes."""
    spec: dict[str, Any] = {"image": image.spec_image()}
    if template.image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": n} for n in template.image_pull_secrets]
    if template.config_name:
        spec["configName"] = template.config_name
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": name,
            "labels": {
                LABEL_SOURCE: source_label_value(template.source_name),
                LABEL_AUTO_CREATED: "true",
            },
            "annotations": {
                ANNOTATION_REGISTRY: image.registry,
                ANNOTATION_REPOSITORY: image.repository,
                ANNOTATION_TAG: image.digest or image.tag or "",
            },
        },
        "spec": spec,
    }


def _never(_: ImageRef) -> bool:
    return False


def plan_models(
    template: ChildTemplate,
    max_models: int,
    outcomes: Sequence[FilterResult],
    existing: Mapping[str, Mapping[str, Any]],
    counted_before: Callable[[ImageRef], bool] = _never,
) -> Plan:
    """Keep every existing child; add a model per new image while below `max_models`.

    `counted_before` says which images an earlier call of the same continued scan already
    counted (found by another filter then): they are not counted again.
    """
    children = {name: kept_child(child) for name, child in existing.items()}
    known = {ident for child in existing.values() if (ident := child_identity(child))}
    created: list[str] = []
    available = 0
    not_created = 0
    for image in ordered_images(outcomes):
        counts = not counted_before(image)
        available += counts
        name = model_name(image.registry, image.repository, image.digest or image.tag or "")
        if name in children or image_key(image) in known:
            continue
        if len(children) >= max_models:
            not_created += counts
            continue
        children[name] = new_child(name, image, template)
        created.append(name)
    return Plan(
        children=[children[name] for name in sorted(children)],
        created=created,
        available=available,
        not_created=not_created,
    )
