"""Which AIMClusterModels a source should own after this sync: the append-only plan.

A pure function of the spec, what each filter found and the children that exist. Existing
children are always kept, whatever the filters now say (docs/decisions.md §4); `maxModels` limits
only creation; new images are considered in filter order, then repository, then newest first, so
that when the limit bites the newest images are the ones created.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hooks.modelsource.naming import collision_free_name, model_name
from hooks.modelsource.versions import SortKey, newest_first_key
from hooks.objects import LAST_APPLIED, is_object
from hooks.reference import ImageRef, canonical_registry, is_valid_repository, is_valid_tag

API_VERSION = "aim.silogen.ai/v1alpha1"
KIND = "AIMClusterModel"
LABEL_SOURCE = "aim.silogen.ai/model-source"
LABEL_AUTO_CREATED = "aim.silogen.ai/auto-created"
ANNOTATION_REGISTRY = "aim.eai.amd.com/source-registry"
ANNOTATION_REPOSITORY = "aim.eai.amd.com/source-repository"
ANNOTATION_TAG = "aim.eai.amd.com/source-tag"

MAX_LABEL_VALUE = 63
# A note names at most this many images, each cut to this many characters, so that whatever a
# registry lists, the status stays small.
NOTE_SAMPLE = 3
NOTE_SAMPLE_CHARS = 80


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
class ChildKind:
    """The kind of model a source owns, and where: an AIMClusterModelSource's AIMClusterModels
    are cluster-scoped (`namespace` None), an AIMModelSource's AIMModels live in its namespace."""

    kind: str = KIND
    namespace: str | None = None


CLUSTER_MODEL = ChildKind()


@dataclass(frozen=True, slots=True)
class ChildTemplate:
    """What every created model shares, taken from the source."""

    source_name: str
    image_pull_secrets: tuple[str, ...] = ()
    config_name: str | None = None
    child: ChildKind = CLUSTER_MODEL


@dataclass(frozen=True)
class Plan:
    """The desired children, the counts the status reports, and notes for its messages.

    `notes` say what a user must know and no count shows: images dropped because the registry
    listed them outside the reference grammar, and images whose compatible name another image
    holds (they got a longer one). Each note is bounded, whatever the registry lists.
    """

    children: list[dict[str, Any]]
    created: list[str] = field(default_factory=list)
    available: int = 0
    not_created: int = 0
    notes: tuple[str, ...] = ()

    @property
    def limit_reached(self) -> bool:
        """Some matching image has no model because of maxModels."""
        return self.not_created > 0


def image_key(image: ImageRef) -> tuple[str, str, str]:
    """Identity of an image: registry/repository:tag, or @digest when pinned."""
    return (image.registry, image.repository, image.digest or image.tag or "")


def is_valid_image(image: ImageRef) -> bool:
    """Whether a found image can become a model: its repository and tag follow the grammar.

    Registries choose the names and tags they list; one outside the grammar (a newline, `../`,
    a smuggled `@sha256:`, 70,000 characters) would make a model whose `spec.image` is not a
    reference, and models are never deleted. The digest comes from the filter, already parsed.
    """
    return is_valid_repository(image.repository) and (image.tag is None or is_valid_tag(image.tag))


def _creation_key(image: ImageRef) -> tuple[str, SortKey, str, str]:
    """Order within one filter: repository, then newest version first (docs/decisions.md §1)."""
    return (image.repository, newest_first_key(image.tag or ""), image.digest or "", image.registry)


def ordered_images(filter_results: Sequence[FilterResult]) -> list[ImageRef]:
    """Distinct valid images in creation order: filter order, repository, newest version first."""
    seen: set[tuple[str, str, str]] = set()
    ordered: list[ImageRef] = []
    for result in sorted(filter_results, key=lambda o: o.index):
        for image in sorted(filter(is_valid_image, result.images), key=_creation_key):
            key = image_key(image)
            if key not in seen:
                seen.add(key)
                ordered.append(image)
    return ordered


