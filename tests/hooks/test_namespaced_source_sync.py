"""The AIMModelSource sync hook over HTTP, against the real registries (docs/decisions.md §8).

Requests are shaped as Metacontroller v4.17.2 sends them for a namespaced parent (v2 keys:
children and Secrets `namespace/name`), and each sync first asks the customize hook which objects
of the cluster to relate, as Metacontroller does (`Metacontroller(cluster=...)`). The private
registry needs basic auth; the team registry is a token-auth registry with no anonymous pull.
"""

from collections.abc import Callable
from typing import Any

import pytest

from hooks.modelsource.naming import model_name
from hooks.settings import Settings
from tests.harness.populate import plan_from
from tests.harness.registry import RegistryFactory, TokenAuth
from tests.harness.tokenserver import TokenServer
from tests.hooks import wire
from tests.hooks.conftest import PRIVATE_PASSWORD, PRIVATE_USER, HookEnv
from tests.hooks.emulator import HookClient, Metacontroller
from tests.hooks.expected import condition
from tests.namespaced.objects import (
    OPERATOR,
    cluster_config,
    in_namespace,
    namespace_config,
    source,
)

PRIVATE = "private.registry.io"
TEAM_REGISTRY = "team.registry.io"
WRONG = "not-the-password-5c1d"
PRIVATE_SPEC = {"registry": PRIVATE, "filters": [{"image": "myorg/model-b"}]}
PRIVATE_MODELS = {model_name(PRIVATE, "myorg/model-b", tag) for tag in ("0.5.0", "1.1.0")}


def secret(namespace: str, name: str, password: str = PRIVATE_PASSWORD) -> wire.Object:
    """A pull secret in `namespace` for the private registry (basic auth)."""
    return in_namespace(wire.secret(name, wire.login(PRIVATE, PRIVATE_USER, password)), namespace)


def team(
    hook: HookClient, spec: dict[str, Any], cluster: list[wire.Object], namespace: str = "team-a"
) -> Metacontroller:
    """Metacontroller for the AIMModelSource `models` of `namespace`."""
    return Metacontroller(hook, source(namespace, "models", spec), cluster=cluster)


def models(controller: Metacontroller) -> set[str]:
    return set(controller.children)


def test_a_namespace_config_s_secret_scans_and_its_children_are_aimmodels_there(
    hook: HookClient,
) -> None:
    cluster = [
        namespace_config("team-a", "default", {"imagePullSecrets": [{"name": "creds"}]}),
        secret("team-a", "creds"),
    ]
    controller = team(hook, PRIVATE_SPEC, cluster)

    first = controller.sync()
    assert first["status"]["scan"]["configKind"] == "AIMNamespaceConfig"
    assert first["status"]["scan"]["configPullSecrets"] == ["creds"]
    controller.run()

    assert controller.status["status"] == "Ready"
    assert models(controller) == PRIVATE_MODELS
    assert condition(controller.status, "ConfigResolved")["message"] == (
        'Using AIMNamespaceConfig "default" in namespace "team-a"'
    )
    for child in controller.replies[-1]["children"]:
        assert (child["kind"], child["metadata"]["namespace"]) == ("AIMModel", "team-a")
        assert child["metadata"]["labels"]["aim.silogen.ai/model-source"] == "models"
    assert controller.status["discoveredModels"] == len(PRIVATE_MODELS)


@pytest.mark.parametrize("namespace_config_first", [True, False])
def test_the_namespace_config_wins_in_either_order_and_each_change_rescans(
    hook: HookClient, namespace_config_first: bool
) -> None:
    """A namespace config appearing over a same-named cluster config, or disappearing from under
    it, changes which secrets the scan uses: each change scans again at once."""
    good = [
        namespace_config("team-a", "team", {"imagePullSecrets": [{"name": "creds"}]}),
        secret("team-a", "creds"),
    ]
    bad = [
        cluster_config("team", {"imagePullSecrets": [{"name": "creds"}]}),
        secret(OPERATOR, "creds", WRONG),
    ]
    spec = {**PRIVATE_SPEC, "configName": "team"}
    first, then = (good + bad, bad) if namespace_config_first else (bad, good + bad)
    controller = team(hook, spec, first)
    controller.run()
    expected = "Ready" if namespace_config_first else "Failed"
    assert controller.status["status"] == expected, controller.status

    controller.cluster = then
    controller.run()

    assert controller.status["status"] == ("Failed" if namespace_config_first else "Ready")
    kind = "AIMClusterConfig" if namespace_config_first else "AIMNamespaceConfig"
    assert controller.status["scan"]["configKind"] == kind
    assert kind in condition(controller.status, "ConfigResolved")["message"]


