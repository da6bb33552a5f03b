"""Hook requests exactly as Metacontroller v4.17.2 sends them, built from our sample request.

Every request starts from a fresh copy of `tests/fixtures/modelsource-sync-request.json` (a sync
request in the shape Metacontroller sends, see `tests/fixtures/README.md`) with the parent,
children and related objects replaced. `encode` writes the body
the way Go's encoding/json does: compact, `<`, `>` and `&` escaped inside strings, and the keys
of every unstructured object (parent, children, related) sorted at every level, while the typed
envelope and `controller` keep Go's struct order.
"""

import base64
import copy
import json
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

API_VERSION = "aim.silogen.ai/v1alpha1"
MODEL_GROUP = "AIMClusterModel.aim.silogen.ai/v1alpha1"
SECRET_GROUP = "Secret.v1"
CONFIG_GROUP = "AIMClusterConfig.aim.silogen.ai/v1alpha1"
STORAGE_CLASS_GROUP = "StorageClass.storage.k8s.io/v1"
NAMESPACE = "kaiwo-system"
DOCKERCONFIGJSON = "kubernetes.io/dockerconfigjson"
SOURCE_UID = "7b1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
CONFIG_UID = "0c4b7a21-93e5-4d1f-8b6a-5e2f1d3c4b5a"
CREATED = "2026-08-20T09:05:12Z"
SOURCE_CONTROLLER = "aim-clustermodelsource-controller"
NAMESPACED_SOURCE_CONTROLLER = "aim-modelsource-controller"
NAMESPACED_MODEL_GROUP = "AIMModel.aim.silogen.ai/v1alpha1"
CONFIG_CONTROLLER = "aim-clusterconfig-controller"
# Which group key of `related` a customize rule fills (api.GroupVersionKind.MarshalText()).
RULE_GROUPS = {
    ("v1", "secrets"): SECRET_GROUP,
    (API_VERSION, "aimclusterconfigs"): CONFIG_GROUP,
    (API_VERSION, "aimnamespaceconfigs"): f"AIMNamespaceConfig.{API_VERSION}",
    ("storage.k8s.io/v1", "storageclasses"): STORAGE_CLASS_GROUP,
}

Object = dict[str, Any]
SAMPLE_REQUEST = Path(__file__).resolve().parents[1] / "fixtures" / "modelsource-sync-request.json"


@cache
def _sample_text() -> str:
    return SAMPLE_REQUEST.read_text()


def sample() -> Object:
    """A fresh deep copy of the sample sync request."""
    doc: Object = json.loads(_sample_text())
    return doc


