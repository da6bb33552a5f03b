"""Metacontroller's webhook wire format: requests parsed once into dataclasses, responses built.

Contract: docs/metacontroller.md (Metacontroller v4.17.2). Children and related objects are keyed
`Kind.group/version`, then by name (`name` for cluster-scoped objects, `namespace/name` for
namespaced ones in v2, and `name` in v1 when the namespace is the parent's); both are understood.
Responses carry exactly the keys strict mode allows, with integers as integers. A model source's
sync body is read shaped (`read_model_source_sync`): of its children, only what an answer
carries back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict

import msgspec

from hooks import jsonio
from hooks.objects import LAST_APPLIED, is_object

ObjectMap = Mapping[str, Mapping[str, Any]]

# Group keys (`Kind.group/version`) of the children and related objects these controllers use.
MODEL_GROUP = "AIMClusterModel.aim.silogen.ai/v1alpha1"
CONFIG_GROUP = "AIMClusterConfig.aim.silogen.ai/v1alpha1"
SECRET_GROUP = "Secret.v1"
STORAGE_CLASS_GROUP = "StorageClass.storage.k8s.io/v1"


class _ModelMetadata(TypedDict, total=False):
    name: Any
    namespace: Any
    labels: Any
    annotations: Any


class _ObservedModel(TypedDict, total=False):
    apiVersion: Any
    kind: Any
    metadata: _ModelMetadata
    spec: Any


class _ModelSourceSyncBody(TypedDict, total=False):
    controller: Any
    parent: Any
    children: dict[str, dict[str, _ObservedModel] | None] | None
    related: Any
    finalizing: Any


MODEL_SOURCE_SYNC_BODY = msgspec.json.Decoder(_ModelSourceSyncBody)
"""What a model source's sync reads of its request (hooks/jsonio.py `loads_shaped`): everything
but the children's other fields (status, uid, resourceVersion, owner references and the rest
of the server's metadata), which no answer carries back. The children keep exactly what
`plan.kept_child`, `plan.child_identity` and `pipeline.observed_models` read; a test holds
the shaped and the full reading of the same request to the same answers."""


def read_model_source_sync(data: bytes) -> Any:
    """A model source's sync body, read with MODEL_SOURCE_SYNC_BODY, without Metacontroller's
    last-applied annotation on any observed child.

    No answer carries that annotation back (`plan.kept_child` drops it too). Dropping it here,
    from the objects this request has just made, spares copying every child's annotations to
    leave it out: a quarter of the kept children's time at 10,000 children (bench/README.md).
    Whatever is not shaped as expected is left for `parse_sync_request` to judge.
    """
    body = jsonio.loads_shaped(data, MODEL_SOURCE_SYNC_BODY)
    groups = body.get("children") if isinstance(body, dict) else None
    for members in groups.values() if isinstance(groups, dict) else ():
        for child in members.values() if isinstance(members, dict) else ():
            metadata = child.get("metadata") if isinstance(child, dict) else None
            annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
            if isinstance(annotations, dict):
                annotations.pop(LAST_APPLIED, None)
    return body


class RequestError(ValueError):
    """The body is not a request Metacontroller would send; the web layer answers 400."""


@dataclass(frozen=True)
class Parent:
    """The parent object: name, uid and generation checked; spec and status left raw.

    `namespace` is empty for a cluster-scoped parent.
    """

    name: str
    uid: str
    generation: int | None
    spec: object
    status: Mapping[str, Any]
    api_version: str
    kind: str
    # metadata.deletionTimestamp is set: the parent is being deleted.
    deleting: bool = False
    namespace: str = ""

    @property
    def key(self) -> str:
        """How Metacontroller names the parent: `namespace/name`, or `name` when cluster-scoped."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


