"""Tenancy of a namespaced AIMModelSource: what it may see, and where each credential comes from.

A team writes the source, so nothing in it may reach another namespace: its own pull secrets
and its namespace config are read from its namespace only, by exact `namespace/name` key. The one
way to credentials outside it is the AIMClusterConfig the source resolves to, whose secrets live
in the operator namespace: the admin made that config the one every AIM resource of the namespace
inherits, so its credentials are already shared with it (docs/decisions.md §8).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hooks.metacontroller import CustomizeRequest, CustomizeResponse, ObjectMap, RelatedRule
from hooks.modelsource.schedule import (
    CLUSTER_CONFIG,
    NAMESPACE_CONFIG,
    config_kind,
    config_pull_secrets,
)
from hooks.objects import is_object, pull_secret_names

GROUP_VERSION = "aim.silogen.ai/v1alpha1"
SECRET_GROUP = "Secret.v1"
MODEL_GROUP = f"AIMModel.{GROUP_VERSION}"
NAMESPACE_CONFIG_GROUP = f"AIMNamespaceConfig.{GROUP_VERSION}"
CLUSTER_CONFIG_GROUP = f"AIMClusterConfig.{GROUP_VERSION}"
DEFAULT_CONFIG = "default"


def config_name(spec: object) -> str:
    """The config a source names, `default` when it names none (or names it malformed)."""
    raw = spec.get("configName") if isinstance(spec, Mapping) else None
    return raw if isinstance(raw, str) and raw else DEFAULT_CONFIG


def customize_namespaced_source(
    request: CustomizeRequest, operator_namespace: str
) -> CustomizeResponse:
    """The related objects a namespaced source's sync needs, a function of the source alone.

    Its namespace config and the cluster config of the same name, by name; its own pull secrets
    by name in its namespace; and the resolved config's pull secrets by the names the last sync
    recorded in `status.scan` (`configPullSecrets`), in the namespace of the kind it recorded
    (`configKind`): the source's for an AIMNamespaceConfig, the operator namespace for an
    AIMClusterConfig, as for cluster sources (hooks/modelsource/customize.py). Every rule carries
    a namespace or is cluster-scoped: a rule without one would match a same-named object in any
    namespace. A tenant who forged the status could have an operator Secret sent to the hook,
    never used: the sync scans only with the secrets the resolved cluster config names.
    """
    namespace = request.parent.namespace
    spec = request.parent.spec
    own = pull_secret_names(spec) if isinstance(spec, Mapping) else ()
    scan = request.parent.status.get("scan")
    recorded = config_pull_secrets(scan)
    kind = config_kind(scan)
    local = own + (recorded if kind == NAMESPACE_CONFIG else ())
    name = config_name(spec)
    rules = [
        RelatedRule(GROUP_VERSION, "aimnamespaceconfigs", (name,), namespace=namespace),
        RelatedRule(GROUP_VERSION, "aimclusterconfigs", (name,)),
    ]
    if local:
        rules.append(RelatedRule("v1", "secrets", tuple(dict.fromkeys(local)), namespace))
    if recorded and kind == CLUSTER_CONFIG:
        rules.append(RelatedRule("v1", "secrets", recorded, namespace=operator_namespace))
    return CustomizeResponse(rules)


def namespaced_object(
    related: Mapping[str, ObjectMap], group_key: str, namespace: str, name: str
) -> Mapping[str, Any] | None:
    """A namespaced related object by its v2 key `namespace/name`, and only by it.

    Unlike `SyncRequest.related_object`, no fallback to a bare `name` key: for a namespaced parent
    that key means "the parent's namespace" (v1), and taking it for another namespace would hand
    the tenant's object over as the operator's, or the other way round. An object whose own
    metadata names another namespace is not taken either.
    """
    found = related.get(group_key, {}).get(f"{namespace}/{name}")
    if found is None:
        return None
    metadata = found.get("metadata")
    declared = metadata.get("namespace") if is_object(metadata) else None
    return found if declared in (None, namespace) else None


@dataclass(frozen=True, order=True)
class SecretRef:
    """A pull secret, by namespace and name: where a credential of a scan comes from."""

    namespace: str
    name: str


@dataclass(frozen=True)
class ConfigSecrets:
    """The pull secrets a resolved config names, and the namespace they are read from."""

    namespace: str
    names: tuple[str, ...]

    @classmethod
    def of(cls, config: Mapping[str, Any], namespace: str) -> ConfigSecrets:
        """A config object's `spec.imagePullSecrets`, read leniently (a malformed entry names
        nothing), to be read from `namespace`."""
        return cls(namespace, pull_secret_names(config.get("spec")))