def kept_child(child: Mapping[str, Any], of: ChildKind = CLUSTER_MODEL) -> dict[str, Any]:
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
    if of.namespace:
        kept_meta["namespace"] = of.namespace
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
        "kind": child.get("kind") or of.kind,
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
    """The model for one image, exactly as docs/decisions.md §4 describes (an AIMModel in the
    source's namespace for a namespaced source, docs/decisions.md §8)."""
    spec: dict[str, Any] = {"image": image.spec_image()}
    if template.image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": n} for n in template.image_pull_secrets]
    if template.config_name:
        spec["configName"] = template.config_name
    metadata: dict[str, Any] = {"name": name}
    if template.child.namespace:
        metadata["namespace"] = template.child.namespace
    return {
        "apiVersion": API_VERSION,
        "kind": template.child.kind,
        "metadata": {
            **metadata,
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


# The new images of one repository of one filter, by tag (or digest when pinned).
_Group = dict[str, ImageRef]


@dataclass
class _Found:
    """The images of one scan that may need a model, sorted out without naming any of them.

    `new` holds, per filter in filter order, the distinct valid images that have no model yet,
    grouped by (repository, registry); `uncounted` the images an earlier call of a continued scan
    already counted. Everything is keyed by the strings the images already hold: a scan can
    find millions of images, and a tuple per image was most of the plan's memory.
    """

    new: list[dict[tuple[str, str], _Group]] = field(default_factory=list)
    uncounted: set[ImageRef] = field(default_factory=set)
    available: int = 0
    invalid: int = 0
    invalid_sample: list[str] = field(default_factory=list)


def _sort_found(
    filter_results: Sequence[FilterResult],
    known: set[tuple[str, str, str]],
    unannotated: set[str],
    counted_before: Callable[[ImageRef], bool],
) -> _Found:
    """One pass over what the filters found: drop invalid images, count, set aside the new ones.

    An image is known when a child is annotated with it. Children without our annotations are
    rare (made by hand); only when there are some is every image named, to see whether one of
    them holds its name.
    """
    found = _Found()
    earlier: dict[tuple[str, str], _Group] = {}  # what earlier filters found, new or not
    ordered = sorted(filter_results, key=lambda o: o.index)
    for position, result in enumerate(ordered):
        mine = _distinct_valid(result.images, found)
        new: dict[tuple[str, str], _Group] = {}
        for (repository, registry), group in mine.items():
            before = earlier.get((repository, registry), {})
            kept: _Group = {}
            for tag, image in group.items():
                if tag in before:
                    continue
                if counted_before(image):
                    found.uncounted.add(image)
                else:
                    found.available += 1
                key = (registry, repository, tag)
                if key not in known and not (unannotated and model_name(*key) in unannotated):
                    kept[tag] = image
            if kept:
                new[(repository, registry)] = kept
            if position < len(ordered) - 1:
                earlier[(repository, registry)] = {**group, **before} if before else group
        found.new.append(new)
    return found


def _distinct_valid(images: Iterable[ImageRef], found: _Found) -> dict[tuple[str, str], _Group]:
    """One filter's valid images by (repository, registry) and tag; invalid ones are tallied.

    Validity is decided once per repository and per tag, which repeat. An image found twice
    (`repo:tag@digest` and `repo@digest` are one image) is the one first in creation order,
    whatever order the scan listed them in.
    """
    groups: dict[tuple[str, str], _Group] = {}
    valid_repositories: dict[str, bool] = {}
    valid_tags: dict[str, bool] = {}
    for image in images:
        ok = valid_repositories.get(image.repository)
        if ok is None:
            ok = valid_repositories[image.repository] = is_valid_repository(image.repository)
        if ok and image.tag is not None:
            ok = valid_tags.get(image.tag)
            if ok is None:
                ok = valid_tags[image.tag] = is_valid_tag(image.tag)
        if not ok:
            found.invalid += 1
            if len(found.invalid_sample) < NOTE_SAMPLE:
                found.invalid_sample.append(_quoted(image))
            continue
        group = groups.setdefault((image.repository, image.registry), {})
        tag = image.digest or image.tag or ""
        twin = group.setdefault(tag, image)
        if twin is not image and _creation_key(image) < _creation_key(twin):
            group[tag] = image
    return groups


def _quoted(image: ImageRef) -> str:
    """An image for a message: cut, then quoted with every control character escaped."""
    name = f"{image.repository[:NOTE_SAMPLE_CHARS]}:{(image.tag or '')[:NOTE_SAMPLE_CHARS]}"
    return json.dumps(name[:NOTE_SAMPLE_CHARS] + ("…" if len(name) > NOTE_SAMPLE_CHARS else ""))


def _note(count: int, sample: Iterable[str], what: str) -> tuple[str, ...]:
    """`{count} image(s) {what}: "a", "b", "c", …`, or nothing for a count of 0."""
    if not count:
        return ()
    shown = list(sample)
    more = ", …" if count > len(shown) else ""
    return (f"{count} image(s) {what}: {', '.join(shown)}{more}",)


def plan_models(
    template: ChildTemplate,
    max_models: int,
    filter_results: Sequence[FilterResult],
    existing: Mapping[str, Mapping[str, Any]],
    counted_before: Callable[[ImageRef], bool] = _never,
) -> Plan:
    """Keep every existing child; add a model per new image while below `max_models`.

    `counted_before` says which images an earlier call of the same continued scan already
    counted (found by another filter then): they are not counted again.

    Only images that can still be created are named (SHA-256) and sorted: with `maxModels`
    reached, the others are counted and let go, so that 3,000,000 found images cost a pass over
    them, not a name and a sort key each. Within a filter the next images to create are taken
    with a bounded heap (`heapq.nsmallest`) instead of a sort of all of them.

    When two images map to the same compatible name (a 24-bit hash), the first one (the existing
    child, or the first in creation order) keeps it and the other gets a longer name that no
    compatible name can equal (`collision_free_name`); `notes` report it, and report images
    dropped for being outside the reference grammar.
    """
    children = {name: kept_child(child, template.child) for name, child in existing.items()}
    owners = {name: child_identity(child) for name, child in existing.items()}
    known = {identity for identity in owners.values() if identity is not None}
    unannotated = {name for name, identity in owners.items() if identity is None}
    found = _sort_found(filter_results, known, unannotated, counted_before)
    created: list[str] = []
    renamed: list[str] = []
    unnamed: list[str] = []
    not_created = 0
    for new in found.new:
        for repository_and_registry in sorted(new):
            candidates: Collection[ImageRef] = new[repository_and_registry].values()
            while candidates and len(children) < max_models:
                batch = heapq.nsmallest(max_models - len(children), candidates, key=_creation_key)
                for image in batch:
                    key = image_key(image)
                    name = model_name(*key)
                    if name in owners:
                        name = collision_free_name(*key)
                        if name in owners:
                            unnamed.append(_quoted(image))
                            continue
                        renamed.append(f"{_quoted(image)} is {name}")
                    children[name] = new_child(name, image, template)
                    owners[name] = key
                    created.append(name)
                taken = {id(image) for image in batch}
                candidates = [image for image in candidates if id(image) not in taken]
            # Over the limit: counted, never named or sorted.
            not_created += len(candidates)
            if found.uncounted:
                not_created -= sum(image in found.uncounted for image in candidates)
    notes = (
        *_note(
            found.invalid, found.invalid_sample, "listed outside the reference grammar, dropped"
        ),
        *_note(
            len(renamed), renamed[:NOTE_SAMPLE], "got a longer name, their model name being taken"
        ),
        *_note(len(unnamed), unnamed[:NOTE_SAMPLE], "have no model: every name for them is taken"),
    )
    return Plan(
        children=[children[name] for name in sorted(children)],
        created=created,
        available=found.available,
        not_created=not_created,
        notes=notes,
    )
