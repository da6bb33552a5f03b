"""The Metacontroller side of the wire: a checking hook client and a sync loop for one parent.

`HookClient` posts requests to the hook server over real HTTP and checks every answer against
what Metacontroller and the API server accept: the strict response schemas, integers as
integers, no namespace on a cluster-scoped child, a status valid for the parent's CRD, and, above
all, every observed child present in the answer. `Metacontroller` feeds the answers back as the
next request, as Metacontroller does, until nothing changes any more.
"""

import copy
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
from jsonschema.protocols import Validator

from tests.hooks.wire import (
    API_VERSION,
    RULE_GROUPS,
    Object,
    children_by_name,
    customize_request,
    encode,
    observed_child,
    related_key,
    sync_request,
)
from tests.manifests import crdschema
from tests.shared import shared_path

PROJECT = Path(__file__).resolve().parents[2]
SYNC_SCHEMA = "metacontroller/sync-response.schema.json"
CUSTOMIZE_SCHEMA = "metacontroller/customize-response.schema.json"
CRD_FILES = {
    "AIMClusterModelSource": "crds/aimclustermodelsources.yaml",
    "AIMModelSource": "crds/aimmodelsources.yaml",
    "AIMClusterConfig": "crds/aimclusterconfigs.yaml",
    "AIMNamespaceConfig": "crds/aimnamespaceconfigs.yaml",
}