def sorted_keys(value: Any) -> Any:
    """`value` with the keys of every object sorted, as Go marshals an unstructured map."""
    if isinstance(value, Mapping):
        return {key: sorted_keys(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [sorted_keys(item) for item in value]
    return value


def encode(doc: Any) -> bytes:
    """The request body as Metacontroller's encoding/json writes it (compact, HTML-escaped)."""
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (
        ("&", "\\u0026"),
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text.encode()


def _metadata(template: Mapping[str, Any], name: str, uid: str, generation: int) -> Object:
    metadata: Object = copy.deepcopy(dict(template))
    metadata.update(name=name, uid=uid, generation=generation)
    return metadata


def _last_applied(kind: str, name: str, spec: object) -> str:
    """kubectl's last-applied annotation for an object applied from YAML."""
    applied = {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"annotations": {}, "name": name},
        "spec": spec,
    }
    return json.dumps(applied, separators=(",", ":")) + "\n"


def source(
    name: str,
    spec: object,
    *,
    status: Mapping[str, Any] | None = None,
    uid: str = SOURCE_UID,
    generation: int = 1,
) -> Object:
    """An AIMClusterModelSource as the informer cache holds it (the sample's metadata reused)."""
    parent = sample()["parent"]
    metadata = _metadata(parent["metadata"], name, uid, generation)
    metadata["annotations"] = {
        "kubectl.kubernetes.io/last-applied-configuration": _last_applied(
            "AIMClusterModelSource", name, spec
        )
    }
    parent.update(metadata=metadata, spec=copy.deepcopy(spec))
    parent.pop("status")
    if status is not None:
        parent["status"] = copy.deepcopy(dict(status))
    return parent


def config(
    name: str,
    spec: object,
    *,
    status: Mapping[str, Any] | None = None,
    uid: str = CONFIG_UID,
    generation: int = 1,
    resource_version: str = "60001",
) -> Object:
    """An AIMClusterConfig (cluster-scoped), as a related object or as the config hook's parent."""
    obj: Object = {
        "apiVersion": API_VERSION,
        "kind": "AIMClusterConfig",
        "metadata": {
            "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": _last_applied(
                    "AIMClusterConfig", name, spec
                )
            },
            "creationTimestamp": CREATED,
            "generation": generation,
            "name": name,
            "resourceVersion": resource_version,
            "uid": uid,
        },
        "spec": copy.deepcopy(spec),
    }
    if status is not None:
        obj["status"] = copy.deepcopy(dict(status))
    return obj


def dockerconfigjson(auths: Mapping[str, Mapping[str, str]]) -> str:
    """The base64 `.dockerconfigjson` value for these `auths` entries."""
    return base64.b64encode(json.dumps({"auths": auths}).encode()).decode()


def login(host: str, username: str, password: str) -> dict[str, dict[str, str]]:
    """One `auths` entry as `kubectl create secret docker-registry` writes it."""
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {host: {"username": username, "password": password, "auth": auth}}


def secret(
    name: str,
    auths: Mapping[str, Mapping[str, str]] | None = None,
    *,
    data: Mapping[str, str] | None = None,
    type: str = DOCKERCONFIGJSON,
    resource_version: str = "40115",
) -> Object:
    """A Secret in the operator namespace, in full (Metacontroller sends `data` as base64)."""
    (template,) = sample()["related"][SECRET_GROUP].values()
    obj: Object = template
    obj["metadata"].update(
        name=name, resourceVersion=resource_version, uid=f"secret-{name}-{resource_version}"
    )
    obj["data"] = (
        dict(data) if data is not None else {".dockerconfigjson": dockerconfigjson(auths or {})}
    )
    obj["type"] = type
    return obj


def storage_class(name: str) -> Object:
    """A StorageClass (cluster-scoped)."""
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "creationTimestamp": CREATED,
            "name": name,
            "resourceVersion": "100",
            "uid": f"storageclass-{name}",
        },
        "provisioner": "kubernetes.io/no-provisioner",
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    }


def related_key(obj: Mapping[str, Any]) -> tuple[str, str]:
    """The (group key, object key) Metacontroller files a related object under (v2): the group is
    `Kind.apiVersion` (api.GroupVersionKind.MarshalText()), the key `namespace/name` or `name`."""
    metadata = obj["metadata"]
    namespace = metadata.get("namespace")
    key = f"{namespace}/{metadata['name']}" if namespace else metadata["name"]
    return f"{obj['kind']}.{obj['apiVersion']}", key


def related(groups: Iterable[str], objects: Iterable[Mapping[str, Any]] = ()) -> Object:
    """`related` with every named group present (Metacontroller initialises each rule's group)."""
    out: Object = {group: {} for group in groups}
    for obj in objects:
        group, key = related_key(obj)
        out.setdefault(group, {})[key] = copy.deepcopy(dict(obj))
    return out


def source_related(spec: Any, objects: Iterable[Mapping[str, Any]] = ()) -> Object:
    """`related` for a source, with the groups its customize rules create (config always,
    secrets when the spec names any)."""
    groups = [CONFIG_GROUP]
    if isinstance(spec, Mapping) and spec.get("imagePullSecrets"):
        groups.append(SECRET_GROUP)
    return related(groups, objects)


def _envelope(controller_name: str, parent_resource: str, children: bool) -> Object:
    doc = sample()
    controller = doc["controller"]
    controller["metadata"]["name"] = controller_name
    controller["spec"]["parentResource"]["resource"] = parent_resource
    if not children:
        del controller["spec"]["childResources"]
    return doc


