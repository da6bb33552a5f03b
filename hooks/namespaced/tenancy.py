"""Tenancy of a namespaced AIMModelSource: what it may see, and where each credential comes from.

A team writes the source, so nothing in its spec may reach another namespace: its own pull
secrets and its namespace config are read from its namespace only, by exact `namespace/name`
key. The one way to credentials outside it is the AIMClusterConfig the source resolves to, whose
secrets live in the operator namespace: the admin made that config the one every AIM resource of
the namespace inherits, so its credentials are already shared with it (docs/decisions.md §8).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hooks.metacontroller import CustomizeRequest, CustomizeResponse, ObjectMap, RelatedRule
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
    """The related objects a namespaced source's sync needs, a pure function of its spec.

    Its namespace config and the cluster config of the same name, by name; every Secret of its
    own namespace, because the namespace config's secrets are named only in that config, which
    this hook cannot see; and every Secret of the operator namespace, for the same reason, for the
    cluster config's. Every rule carries a namespace or is cluster-scoped: a rule without one
    would match a same-named object in any namespace. No rule depends on a Secret name the
    tenant wrote, so no name can reach into another tenant's namespace.
    """
    namespace = request.parent.namespace
    name = config_name(request.parent.spec)
    return CustomizeResponse(
        [
            RelatedRule(GROUP_VERSION, "aimnamespaceconfigs", (name,), namespace=namespace),
            RelatedRule(GROUP_VERSION, "aimclusterconfigs", (name,)),
            RelatedRule("v1", "secrets", (), namespace=namespace),
            RelatedRule("v1", "secrets", (), namespace=operator_namespace),
        ]
    )


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


def pull_secret_refs(
    source_secrets: tuple[str, ...], source_namespace: str, config: ConfigSecrets | None
) -> tuple[SecretRef, ...]:
    """Every pull secret a namespaced source scans with, in keychain order, each once.

    The source's own first (they win for a host both name), always from its own namespace;
    then the resolved config's, from the namespace its kind implies.
    """
    refs = [SecretRef(source_namespace, name) for name in source_secrets]
    if config is not None:
        refs.extend(SecretRef(config.namespace, name) for name in config.names)
    return tuple(dict.fromkeys(refs))


@dataclass(frozen=True)
class LoadedSecrets:
    """The pull secrets found, in keychain order, and one message per missing one."""

    found: tuple[tuple[str, Mapping[str, Any]], ...]
    problems: tuple[str, ...]


def load_pull_secrets(
    related: Mapping[str, ObjectMap], refs: tuple[SecretRef, ...]
) -> LoadedSecrets:
    """The Secrets behind `refs`, each looked up in its own namespace only.

    A missing one is `secret "NAME" not found in namespace NS`, the cluster sources' wording,
    also when a Secret of that name exists in another namespace.
    """
    found: list[tuple[str, Mapping[str, Any]]] = []
    problems: list[str] = []
    for ref in refs:
        secret = namespaced_object(related, SECRET_GROUP, ref.namespace, ref.name)
        if secret is None:
            problems.append(f'secret "{ref.name}" not found in namespace {ref.namespace}')
        else:
            found.append((ref.name, secret))
    return LoadedSecrets(tuple(found), tuple(problems))


def observed_models(children: ObjectMap, namespace: str) -> dict[str, Mapping[str, Any]]:
    """A namespaced source's observed AIMModels keyed by name, as the cluster path keys them.

    Metacontroller v2 keys a namespaced parent's children `namespace/name`; answering with that
    key as the name would create `team-a/...` (invalid) and leave the real model out, so deleted.
    A key in another namespace (a namespaced parent can own none) is kept as it is, never dropped.
    """
    prefix = f"{namespace}/"
    return {key.removeprefix(prefix): child for key, child in children.items()}