@cache
def response_schema(relative: str) -> Validator:
    """A strict Draft 2020-12 validator for one of Metacontroller's response schemas."""
    schema = json.loads(shared_path(relative).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@cache
def status_validator(kind: str) -> Validator:
    """A validator for `.status` of a parent kind, from the project's CRD."""
    (crd,) = crdschema.load_file(PROJECT / CRD_FILES[kind])
    return crdschema.validator(crdschema.openapi_schema(crd)["properties"]["status"])


def floats_in(value: Any, path: str = "status") -> list[str]:
    """Paths of every float in `value`: Metacontroller sees int64 and float64 as different."""
    if isinstance(value, float):
        return [path]
    if isinstance(value, Mapping):
        return [p for key, item in value.items() for p in floats_in(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in floats_in(item, f"{path}[{i}]")]
    return []


def child_names(reply: Mapping[str, Any]) -> list[str]:
    """The names of the children an answer returns, in its order."""
    return [child["metadata"]["name"] for child in reply.get("children") or []]


def check_sync_answer(request: Mapping[str, Any], reply: Mapping[str, Any]) -> None:
    """Everything a sync answer must satisfy, whatever the request was."""
    errors = [e.message for e in response_schema(SYNC_SCHEMA).iter_errors(reply)]
    assert not errors, errors
    parent = request["parent"]
    # A namespaced parent's children are AIMModels in its namespace, keyed `namespace/name` (v2).
    namespace = parent["metadata"].get("namespace")
    kind = "AIMModel" if namespace else "AIMClusterModel"
    prefix = f"{namespace}/" if namespace else ""
    names = [prefix + name for name in child_names(reply)]
    assert len(names) == len(set(names)), "a child is returned twice"
    observed = request.get("children", {}).get(f"{kind}.{API_VERSION}") or {}
    missing = sorted(set(observed) - set(names))
    assert not missing, f"observed children missing from the answer (would be deleted): {missing}"
    for child in reply.get("children") or []:
        metadata = child["metadata"]
        assert metadata.get("namespace") == namespace, f"child in the wrong namespace: {child}"
        assert child["apiVersion"] == API_VERSION and child["kind"] == kind
        owner = (metadata.get("labels") or {}).get("controller-uid")
        assert owner in (None, parent["metadata"]["uid"]), f"foreign controller-uid: {child}"
        assert "status" not in child
    status = reply.get("status")
    assert isinstance(status, dict)
    assert not floats_in(status), floats_in(status)
    invalid = crdschema.errors(status_validator(parent["kind"]), status)
    assert not invalid, invalid
    resync = reply.get("resyncAfterSeconds")
    assert resync is None or (resync > 0 and math.isfinite(resync))


@dataclass
class HookClient:
    """Posts hook requests to a running hook server and checks the answers."""

    http: httpx.Client

    def post(
        self, path: str, body: bytes | Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        """One raw POST; a mapping is encoded exactly as Metacontroller encodes requests."""
        content = body if isinstance(body, bytes) else encode(body)
        return self.http.post(
            path,
            content=content,
            headers={"Content-Type": "application/json", **(headers or {})},
        )

    def _answer(self, path: str, request: Mapping[str, Any]) -> dict[str, Any]:
        response = self.post(path, request)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        answer: dict[str, Any] = response.json()
        return answer

    def sync(self, request: Mapping[str, Any], path: str = "/sync/modelsource") -> dict[str, Any]:
        """A sync answer (HTTP 200), checked by `check_sync_answer`."""
        reply = self._answer(path, request)
        check_sync_answer(request, reply)
        return reply

    def sync_config(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """An AIMClusterConfig sync answer: no children, checked like every sync answer."""
        reply = self.sync(request, "/sync/config")
        assert reply["children"] == []
        return reply

    def customize(self, request: Mapping[str, Any], path: str) -> dict[str, Any]:
        """A customize answer (HTTP 200), valid for the strict customize schema."""
        reply = self._answer(path, request)
        errors = [e.message for e in response_schema(CUSTOMIZE_SCHEMA).iter_errors(reply)]
        assert not errors, errors
        return reply


def select_related(
    rules: list[Mapping[str, Any]], cluster: list[Mapping[str, Any]]
) -> dict[str, Any]:
    """`related` as Metacontroller builds it from customize rules with `namespace` and `names`:
    every rule's group present, objects of that resource in that namespace (any namespace when
    none is given) whose name is listed."""
    selected: dict[str, Any] = {}
    for rule in rules:
        group = RULE_GROUPS[rule["apiVersion"], rule["resource"]]
        members = selected.setdefault(group, {})
        for obj in cluster:
            if related_key(obj)[0] != group:
                continue
            metadata = obj["metadata"]
            if rule.get("namespace") and metadata.get("namespace") != rule["namespace"]:
                continue
            if rule.get("names") and metadata["name"] not in rule["names"]:
                continue
            members[related_key(obj)[1]] = copy.deepcopy(dict(obj))
    return selected


@dataclass
class Clock:
    """The hook's clock, moved only by the test."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += timedelta(seconds=seconds)


@dataclass
class Metacontroller:
    """One parent as Metacontroller sees it: its status, observed children and related objects.

    `sync()` sends one request and applies the answer: creates the new children (as the API
    server would hold them), deletes the ones left out, writes the status (Metacontroller sets
    `observedGeneration`). `run()` repeats while an answer still changes something, because each
    child creation and status write is an event that triggers the next sync.
    """

    hook: HookClient
    parent: Object
    children: dict[str, Object] = field(default_factory=dict)
    related: Object = field(default_factory=dict)
    replies: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    # The cluster's objects: when given, each sync first asks the customize hook which of them
    # to relate, as Metacontroller does, instead of using `related` as it stands.
    cluster: list[Object] | None = None
    # An API server whose CRD lacks `status.scan` drops it on every status write.
    prunes_scan: bool = False
    # A ResourceQuota on the children's count: a creation beyond it is refused (recorded in
    # `refused`), and the child never exists.
    quota: int | None = None
    refused: list[str] = field(default_factory=list)
    _serial: int = 0
    _changed: bool = False

    @classmethod
    def from_request(cls, hook: HookClient, request: Mapping[str, Any]) -> "Metacontroller":
        """Start from a sync request's parent, children and related objects."""
        return cls(
            hook,
            copy.deepcopy(request["parent"]),
            copy.deepcopy(children_by_name(request)),
            copy.deepcopy(dict(request["related"])),
        )

    def request(self) -> Object:
        """The sync request for the current state."""
        if self.cluster is not None:
            answer = self.hook.customize(customize_request(self.parent), self._path("customize"))
            self.related = select_related(answer["relatedResources"], self.cluster)
        return sync_request(self.parent, self.children, self.related)

    def _path(self, hook: str) -> str:
        """The hook's route: the namespaced source's for a parent with a namespace."""
        namespaced = bool(self.parent["metadata"].get("namespace"))
        return f"/{hook}/{'namespaced-modelsource' if namespaced else 'modelsource'}"

    def sync(self) -> dict[str, Any]:
        """One sync: request, answer, apply; the answer is also appended to `replies`."""
        reply = self.hook.sync(self.request(), self._path("sync"))
        self.replies.append(reply)
        self._changed = self._apply(reply)
        return reply

    def _apply(self, reply: Mapping[str, Any]) -> bool:
        desired = {child["metadata"]["name"]: child for child in reply["children"]}
        changed = False
        for name in sorted(set(self.children) - set(desired)):
            del self.children[name]
            self.deleted.append(name)
            changed = True
        for name, child in desired.items():
            full = self.quota is not None and len(self.children) >= self.quota
            if name not in self.children and full:
                self.refused.append(name)
                continue
            if name not in self.children:
                self._serial += 1
                self.children[name] = observed_child(child, self.parent, self._serial)
                changed = True
        status = dict(reply.get("status") or {})
        if self.prunes_scan:
            status.pop("scan", None)
        generation = self.parent["metadata"].get("generation")
        if generation is not None:
            status["observedGeneration"] = generation
        if status != self.parent.get("status"):
            self.parent["status"] = status
            changed = True
        return changed

    def run(self, rounds: int = 10) -> dict[str, Any]:
        """Sync until an answer changes nothing (the loop ends there); return that answer."""
        for _ in range(rounds):
            reply = self.sync()
            if not self._changed:
                return reply
        raise AssertionError(f"no stable answer after {rounds} syncs: {self.replies[-1]}")

    @property
    def status(self) -> dict[str, Any]:
        """The parent's status as last written."""
        status: dict[str, Any] = self.parent.get("status") or {}
        return status

    def delete_child(self, name: str) -> None:
        """A user deletes a model (`kubectl delete aimclustermodel NAME`)."""
        del self.children[name]


def metacontroller_loop(
    hook: HookClient, request: Mapping[str, Any], rounds: int = 10
) -> Metacontroller:
    """Emulate Metacontroller from `request` until the answer is stable; the state after it."""
    controller = Metacontroller.from_request(hook, request)
    controller.run(rounds)
    return controller
