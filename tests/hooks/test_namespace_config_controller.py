"""The AIMNamespaceConfig hooks over HTTP: the AIMClusterConfig's rules, in its own namespace.

Requests are shaped as Metacontroller v4.17.2 sends them for a namespaced parent with v2 hooks:
Secrets under `Secret.v1` keyed `namespace/NAME`, StorageClasses (cluster-scoped) by name. A
Secret the config names is looked for in the config's namespace only (docs/decisions.md §8).
"""

from typing import Any

import pytest

from tests.hooks import wire
from tests.hooks.emulator import HookClient, select_related
from tests.hooks.expected import condition
from tests.namespaced.objects import OPERATOR, in_namespace, namespace_config, related, secret

SYNC = "/sync/namespaceconfig"
CUSTOMIZE = "/customize/namespaceconfig"
NOW = "2026-08-20T10:00:00Z"
SPEC = {
    "imagePullSecrets": [{"name": "team-pull"}, {"name": "team-mirror"}],
    "caching": {"storageClassName": "fast-ssd"},
}


def envelope(parent: dict[str, Any]) -> dict[str, Any]:
    """The sync request of the namespace config controller for `parent`."""
    doc = wire.config_sync_request(parent, {})
    doc["controller"]["metadata"]["name"] = "aim-namespaceconfig-controller"
    doc["controller"]["spec"]["parentResource"]["resource"] = "aimnamespaceconfigs"
    return doc


def sync(
    hook: HookClient, spec: dict[str, Any], objects: list[dict[str, Any]], namespace: str = "team-a"
) -> dict[str, Any]:
    """Sync a config twice, feeding the status back; the second answer must repeat the first."""
    request = envelope(namespace_config(namespace, "team", spec))
    request["related"] = wire.sorted_keys(related(objects))
    first = hook.sync(request, SYNC)
    assert first["children"] == []
    again_parent = namespace_config(namespace, "team", spec)
    again_parent["status"] = first["status"]
    request["parent"] = wire.sorted_keys(again_parent)
    assert hook.sync(request, SYNC) == first
    return dict(first["status"])


def test_a_config_whose_secrets_are_in_its_namespace_is_ready(hook: HookClient) -> None:
    objects = [secret("team-a", "team-pull"), secret("team-a", "team-mirror")]
    status = sync(hook, SPEC, [*objects, wire.storage_class("fast-ssd")])
    assert status["status"] == "Ready"
    assert [(c["type"], c["status"], c["message"]) for c in status["conditions"]] == [
        ("Ready", "True", "All referenced objects are valid"),
        (
            "PullSecret-team-mirror",
            "True",
            'secret "team-mirror" is a valid kubernetes.io/dockerconfigjson',
        ),
        (
            "PullSecret-team-pull",
            "True",
            'secret "team-pull" is a valid kubernetes.io/dockerconfigjson',
        ),
        ("StorageClass", "True", 'storage class "fast-ssd" exists'),
    ]
    assert {c["lastTransitionTime"] for c in status["conditions"]} == {NOW}


@pytest.mark.parametrize("elsewhere", ["team-b", OPERATOR])
def test_a_secret_of_that_name_in_another_namespace_is_not_found(
    hook: HookClient, elsewhere: str
) -> None:
    """Even when it is delivered (the customize hook never asks for it): not in its namespace."""
    objects = [
        secret("team-a", "team-mirror"),
        secret(elsewhere, "team-pull"),
        wire.storage_class("fast-ssd"),
    ]
    status = sync(hook, SPEC, objects)
    assert status["status"] == "Degraded"
    missing = condition(status, "PullSecret-team-pull")
    assert (missing["reason"], missing["message"]) == (
        "NotFound",
        'secret "team-pull" not found in namespace team-a',
    )
    assert condition(status, "Ready")["message"] == (
        'secret "team-pull" not found in namespace team-a'
    )


def test_a_wrong_secret_type_degrades_the_config(hook: HookClient) -> None:
    opaque = in_namespace(wire.secret("team-pull", type="Opaque"), "team-a")
    status = sync(hook, {"imagePullSecrets": [{"name": "team-pull"}]}, [opaque])
    assert condition(status, "PullSecret-team-pull")["reason"] == "WrongType"


def test_customize_asks_for_its_secrets_in_its_namespace_only(hook: HookClient) -> None:
    parent = namespace_config("team-a", "team", SPEC)
    reply = hook.customize(wire.customize_request(parent, config_hook=True), CUSTOMIZE)
    assert reply == {
        "relatedResources": [
            {
                "apiVersion": "v1",
                "resource": "secrets",
                "namespace": "team-a",
                "names": ["team-pull", "team-mirror"],
            },
            {
                "apiVersion": "storage.k8s.io/v1",
                "resource": "storageclasses",
                "names": ["fast-ssd"],
            },
        ]
    }
    cluster = [secret(ns, "team-pull") for ns in ("team-a", "team-b", OPERATOR)]
    delivered = select_related(reply["relatedResources"], cluster)
    assert list(delivered[wire.SECRET_GROUP]) == ["team-a/team-pull"]


@pytest.mark.parametrize("path", [SYNC, CUSTOMIZE])
def test_a_config_without_a_namespace_is_a_bad_request(hook: HookClient, path: str) -> None:
    parent = wire.config("team", SPEC)
    parent["kind"] = "AIMNamespaceConfig"
    body = envelope(parent) if path == SYNC else wire.customize_request(parent, config_hook=True)
    response = hook.post(path, body)
    assert response.status_code == 400
    assert response.json() == {"error": "parent.metadata.namespace must be a non-empty string"}