def test_an_explicit_config_missing_in_both_places_fails_and_keeps_the_models(
    hook: HookClient,
) -> None:
    cluster = [secret("team-a", "creds")]
    controller = team(hook, {**PRIVATE_SPEC, "imagePullSecrets": [{"name": "creds"}]}, cluster)
    controller.run()
    assert models(controller) == PRIVATE_MODELS

    controller.parent["spec"]["configName"] = "production"
    controller.parent["metadata"]["generation"] += 1
    controller.run()

    message = (
        'failed to get AIMNamespaceConfig "production" in namespace "team-a" or '
        'AIMClusterConfig "production": not found'
    )
    assert controller.status["status"] == "Failed"
    assert condition(controller.status, "Failure")["reason"] == "ObservationFailed"
    assert condition(controller.status, "Failure")["message"] == message
    assert models(controller) == PRIVATE_MODELS
    assert controller.deleted == []


def test_an_implicit_default_missing_in_both_places_scans_on(hook: HookClient) -> None:
    controller = team(
        hook, {**PRIVATE_SPEC, "imagePullSecrets": [{"name": "creds"}]}, [secret("team-a", "creds")]
    )
    controller.run()

    assert controller.status["status"] == "Ready"
    resolved = condition(controller.status, "ConfigResolved")
    assert (resolved["status"], resolved["reason"]) == ("False", "DefaultConfigNotFound")


def test_a_cluster_config_s_secrets_come_from_the_operator_namespace(hook: HookClient) -> None:
    cluster = [
        cluster_config("default", {"imagePullSecrets": [{"name": "shared"}]}),
        secret(OPERATOR, "shared"),
        # A same-named Secret in the tenant's namespace is not the cluster config's.
        secret("team-a", "shared", WRONG),
    ]
    controller = team(hook, PRIVATE_SPEC, cluster)
    controller.run()

    assert controller.status["status"] == "Ready"
    assert controller.status["scan"]["configKind"] == "AIMClusterConfig"
    assert models(controller) == PRIVATE_MODELS


def test_a_secret_that_exists_only_in_another_namespace_is_refused(hook: HookClient) -> None:
    """team-a names a Secret of team-b: never asked for, never used, "not found in team-a"."""
    cluster = [secret("team-b", "only-in-b")]
    spec = {**PRIVATE_SPEC, "imagePullSecrets": [{"name": "only-in-b"}]}
    controller = team(hook, spec, cluster)
    rules = hook.customize(
        wire.customize_request(controller.parent), "/customize/namespaced-modelsource"
    )["relatedResources"]
    assert {rule.get("namespace") for rule in rules} == {"team-a", None}

    controller.run()

    assert controller.related.get(wire.SECRET_GROUP) == {}
    assert condition(controller.status, "PullSecretsResolved")["message"].startswith(
        'secret "only-in-b" not found in namespace team-a'
    )
    assert controller.status["status"] == "Failed"
    assert models(controller) == set()


