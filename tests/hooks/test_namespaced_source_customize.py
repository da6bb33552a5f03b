"""The AIMModelSource customize hook over HTTP: a tenant's source never sees another namespace.

Requests as Metacontroller v4.17.2 sends them for a namespaced parent; the rules it answers are
then applied as Metacontroller applies them (`select_related`) to a cluster holding Secrets and
configs of two teams and of the operator namespace (docs/decisions.md §8).
"""

from typing import Any

from tests.hooks import wire
from tests.hooks.emulator import HookClient, select_related
from tests.namespaced.objects import (
    OPERATOR,
    cluster_config,
    namespace_config,
    secret,
    source,
)

CUSTOMIZE = "/customize/namespaced-modelsource"
CLUSTER = [
    secret("team-a", "team-registry"),
    secret("team-b", "team-registry"),
    secret("team-b", "only-in-b"),
    secret(OPERATOR, "cluster-pull"),
    namespace_config("team-a", "default", {"imagePullSecrets": [{"name": "team-registry"}]}),
    namespace_config("team-b", "default", {"imagePullSecrets": [{"name": "only-in-b"}]}),
    namespace_config("team-b", "production", {}),
    cluster_config("default", {"imagePullSecrets": [{"name": "cluster-pull"}]}),
    cluster_config("production", {}),
]


def delivered(hook: HookClient, namespace: str, spec: dict[str, Any]) -> set[tuple[str, str]]:
    """(group, key) of every related object Metacontroller would hand this source's sync."""
    reply = hook.customize(wire.customize_request(source(namespace, "models", spec)), CUSTOMIZE)
    selected = select_related(reply["relatedResources"], CLUSTER)
    return {(group, key) for group, objects in selected.items() for key in objects}


def test_a_source_naming_a_secret_of_another_team_is_never_handed_it(hook: HookClient) -> None:
    spec = {
        "filters": [{"image": "team-a/*"}],
        "imagePullSecrets": [{"name": "only-in-b"}],
        "configName": "production",
    }
    keys = delivered(hook, "team-a", spec)
    # Its own secret is asked for by name in its own namespace, where it does not exist; no
    # Secret of the operator namespace is asked for while no cluster config's is recorded.
    assert {key for _, key in keys} == {"production"}
    assert not any(key.startswith("team-b/") for _, key in keys)


def test_two_teams_get_their_own_namespace_config_of_the_same_name(hook: HookClient) -> None:
    spec = {"filters": [{"image": "x/*"}]}
    config_key = "AIMNamespaceConfig.aim.silogen.ai/v1alpha1"
    assert (config_key, "team-a/default") in delivered(hook, "team-a", spec)
    team_b = delivered(hook, "team-b", spec)
    assert (config_key, "team-b/default") in team_b
    assert not any(key.startswith("team-a/") for _, key in team_b)


def test_a_source_without_a_namespace_is_a_bad_request(hook: HookClient) -> None:
    response = hook.post(CUSTOMIZE, wire.customize_request(wire.source("models", {})))
    assert response.status_code == 400