def _source_envelope(parent: Mapping[str, Any]) -> Object:
    """The controller of a model source: the AIMModelSource one for a namespaced parent."""
    if not parent["metadata"].get("namespace"):
        return _envelope(SOURCE_CONTROLLER, "aimclustermodelsources", children=True)
    doc = _envelope(NAMESPACED_SOURCE_CONTROLLER, "aimmodelsources", children=True)
    doc["controller"]["spec"]["childResources"][0]["resource"] = "aimmodels"
    return doc


def model_group(parent: Mapping[str, Any]) -> str:
    """The children's group key: AIMModel for a namespaced parent, else AIMClusterModel."""
    return NAMESPACED_MODEL_GROUP if parent["metadata"].get("namespace") else MODEL_GROUP


def children_by_name(request: Mapping[str, Any]) -> dict[str, Any]:
    """A sync request's observed models by name (v2 keys a namespaced parent's `namespace/name`)."""
    parent = request["parent"]
    namespace = parent["metadata"].get("namespace")
    observed = request["children"].get(model_group(parent)) or {}
    return {
        key.removeprefix(f"{namespace}/") if namespace else key: c for key, c in observed.items()
    }


def sync_request(
    parent: Mapping[str, Any],
    children: Mapping[str, Mapping[str, Any]] | None = None,
    related_objects: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
    *,
    finalizing: bool = False,
) -> Object:
    """A model-source sync request: parent, observed children, related objects, as v2 sends
    them: children given by name are keyed `namespace/name` for a namespaced parent."""
    doc = _source_envelope(parent)
    doc["parent"] = sorted_keys(parent)
    namespace = parent["metadata"].get("namespace")
    keyed = {f"{namespace}/{k}" if namespace else k: c for k, c in (children or {}).items()}
    doc["children"] = {model_group(parent): sorted_keys(keyed)}
    doc["related"] = sorted_keys(related_objects or {})
    doc["finalizing"] = finalizing
    return doc


def config_sync_request(
    parent: Mapping[str, Any], related_objects: Mapping[str, Mapping[str, Mapping[str, Any]]]
) -> Object:
    """An AIMClusterConfig sync request: no child resources, related secrets and storage class."""
    doc = _envelope(CONFIG_CONTROLLER, "aimclusterconfigs", children=False)
    doc["parent"] = sorted_keys(parent)
    doc["children"] = {}
    doc["related"] = sorted_keys(related_objects)
    doc["finalizing"] = False
    return doc


def customize_request(parent: Mapping[str, Any], *, config_hook: bool = False) -> Object:
    """A customize request: the controller and the parent, nothing else."""
    doc = (
        _envelope(CONFIG_CONTROLLER, "aimclusterconfigs", children=False)
        if config_hook
        else _source_envelope(parent)
    )
    return {"controller": doc["controller"], "parent": sorted_keys(parent)}


def observed_child(desired: Mapping[str, Any], parent: Mapping[str, Any], serial: int) -> Object:
    """A child as the API server holds it after Metacontroller created it from `desired`."""
    obj: Object = copy.deepcopy(dict(desired))
    metadata = obj["metadata"]
    parent_meta = parent["metadata"]
    metadata.setdefault("labels", {})["controller-uid"] = parent_meta["uid"]
    metadata.setdefault("annotations", {})["metacontroller.k8s.io/last-applied-configuration"] = (
        json.dumps(desired, separators=(",", ":"))
    )
    metadata.update(
        creationTimestamp=CREATED,
        generation=1,
        resourceVersion=str(70000 + serial),
        uid=f"model-{serial:08d}",
        ownerReferences=[
            {
                "apiVersion": API_VERSION,
                "blockOwnerDeletion": True,
                "controller": True,
                "kind": parent["kind"],
                "name": parent_meta["name"],
                "uid": parent_meta["uid"],
            }
        ],
    )
    return sorted_keys(obj)
