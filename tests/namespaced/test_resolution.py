"""Config resolution for a namespaced source: the namespace config first, then the cluster's.

Every case of docs/decisions.md §8: both orders, each missing case, and a same-named config in
another namespace, which never counts.
"""

from typing import Any

from hooks.conditions import Condition
from hooks.namespaced.resolution import resolve_namespaced_config
from hooks.namespaced.tenancy import ConfigSecrets
from tests.namespaced.objects import OPERATOR, cluster_config, namespace_config, related

LOCAL = namespace_config("team-a", "team", {"imagePullSecrets": [{"name": "team-pull"}]})
CLUSTER = cluster_config("team", {"imagePullSecrets": [{"name": "cluster-pull"}]})
CLUSTER_DEFAULT = cluster_config("default", {"imagePullSecrets": [{"name": "default-pull"}]})
ELSEWHERE = namespace_config("team-b", "team", {"imagePullSecrets": [{"name": "b-pull"}]})


def resolve(objects: list[dict[str, Any]], name: str | None = "team") -> Any:
    return resolve_namespaced_config(
        related(objects), namespace="team-a", explicit_name=name, operator_namespace=OPERATOR
    )


def test_the_namespace_config_wins_over_the_cluster_config_of_that_name() -> None:
    for objects in ([LOCAL, CLUSTER], [CLUSTER, LOCAL], [LOCAL]):
        resolved = resolve(objects)
        assert resolved.config == LOCAL
        assert resolved.secrets == ConfigSecrets("team-a", ("team-pull",))
        assert resolved.condition == Condition(
            "ConfigResolved",
            "True",
            "ConfigFound",
            'Using AIMNamespaceConfig "team" in namespace "team-a"',
        )
        assert resolved.missing is None


def test_without_a_namespace_config_the_cluster_config_applies_with_operator_secrets() -> None:
    resolved = resolve([CLUSTER, ELSEWHERE])
    assert resolved.config == CLUSTER
    assert resolved.secrets == ConfigSecrets(OPERATOR, ("cluster-pull",))
    assert resolved.condition == Condition(
        "ConfigResolved", "True", "ConfigFound", 'Using AIMClusterConfig "team"'
    )


def test_an_explicit_name_missing_in_both_places_fails_naming_both() -> None:
    message = (
        'failed to get AIMNamespaceConfig "team" in namespace "team-a" or AIMClusterConfig '
        '"team": not found'
    )
    for objects in ([], [ELSEWHERE], [CLUSTER_DEFAULT]):
        resolved = resolve(objects)
        assert resolved.missing == message
        assert resolved.condition == Condition("Failure", "True", "ObservationFailed", message)
        assert (resolved.config, resolved.secrets) == (None, None)


def test_the_implicit_default_missing_in_both_places_lets_the_scan_go_on() -> None:
    resolved = resolve([CLUSTER, LOCAL, ELSEWHERE], name=None)
    assert resolved.missing is None
    assert (resolved.name, resolved.config, resolved.secrets) == ("default", None, None)
    assert resolved.condition == Condition(
        "ConfigResolved",
        "False",
        "DefaultConfigNotFound",
        'AIMNamespaceConfig "default" in namespace "team-a" and AIMClusterConfig "default" '
        "not found, proceeding with defaults",
    )


def test_the_implicit_default_resolves_like_an_explicit_name() -> None:
    local_default = namespace_config("team-a", "default", {})
    assert resolve([CLUSTER_DEFAULT, local_default], name=None).config == local_default
    resolved = resolve([CLUSTER_DEFAULT], name=None)
    assert resolved.config == CLUSTER_DEFAULT
    assert resolved.secrets == ConfigSecrets(OPERATOR, ("default-pull",))


def test_a_namespace_config_filed_under_a_bare_name_is_not_taken() -> None:
    """Under v2 a namespaced object is always keyed `namespace/name`; a bare key is not trusted."""
    bare = {LOCAL["kind"] + "." + LOCAL["apiVersion"]: {"team": LOCAL}}
    assert resolve_namespaced_config(
        bare, namespace="team-a", explicit_name="team", operator_namespace=OPERATOR
    ).missing
