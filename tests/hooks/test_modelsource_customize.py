"""The customize hooks: which related objects each parent needs Metacontroller to send.

Metacontroller caches a customize answer per parent uid and generation, so the answer must be a
function of the spec alone; secrets are always asked for in the operator namespace, because a
rule without a namespace would match a same-named Secret in any namespace.
"""

from typing import Any

from hooks.settings import Settings
from tests.hooks.conftest import PRIVATE_PASSWORD, PRIVATE_USER, HookEnv
from tests.hooks.emulator import HookClient, select_related
from tests.hooks.wire import (
    CONFIG_GROUP,
    SECRET_GROUP,
    config,
    customize_request,
    login,
    secret,
    source,
    sync_request,
)

CONFIG_RULE = {"apiVersion": "aim.silogen.ai/v1alpha1", "resource": "aimclusterconfigs"}


def customize_source(hook: HookClient, spec: Any, **parent: Any) -> dict[str, Any]:
    return hook.customize(
        customize_request(source("models", spec, **parent)), "/customize/modelsource"
    )


def test_source_asks_for_its_config_and_its_pull_secrets_in_the_operator_namespace(
    hook: HookClient,
) -> None:
    spec = {
        "configName": "production",
        "imagePullSecrets": [{"name": "ghcr-secret"}, {"name": "hub"}, {"name": "ghcr-secret"}],
        "filters": [{"image": "silogen/aim-*"}],
    }
    assert customize_source(hook, spec) == {
        "relatedResources": [
            {**CONFIG_RULE, "names": ["production"]},
            {
                "apiVersion": "v1",
                "resource": "secrets",
                "namespace": "kaiwo-system",
                "names": ["ghcr-secret", "hub"],
            },
        ]
    }


def test_source_without_config_name_asks_for_the_default_config_only(hook: HookClient) -> None:
    spec = {"filters": [{"image": "amdenterpriseai/aim-*"}]}
    assert customize_source(hook, spec) == {
        "relatedResources": [{**CONFIG_RULE, "names": ["default"]}]
    }


def test_source_customize_depends_only_on_the_spec(hook: HookClient) -> None:
    spec = {"imagePullSecrets": [{"name": "creds"}], "filters": [{"image": "a/b"}]}
    first = customize_source(hook, spec)
    parent = source("models", spec, status={"status": "Ready", "discoveredModels": 3})
    parent["metadata"]["labels"] = {"team": "ml"}
    parent["metadata"]["annotations"]["note"] = "changed"
    parent["metadata"]["generation"] = 7
    again = hook.customize(customize_request(parent), "/customize/modelsource")
    assert again == first


def test_source_customize_survives_an_invalid_spec(hook: HookClient) -> None:
    for spec in (None, "text", [], {"imagePullSecrets": "creds", "configName": 3}):
        assert customize_source(hook, spec) == {
            "relatedResources": [{**CONFIG_RULE, "names": ["default"]}]
        }
    odd = {"imagePullSecrets": [{"name": 5}, "creds", {"name": "ok"}, None]}
    rules = customize_source(hook, odd)["relatedResources"]
    assert rules[1]["names"] == ["ok"]


def test_secrets_are_asked_for_in_the_configured_operator_namespace(hooks_env: HookEnv) -> None:
    hook = hooks_env.serve(
        Settings(registry=hooks_env.registry_settings(), operator_namespace="aim-system")
    )
    spec = {"imagePullSecrets": [{"name": "creds"}], "filters": [{"image": "a/b"}]}
    (_, secrets) = customize_source(hook, spec)["relatedResources"]
    assert secrets["namespace"] == "aim-system"


def test_config_asks_for_its_secrets_and_its_storage_class(hook: HookClient) -> None:
    parent = config(
        "production",
        {
            "imagePullSecrets": [{"name": "prod-registry-secret"}],
            "caching": {"storageClassName": "premium-ssd"},
        },
    )
    answer = hook.customize(customize_request(parent, config_hook=True), "/customize/config")
    assert answer == {
        "relatedResources": [
            {
                "apiVersion": "v1",
                "resource": "secrets",
                "namespace": "kaiwo-system",
                "names": ["prod-registry-secret"],
            },
            {
                "apiVersion": "storage.k8s.io/v1",
                "resource": "storageclasses",
                "names": ["premium-ssd"],
            },
        ]
    }


def test_config_without_references_asks_for_nothing(hook: HookClient) -> None:
    parent = config("default", {"routing": {"autoCreateRoute": True}})
    answer = hook.customize(customize_request(parent, config_hook=True), "/customize/config")
    assert answer == {"relatedResources": []}


def test_the_related_objects_the_rules_select_are_what_the_sync_uses(hooks_env: HookEnv) -> None:
    """customize, then related objects as Metacontroller selects them, then sync."""
    hook = hooks_env.serve()
    spec = {
        "registry": "private.registry.io",
        "configName": "production",
        "imagePullSecrets": [{"name": "creds"}],
        "filters": [{"image": "myorg/model-b"}],
    }
    good = secret("creds", login("private.registry.io", PRIVATE_USER, PRIVATE_PASSWORD))
    decoy = secret("creds", login("private.registry.io", PRIVATE_USER, "wrong"))
    decoy["metadata"]["namespace"] = "default"
    cluster = [
        decoy,
        good,
        secret("unrelated", {}),
        config("production", {}),
        config("default", {}, uid="another-uid"),
    ]
    parent = source("models", spec)
    rules = customize_source(hook, spec)["relatedResources"]
    related = select_related(rules, cluster)
    assert related == {
        CONFIG_GROUP: {"production": config("production", {})},
        SECRET_GROUP: {"kaiwo-system/creds": good},
    }
    reply = hook.sync(sync_request(parent, {}, related))
    assert reply["status"]["status"] == "Ready"
    assert len(reply["children"]) == 2
