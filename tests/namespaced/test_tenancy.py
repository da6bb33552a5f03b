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
from hooks.namespaced.tenancy import (
    MODEL_GROUP,
    SECRET_GROUP,
    ConfigSecrets,
    SecretRef,
    customize_namespaced_source,
    load_pull_secrets,
    namespaced_object,
    observed_models,
    pull_secret_refs,
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


def customize(namespace: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
    body = wire.customize_request(source(namespace, "models", spec))
    request = parse_namespaced_customize_request(body)
    rules: list[dict[str, Any]] = customize_namespaced_source(request, OPERATOR).to_json()[
        "relatedResources"
    ]
    return rules


def test_customize_asks_for_configs_by_name_and_secrets_of_two_namespaces_only() -> None:
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
        {"apiVersion": "v1", "resource": "secrets", "namespace": "team-a", "names": []},
        {"apiVersion": "v1", "resource": "secrets", "namespace": OPERATOR, "names": []},
    ]


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
def test_no_rule_is_namespace_free_or_names_a_tenant_namespace(spec: Any) -> None:
    """Whatever the spec: every namespaced rule carries the source's or the operator namespace
    (a rule without one matches any namespace), and no Secret name written by the tenant."""
    for rule in customize("team-a", spec):
        if rule["resource"] == "aimclusterconfigs":
            assert "namespace" not in rule
        else:
            assert rule["namespace"] in ("team-a", OPERATOR), rule
        if rule["resource"] == "secrets":
            assert rule["names"] == []


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
    assert keys == {"team-a/team-registry", f"{OPERATOR}/dockerhub-pull-secret"}

    loaded = load_pull_secrets(delivered, pull_secret_refs(("only-in-b",), "team-a", None))
    assert loaded.found == ()
    assert loaded.problems == ('secret "only-in-b" not found in namespace team-a',)


def test_a_source_naming_an_operator_secret_gets_not_found_in_its_namespace() -> None:
    delivered = related([secret(OPERATOR, "dockerhub-pull-secret")])
    refs = pull_secret_refs(("dockerhub-pull-secret",), "team-a", None)
    assert refs == (SecretRef("team-a", "dockerhub-pull-secret"),)
    loaded = load_pull_secrets(delivered, refs)
    assert loaded.problems == ('secret "dockerhub-pull-secret" not found in namespace team-a',)


def test_secrets_of_the_source_come_first_then_the_config_s_each_once() -> None:
    refs = pull_secret_refs(
        ("team-registry", "shared"),
        "team-a",
        ConfigSecrets(OPERATOR, ("cluster-pull", "team-registry")),
    )
    assert refs == (
        SecretRef("team-a", "team-registry"),
        SecretRef("team-a", "shared"),
        SecretRef(OPERATOR, "cluster-pull"),
        SecretRef(OPERATOR, "team-registry"),
    )
    local = pull_secret_refs(("a", "b"), "team-a", ConfigSecrets("team-a", ("b", "c")))
    assert local == (SecretRef("team-a", "a"), SecretRef("team-a", "b"), SecretRef("team-a", "c"))


def test_loaded_secrets_keep_keychain_order_and_name_what_is_missing() -> None:
    delivered = related(
        [secret("team-a", "team-registry"), secret(OPERATOR, "cluster-pull", "docker.io")]
    )
    refs = (
        SecretRef("team-a", "team-registry"),
        SecretRef("team-a", "gone"),
        SecretRef(OPERATOR, "cluster-pull"),
    )
    loaded = load_pull_secrets(delivered, refs)
    assert [name for name, _ in loaded.found] == ["team-registry", "cluster-pull"]
    assert [obj["metadata"]["namespace"] for _, obj in loaded.found] == ["team-a", OPERATOR]
    assert loaded.problems == ('secret "gone" not found in namespace team-a',)


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


def test_observed_models_are_keyed_by_name_and_none_is_dropped() -> None:
    child = {"apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMModel", "metadata": {}}
    children = {"team-a/model-1": child, "team-a/model-2": child, "odd/model-3": child}
    assert list(observed_models(children, "team-a")) == ["model-1", "model-2", "odd/model-3"]
    assert MODEL_GROUP == "AIMModel.aim.silogen.ai/v1alpha1"


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
