"""The config controllers: no children, a status that says what is wrong with the config.

It checks what the config points at: each pull secret exists in the config's secret namespace (the
operator namespace for an AIMClusterConfig, its own for an AIMNamespaceConfig), is of type
`kubernetes.io/dockerconfigjson` and parses; the storage class exists. Ready, or Degraded with
one condition per referenced object that has a problem (docs/decisions.md §7, §8).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hooks.conditions import Condition, render_conditions
from hooks.metacontroller import (
    SECRET_GROUP,
    STORAGE_CLASS_GROUP,
    CustomizeRequest,
    CustomizeResponse,
    RelatedRule,
    SyncRequest,
    SyncResponse,
)
from hooks.objects import is_secret_name, pull_secret_names
from hooks.registry.credentials import DOCKERCONFIGJSON, PULL_SECRET_TYPES, check_pull_secret

# Condition reasons.
NOT_FOUND = "NotFound"
WRONG_TYPE = "WrongType"
UNPARSABLE = "Unparsable"
VALID = "Valid"
FOUND = "Found"
INVALID_NAME = "InvalidName"
REFERENCES_VALID = "ReferencesValid"
REFERENCES_INVALID = "ReferencesInvalid"


@dataclass(frozen=True)
class ConfigRefs:
    """What a config's spec points at, read leniently: a malformed field references nothing."""

    secrets: tuple[str, ...]
    storage_class: str | None


def config_refs(spec: object) -> ConfigRefs:
    """The secret names and storage class of an AIMClusterConfig spec."""
    raw = spec if isinstance(spec, Mapping) else {}
    caching = raw.get("caching")
    storage = caching.get("storageClassName") if isinstance(caching, Mapping) else None
    storage_class = storage if isinstance(storage, str) and storage else None
    return ConfigRefs(pull_secret_names(raw), storage_class)


def customize_config(request: CustomizeRequest, secret_namespace: str) -> CustomizeResponse:
    """The config's pull secrets (in `secret_namespace` only) and its storage class."""
    refs = config_refs(request.parent.spec)
    rules = []
    if refs.secrets:
        rules.append(RelatedRule("v1", "secrets", refs.secrets, namespace=secret_namespace))
    if refs.storage_class:
        rules.append(RelatedRule("storage.k8s.io/v1", "storageclasses", (refs.storage_class,)))
    return CustomizeResponse(rules)


def _secret_condition(name: str, secret: Mapping[str, Any] | None, namespace: str) -> Condition:
    """One pull secret's check, by the code the source's scan reads it with (`credentials`).

    `kubernetes.io/dockercfg` (the legacy format) is accepted as the source and the kubelet
    accept it; any other type is WrongType, naming the type to use.
    """
    kind = f"PullSecret-{name}"
    if secret is None:
        return Condition(
            kind, "False", NOT_FOUND, f'secret "{name}" not found in namespace {namespace}'
        )
    secret_type = secret.get("type")
    if secret_type not in PULL_SECRET_TYPES:
        return Condition(
            kind,
            "False",
            WRONG_TYPE,
            f'secret "{name}" has type {secret_type!r}, expected {DOCKERCONFIGJSON}',
        )
    problem = check_pull_secret(name, secret)
    if problem is not None:
        return Condition(kind, "False", UNPARSABLE, str(problem))
    return Condition(kind, "True", VALID, f'secret "{name}" is a valid {secret_type}')


def _invalid_names_condition(names: list[str]) -> Condition:
    """One condition for the names no Secret can have (the CRD allows any string there).

    They cannot be reported as `PullSecret-{name}`: that would not be a valid condition type, and
    the API server would reject the whole status.
    """
    return Condition(
        "PullSecretNames",
        "False",
        INVALID_NAME,
        "; ".join(
            f"secret name {json.dumps(name)} is not a valid Secret name (lower-case letters, "
            "digits, '-' and '.'), so no such secret can exist"
            for name in names
        ),
    )


def sync_config(request: SyncRequest, *, now: datetime, secret_namespace: str) -> SyncResponse:
    """Ready when everything the config references is usable, Degraded otherwise."""
    refs = config_refs(request.parent.spec)
    checks = [
        _secret_condition(
            name, request.related_object(SECRET_GROUP, secret_namespace, name), secret_namespace
        )
        for name in refs.secrets
        if is_secret_name(name)
    ]
    invalid = [name for name in refs.secrets if not is_secret_name(name)]
    if invalid:
        checks.append(_invalid_names_condition(invalid))
    if refs.storage_class:
        found = request.related_object(STORAGE_CLASS_GROUP, "", refs.storage_class) is not None
        checks.append(
            Condition("StorageClass", "True", FOUND, f'storage class "{refs.storage_class}" exists')
            if found
            else Condition(
                "StorageClass",
                "False",
                NOT_FOUND,
                f'storage class "{refs.storage_class}" not found',
            )
        )
    problems = [c.message for c in checks if c.status != "True"]
    if problems:
        ready = Condition("Ready", "False", REFERENCES_INVALID, "; ".join(problems))
    else:
        ready = Condition("Ready", "True", REFERENCES_VALID, "All referenced objects are valid")
    status: dict[str, Any] = {
        "status": "Degraded" if problems else "Ready",
        "conditions": render_conditions(
            [ready, *checks],
            request.parent.status.get("conditions"),
            now,
            request.parent.generation,
        ),
    }
    if request.parent.generation is not None:
        status["observedGeneration"] = request.parent.generation
    return SyncResponse(status, [])


def customize_namespace_config(request: CustomizeRequest) -> CustomizeResponse:
    """An AIMNamespaceConfig's references: its pull secrets in its own namespace, never another."""
    return customize_config(request, request.parent.namespace)


def sync_namespace_config(request: SyncRequest, *, now: datetime) -> SyncResponse:
    """An AIMNamespaceConfig's status: the cluster config's rules, secrets in its own namespace."""
    return sync_config(request, now=now, secret_namespace=request.parent.namespace)