def test_a_forged_status_cannot_borrow_an_operator_secret(hook: HookClient) -> None:
    """A status naming an operator Secret as a cluster config's gets it asked for, but the scan
    uses only what the resolved config really names: the tenant's own (none here)."""
    cluster = [
        namespace_config("team-a", "default", {}),
        cluster_config("default", {"imagePullSecrets": [{"name": "admin-creds"}]}),
        secret(OPERATOR, "admin-creds"),
    ]
    controller = team(hook, PRIVATE_SPEC, cluster)
    controller.parent["status"] = {
        "scan": {"configKind": "AIMClusterConfig", "configPullSecrets": ["admin-creds"]}
    }
    reply = controller.sync()

    assert f"{OPERATOR}/admin-creds" in controller.related[wire.SECRET_GROUP]
    assert reply["status"]["status"] == "Failed"
    assert reply["children"] == []
    assert "configPullSecrets" not in reply["status"]["scan"]


def test_two_namespaces_with_the_same_source_get_separate_models(hook: HookClient) -> None:
    cluster = [secret("team-a", "creds"), secret("team-b", "creds")]
    spec = {**PRIVATE_SPEC, "imagePullSecrets": [{"name": "creds"}]}
    a = team(hook, spec, cluster, "team-a")
    b = team(hook, spec, cluster, "team-b")
    a.run()
    b.run()

    assert models(a) == models(b) == PRIVATE_MODELS
    for controller, namespace in ((a, "team-a"), (b, "team-b")):
        request = controller.request()
        assert set(request["children"]["AIMModel.aim.silogen.ai/v1alpha1"]) == {
            f"{namespace}/{name}" for name in PRIVATE_MODELS
        }
        assert {c["metadata"]["namespace"] for c in controller.replies[-1]["children"]} == {
            namespace
        }
        assert controller.deleted == []


def test_a_team_s_token_auth_registry_with_its_own_secret(
    hooks_env: HookEnv,
    registry_factory: RegistryFactory,
    token_server: Callable[..., TokenServer],
) -> None:
    tokens = token_server(users={"team-robot": "team-pw"}, anonymous_pull=False)
    registry = registry_factory(
        plan_from({"team/fine-tuned": ["1.0.0", "1.1.0"]}), auth=TokenAuth(tokens)
    )
    settings = hooks_env.registry_settings(
        endpoints={TEAM_REGISTRY: registry.url},
        insecure_registries=frozenset({TEAM_REGISTRY, "127.0.0.1"}),
    )
    hook = hooks_env.serve(Settings(registry=settings))
    login = wire.login(TEAM_REGISTRY, "team-robot", "team-pw")
    cluster = [in_namespace(wire.secret("team-creds", login), "team-a")]
    spec = {
        "registry": TEAM_REGISTRY,
        "filters": [{"image": "team/fine-tuned"}],
        "imagePullSecrets": [{"name": "team-creds"}],
    }
    controller = team(hook, spec, cluster)
    controller.run()

    assert controller.status["status"] == "Ready", controller.status
    assert models(controller) == {
        model_name(TEAM_REGISTRY, "team/fine-tuned", tag) for tag in ("1.0.0", "1.1.0")
    }


def test_a_model_refused_by_a_quota_is_retried_with_a_backoff_never_every_sync(
    hooks_env: HookEnv,
) -> None:
    """A ResourceQuota refuses the third model: it is never observed, so each sync owns fewer
    models than the last scan answered. That makes a scan due only after a doubling backoff
    (docs/decisions.md §6), never on every sync, and no model is ever deleted."""
    hook = hooks_env.serve()
    spec = {"filters": [{"image": "amdenterpriseai/aim-llama3"}]}
    controller = team(hook, spec, [])
    controller.quota = 2

    scans: list[str] = []
    for _ in range(36):  # six minutes, a sync every ten seconds
        reply = controller.sync()
        attempt = reply["status"]["scan"]["lastAttemptTime"]
        if attempt not in scans:
            scans.append(attempt)
            # A scan's answer carries (and counts) the refused model too.
            assert reply["status"]["discoveredModels"] == len(reply["children"]) == 3
        else:
            assert reply["status"]["discoveredModels"] == len(reply["children"]) == 2
        hooks_env.clock.advance(10)

    assert len(controller.children) == 2
    assert controller.deleted == []
    # Scans at 0 s, then 30 s, 60 s, 120 s apart: 4 in 36 syncs.
    assert len(scans) == 4, scans
    assert len(controller.refused) == 4
