"""Namespaced objects exactly as Metacontroller v4.17.2 hands them to a namespaced parent's hooks.

Built from the recorded sample (tests/hooks/wire.py) with a namespace: related objects are keyed
`namespace/name` (v2), cluster-scoped ones by `name`.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from tests.hooks import wire

OPERATOR = "kaiwo-system"


def in_namespace(obj: Mapping[str, Any], namespace: str, kind: str | None = None) -> wire.Object:
    """`obj` moved into `namespace` (and given `kind`): a namespaced twin of a sample object."""
    moved: wire.Object = {**obj, "metadata": {**obj["metadata"], "namespace": namespace}}
    if kind is not None:
        moved["kind"] = kind
    return moved


def secret(namespace: str, name: str, host: str = "ghcr.io") -> wire.Object:
    """A valid dockerconfigjson Secret in `namespace`, with a login for `host` naming it."""
    return in_namespace(wire.secret(name, wire.login(host, f"{namespace}-{name}", "pw")), namespace)


def namespace_config(namespace: str, name: str, spec: Mapping[str, Any]) -> wire.Object:
    """An AIMNamespaceConfig in `namespace`."""
    return in_namespace(wire.config(name, dict(spec)), namespace, "AIMNamespaceConfig")


def cluster_config(name: str, spec: Mapping[str, Any]) -> wire.Object:
    """An AIMClusterConfig (cluster-scoped)."""
    return wire.config(name, dict(spec))


def source(namespace: str, name: str, spec: object) -> wire.Object:
    """An AIMModelSource in `namespace`, as the informer cache holds it (any spec, even none)."""
    return in_namespace(wire.source(name, spec), namespace, "AIMModelSource")


def related(objects: Iterable[Mapping[str, Any]]) -> wire.Object:
    """`related` keyed as v2 keys it: `Kind.group/version`, then `namespace/name` or `name`."""
    return wire.related([], objects)
