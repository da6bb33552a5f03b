"""Tenancy of a namespaced AIMModelSource: the customize rules, the lookups, the credentials.

A team writes the source; nothing it writes may reach another team's namespace or the operator
namespace, except the secrets of the AIMClusterConfig the source resolves to (docs/decisions.md
§8). Requests are shaped as Metacontroller v4.17.2 sends them for a namespaced parent.
"""

from typing import Any

import pytest

from hooks.metacontroller import (
    RequestError,
    parse_namespaced_customize_request,
    parse_namespaced_sync_request,
)
from hooks.modelsource.pipeline import PullSecrets, load_secrets
from hooks.namespaced.tenancy import (
    SECRET_GROUP,
    ConfigSecrets,
    SecretRef,
    customize_namespaced_source,
    namespaced_object,
)
from tests.hooks import wire
from tests.hooks.emulator import select_related
from tests.namespaced.objects import (
    OPERATOR,
    cluster_config,
    namespace_config,
    related,
    secret,
    source,
)

SPEC = {
    "filters": [{"image": "ghcr.io/team-a/*"}],
    "imagePullSecrets": [{"name": "team-registry"}, {"name": "shared-secret"}],
    "configName": "team",
}


def customize(
    namespace: str, spec: dict[str, Any], scan: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    parent = source(namespace, "models", spec)
    if scan is not None:
        parent["status"] = {"scan": scan}
    body = wire.customize_request(parent)
    request = parse_namespaced_customize_request(body)
    rules: list[dict[str, Any]] = customize_namespaced_source(request, OPERATOR).to_json()[
        "relatedResources"
    ]
    return rules


CONFIGS = [
    {
        "apiVersion": "aim.silogen.ai/v1alpha1",
        "resource": "aimnamespaceconfigs",
        "namespace": "team-a",
        "names": ["team"],
    },
    {"apiVersion": "aim.silogen.ai/v1alpha1", "resource": "aimclusterconfigs", "names": ["team"]},
]


def test_customize_asks_for_configs_and_the_source_s_own_secrets_by_name() -> None:
    assert customize("team-a", SPEC) == [
        {
            "apiVersion": "aim.silogen.ai/v1alpha1",
            "resource": "aimnamespaceconfigs",
            "namespace": "team-a",
            "names": ["team"],
        },
        {
            "apiVersion": "aim.silogen.ai/v1alpha1",
            "resource": "aimclusterconfigs",
            "names": ["team"],
        },
        {
            "apiVersion": "v1",
            "resource": "secrets",
            "namespace": "team-a",
            "names": ["team-registry", "shared-secret"],
        },
    ]


def test_customize_asks_for_a_namespace_config_s_recorded_secrets_in_the_namespace() -> None:
    scan = {"configKind": "AIMNamespaceConfig", "configPullSecrets": ["ns-pull", "shared-secret"]}
    assert customize("team-a", SPEC, scan) == [
        *CONFIGS,
        {
            "apiVersion": "v1",
            "resource": "secrets",
            "namespace": "team-a",
            "names": ["team-registry", "shared-secret", "ns-pull"],
        },
    ]


def test_customize_asks_the_operator_namespace_only_for_a_cluster_config_s_secrets() -> None:
    scan = {"configKind": "AIMClusterConfig", "configPullSecrets": ["cluster-pull"]}
    assert customize("team-a", {"filters": [{"image": "x/y"}], "configName": "team"}, scan) == [
        *CONFIGS,
        {
            "apiVersion": "v1",
            "resource": "secrets",
            "namespace": OPERATOR,
            "names": ["cluster-pull"],
        },
    ]
    # Recorded names without a kind (or with another) are asked for nowhere.
    for kind in (None, "Secret", "AIMClusterModelSource"):
        unknown = {"configKind": kind, "configPullSecrets": ["cluster-pull"]}
        assert customize("team-a", {"configName": "team"}, unknown) == CONFIGS


def test_customize_asks_for_the_default_config_when_none_is_named() -> None:
    rules = customize("team-a", {"filters": [{"image": "x/y"}], "configName": 7})
    assert [rule.get("names") for rule in rules[:2]] == [["default"], ["default"]]


@pytest.mark.parametrize(
    "spec",
    [
        SPEC,
        {**SPEC, "imagePullSecrets": [{"name": "team-b/secret"}], "configName": "../team-b"},
        {"filters": "not a list", "imagePullSecrets": "nor this"},
        None,
    ],
)
def test_no_rule_is_namespace_free_or_asks_the_operator_for_a_spec_s_secret(spec: Any) -> None:
    """Whatever the spec: every namespaced rule carries the source's or the operator namespace
    (a rule without one matches any namespace), no rule asks for every Secret (`names: []`),
    and a Secret name the tenant wrote in its spec is asked for in its namespace only."""
    for rule in customize("team-a", spec):
        if rule["resource"] == "aimclusterconfigs":
            assert "namespace" not in rule
        else:
            assert rule["namespace"] in ("team-a", OPERATOR), rule
        if rule["resource"] == "secrets":
            assert rule["names"]
            assert rule["namespace"] == "team-a"


def test_a_secret_of_another_team_never_reaches_the_sync() -> None:
    """Metacontroller selects related objects from the rules; team-b's never match them."""
    cluster = [
        secret("team-a", "team-registry"),
        secret("team-b", "team-registry"),
        secret("team-b", "only-in-b"),
        secret(OPERATOR, "dockerhub-pull-secret"),
        namespace_config("team-b", "team", {"imagePullSecrets": [{"name": "only-in-b"}]}),
    ]
    spec = {**SPEC, "imagePullSecrets": [{"name": "only-in-b"}]}
    delivered = select_related(customize("team-a", spec), cluster)
    keys = {key for group in delivered.values() for key in group}
    assert keys == set()

    loaded = load(delivered, [SecretRef("team-a", "only-in-b")])
    assert loaded.problems[0] == 'secret "only-in-b" not found in namespace team-a'


def load(delivered: wire.Object, own: list[SecretRef]) -> PullSecrets:
    """The pull secrets a namespaced sync loads: each by its exact `namespace/name` key."""
    return load_secrets(
        lambda ref: namespaced_object(delivered, SECRET_GROUP, ref.namespace, ref.name),
        own,
        [SecretRef(OPERATOR, "cluster-pull")],
        'AIMClusterConfig "team"',
        ["cluster-pull"],
    )


def test_a_source_naming_an_operator_secret_gets_not_found_in_its_namespace() -> None:
    delivered = related(
        [secret(OPERATOR, "dockerhub-pull-secret"), secret(OPERATOR, "cluster-pull")]
    )
    loaded = load(delivered, [SecretRef("team-a", "dockerhub-pull-secret")])
    assert loaded.problems == ['secret "dockerhub-pull-secret" not found in namespace team-a']


def test_loaded_secrets_keep_keychain_order_and_name_what_is_missing() -> None:
    delivered = related(
        [secret("team-a", "team-registry"), secret(OPERATOR, "cluster-pull", "docker.io")]
    )
    loaded = load(delivered, [SecretRef("team-a", "team-registry"), SecretRef("team-a", "gone")])
    assert list(loaded.identities) == [
        SecretRef("team-a", "team-registry"),
        SecretRef("team-a", "gone"),
        SecretRef(OPERATOR, "cluster-pull"),
    ]
    assert loaded.identities[SecretRef("team-a", "gone")] is None
    assert loaded.problems == ['secret "gone" not found in namespace team-a']


def test_lookup_takes_only_the_v2_key_of_that_namespace() -> None:
    mine = secret("team-a", "pull")
    assert namespaced_object(related([mine]), SECRET_GROUP, "team-a", "pull") == mine
    assert namespaced_object(related([mine]), SECRET_GROUP, OPERATOR, "pull") is None
    # A v1 bare key means "the parent's namespace": never taken for a named namespace.
    assert namespaced_object({SECRET_GROUP: {"pull": mine}}, SECRET_GROUP, "team-a", "pull") is None
    # An object filed under one namespace's key that declares another is not taken either.
    misfiled = {SECRET_GROUP: {f"{OPERATOR}/pull": mine}}
    assert namespaced_object(misfiled, SECRET_GROUP, OPERATOR, "pull") is None


def test_config_secrets_are_read_leniently_from_its_spec() -> None:
    config = cluster_config("team", {"imagePullSecrets": [{"name": "a"}, {}, "b", {"name": "a"}]})
    assert ConfigSecrets.of(config, OPERATOR) == ConfigSecrets(OPERATOR, ("a",))
    assert ConfigSecrets.of({"spec": None}, "team-a") == ConfigSecrets("team-a", ())


@pytest.mark.parametrize("namespace", [None, "", 7])
def test_a_namespaced_parent_without_a_namespace_is_a_bad_request(namespace: Any) -> None:
    parent = source("team-a", "models", SPEC)
    parent["metadata"]["namespace"] = namespace
    if namespace is None:
        del parent["metadata"]["namespace"]
    with pytest.raises(RequestError, match="namespace"):
        parse_namespaced_customize_request(wire.customize_request(parent))
    with pytest.raises(RequestError, match="namespace"):
        parse_namespaced_sync_request(wire.sync_request(parent))