@dataclass(frozen=True)
class SyncRequest:
    """A sync (or finalize) hook request."""

    controller_name: str
    parent: Parent
    children: Mapping[str, ObjectMap] = field(default_factory=dict)
    related: Mapping[str, ObjectMap] = field(default_factory=dict)
    finalizing: bool = False

    def children_of(self, group_key: str) -> ObjectMap:
        """Observed children of one type, keyed by name (empty when there are none)."""
        return self.children.get(group_key, {})

    def related_object(self, group_key: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        """A related object by namespace and name, under its v2 key or its v1 key."""
        objects = self.related.get(group_key, {})
        found = objects.get(f"{namespace}/{name}") if namespace else None
        if found is None:
            found = objects.get(name)
        return found


@dataclass(frozen=True)
class CustomizeRequest:
    """A customize hook request: the controller and the parent, nothing else."""

    controller_name: str
    parent: Parent


@dataclass(frozen=True)
class SyncResponse:
    """What a sync hook answers: every desired child, the status, when to call again."""

    status: Mapping[str, Any]
    children: list[dict[str, Any]]
    resync_after_seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The body, with only the keys strict mode accepts."""
        body: dict[str, Any] = {"status": self.status, "children": self.children}
        if self.resync_after_seconds > 0:
            seconds = self.resync_after_seconds
            body["resyncAfterSeconds"] = int(seconds) if float(seconds).is_integer() else seconds
        return body


@dataclass(frozen=True)
class RelatedRule:
    """A related-resource rule: objects of `resource` by name, in one namespace or cluster-wide."""

    api_version: str
    resource: str
    names: tuple[str, ...]
    namespace: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The rule as Metacontroller's typed RelatedResourceRule."""
        rule: dict[str, Any] = {"apiVersion": self.api_version, "resource": self.resource}
        if self.namespace:
            rule["namespace"] = self.namespace
        rule["names"] = list(self.names)
        return rule


@dataclass(frozen=True)
class CustomizeResponse:
    """The related resources the sync hook needs to see."""

    rules: list[RelatedRule]

    def to_json(self) -> dict[str, Any]:
        """The body, with only `relatedResources`."""
        return {"relatedResources": [rule.to_json() for rule in self.rules]}


def _mapping(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise RequestError(f"{what} must be a JSON object, got {type(value).__name__}")
    return value


def _object_maps(value: object, what: str) -> dict[str, ObjectMap]:
    """`{"Kind.group/version": {"key": object}}`; a wrong shape is a 400, never a guess.

    Guessing here could drop children, and Metacontroller deletes what we leave out.
    """
    if value is None:
        return {}
    groups = _mapping(value, what)
    parsed: dict[str, ObjectMap] = {}
    for group_key, objects in groups.items():
        if objects is None:
            parsed[group_key] = {}
            continue
        members = _mapping(objects, f"{what}[{group_key!r}]")
        # One check per object, 10,000 of them in a large sync; the message only for a wrong one.
        wrong = next((k for k, o in members.items() if not is_object(o)), None)
        if wrong is not None:
            _mapping(members[wrong], f"{what}[{group_key!r}][{wrong!r}]")
        parsed[group_key] = members
    return parsed


def _parent(value: object) -> Parent:
    parent = _mapping(value, "parent")
    metadata = _mapping(parent.get("metadata"), "parent.metadata")
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        raise RequestError("parent.metadata.name must be a non-empty string")
    uid = metadata.get("uid")
    generation = metadata.get("generation")
    status = parent.get("status")
    namespace = metadata.get("namespace")
    return Parent(
        name=name,
        uid=uid if isinstance(uid, str) else "",
        # metadata.generation is a non-negative int64: anything else, echoed back as
        # observedGeneration, would make the API server reject every status write.
        generation=generation
        if isinstance(generation, int)
        and not isinstance(generation, bool)
        and 0 <= generation < 2**63
        else None,
        spec=parent.get("spec"),
        status=status if isinstance(status, Mapping) else {},
        api_version=str(parent.get("apiVersion") or ""),
        kind=str(parent.get("kind") or ""),
        namespace=namespace if isinstance(namespace, str) else "",
        deleting=bool(metadata.get("deletionTimestamp")),
    )


def _controller_name(body: Mapping[str, Any]) -> str:
    controller = body.get("controller")
    if not isinstance(controller, Mapping):
        return ""
    metadata = controller.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return name if isinstance(name, str) else ""


def parse_sync_request(body: object) -> SyncRequest:
    """Parse a sync request; RequestError when it cannot be one."""
    doc = _mapping(body, "request body")
    if "parent" not in doc:
        raise RequestError("not a sync request: no 'parent'")
    finalizing = doc.get("finalizing", False)
    return SyncRequest(
        controller_name=_controller_name(doc),
        parent=_parent(doc["parent"]),
        children=_object_maps(doc.get("children"), "children"),
        related=_object_maps(doc.get("related"), "related"),
        finalizing=finalizing is True,
    )


def parse_customize_request(body: object) -> CustomizeRequest:
    """Parse a customize request; RequestError when it cannot be one."""
    doc = _mapping(body, "request body")
    if "parent" not in doc:
        raise RequestError("not a customize request: no 'parent'")
    return CustomizeRequest(controller_name=_controller_name(doc), parent=_parent(doc["parent"]))


def _require_namespace(parent: Parent) -> None:
    """A namespaced parent without a namespace is no request Metacontroller sends; guessing one
    (the operator's, say) could hand a tenant's source another namespace's objects."""
    if not parent.namespace:
        raise RequestError("parent.metadata.namespace must be a non-empty string")


def parse_namespaced_sync_request(body: object) -> SyncRequest:
    """Parse a sync request for a namespaced parent; RequestError without its namespace."""
    request = parse_sync_request(body)
    _require_namespace(request.parent)
    return request


def parse_namespaced_customize_request(body: object) -> CustomizeRequest:
    """Parse a customize request for a namespaced parent; RequestError without its namespace."""
    request = parse_customize_request(body)
    _require_namespace(request.parent)
    return request
