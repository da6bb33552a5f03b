"""Config resolution for a namespaced AIMModelSource (docs/decisions.md §7, §8).

`configName` (or `default`) names the AIMNamespaceConfig of that name in the source's namespace,
else the AIMClusterConfig of that name. An explicit name found in neither place fails the source
without a scan; an implicit `default` found in neither lets the scan go on with defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hooks.conditions import Condition
from hooks.metacontroller import ObjectMap
from hooks.modelsource.schedule import CLUSTER_CONFIG, NAMESPACE_CONFIG
from hooks.namespaced.tenancy import (
    CLUSTER_CONFIG_GROUP,
    DEFAULT_CONFIG,
    NAMESPACE_CONFIG_GROUP,
    ConfigSecrets,
    namespaced_object,
)


@dataclass(frozen=True)
class ResolvedConfig:
    """Which config a namespaced source uses, and what its status says about it.

    `config` is the resolved object (None when neither exists) and `kind` its kind; `secrets`
    the pull secrets it names and the namespace they are read from; `missing` the Failure
    message when an explicit name exists nowhere (the sync then stops before scanning, its
    children kept).
    """

    name: str
    config: Mapping[str, Any] | None
    secrets: ConfigSecrets | None
    condition: Condition
    missing: str | None = None
    kind: str | None = None


def resolve_namespaced_config(
    related: Mapping[str, ObjectMap],
    *,
    namespace: str,
    explicit_name: str | None,
    operator_namespace: str,
) -> ResolvedConfig:
    """The config of a source in `namespace` that names `explicit_name` (None: unset).

    The namespace config wins over the cluster config of the same name. A namespace config's
    secrets are read from its namespace, a cluster config's from the operator namespace.
    """
    name = explicit_name or DEFAULT_CONFIG
    local = namespaced_object(related, NAMESPACE_CONFIG_GROUP, namespace, name)
    if local is not None:
        return ResolvedConfig(
            name,
            local,
            ConfigSecrets.of(local, namespace),
            Condition(
                "ConfigResolved",
                "True",
                "ConfigFound",
                f'Using AIMNamespaceConfig "{name}" in namespace "{namespace}"',
            ),
            kind=NAMESPACE_CONFIG,
        )
    cluster = related.get(CLUSTER_CONFIG_GROUP, {}).get(name)
    if cluster is not None:
        return ResolvedConfig(
            name,
            cluster,
            ConfigSecrets.of(cluster, operator_namespace),
            Condition("ConfigResolved", "True", "ConfigFound", f'Using AIMClusterConfig "{name}"'),
            kind=CLUSTER_CONFIG,
        )
    if explicit_name:
        missing = (
            f'failed to get AIMNamespaceConfig "{name}" in namespace "{namespace}" '
            f'or AIMClusterConfig "{name}": not found'
        )
        return ResolvedConfig(
            name,
            None,
            None,
            Condition("Failure", "True", "ObservationFailed", missing),
            missing,
        )
    return ResolvedConfig(
        name,
        None,
        None,
        Condition(
            "ConfigResolved",
            "False",
            "DefaultConfigNotFound",
            f'AIMNamespaceConfig "{name}" in namespace "{namespace}" and AIMClusterConfig '
            f'"{name}" not found, proceeding with defaults',
        ),
    )
