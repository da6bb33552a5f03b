"""The AIMClusterConfig sync hook: every config example of cluster-config.md, and each problem.

A config is Ready when every Secret it names exists in the operator namespace, is of type
kubernetes.io/dockerconfigjson and parses, and its storage class exists; otherwise Degraded with
one condition per problem (docs/decisions.md §7). Related objects arrive as Metacontroller sends
them: Secrets under `Secret.v1` keyed `kaiwo-system/NAME`, StorageClasses under
`StorageClass.storage.k8s.io/v1` keyed by name.
"""

import base64
import json
from typing import Any

import pytest
import yaml

from tests.hooks.conftest import GITHUB_TOKEN, HookEnv
from tests.hooks.emulator import HookClient
from tests.hooks.expected import condition
from tests.hooks.wire import (
    SECRET_GROUP,
    STORAGE_CLASS_GROUP,
    config,
    config_sync_request,
    login,
    related,
    secret,
    storage_class,
)

NOW = "2026-08-20T10:00:00Z"
VALID_AUTHS = login("ghcr.io", "robot", GITHUB_TOKEN)


def world(
    spec: dict[str, Any], *, skip: tuple[str, ...] = (), extra: tuple[Any, ...] = ()
) -> dict[str, Any]:
    """`related` for a config: every object it names, valid, except those named in `skip`."""
    objects = [secret(ref["name"], VALID_AUTHS) for ref in spec.get("imagePullSecrets", [])]
    storage = spec.get("caching", {}).get("storageClassName")
    if storage:
        objects.append(storage_class(storage))
    kept = [o for o in objects if o["metadata"]["name"] not in skip]
    return related([SECRET_GROUP, STORAGE_CLASS_GROUP], [*kept, *extra])


def sync_config(
    hook: HookClient, name: str, spec: dict[str, Any], objects: dict[str, Any]
) -> dict[str, Any]:
    """Sync a config twice, feeding the status back; the second answer must repeat the first."""
    first = hook.sync_config(config_sync_request(config(name, spec), objects))
    again = hook.sync_config(
        config_sync_request(config(name, spec, status=first["status"]), objects)
    )
    assert again == first
    return dict(first["status"])


def configs(document: str) -> list[tuple[str, dict[str, Any]]]:
    """(name, spec) of every AIMClusterConfig in an example; a bare `spec:` is `default`."""
    return [
        (doc.get("metadata", {}).get("name", "default"), doc["spec"])
        for doc in yaml.safe_load_all(document)
        if doc.get("kind", "AIMClusterConfig") == "AIMClusterConfig"
    ]


def assert_ready(hook: HookClient, document: str) -> None:
    """Each config of the example is Ready, with one True condition per referenced object."""
    for name, spec in configs(document):
        status = sync_config(hook, name, spec, world(spec))
        secrets = [ref["name"] for ref in spec.get("imagePullSecrets", [])]
        storage = spec.get("caching", {}).get("storageClassName")
        expected = [
            {
                "type": "Ready",
                "status": "True",
                "reason": "ReferencesValid",
                "message": "All referenced objects are valid",
            },
            *(
                {
                    "type": f"PullSecret-{s}",
                    "status": "True",
                    "reason": "Valid",
                    "message": f'secret "{s}" is a valid kubernetes.io/dockerconfigjson',
                }
                for s in secrets
            ),
        ]
        if storage:
            expected.append(
                {
                    "type": "StorageClass",
                    "status": "True",
                    "reason": "Found",
                    "message": f'storage class "{storage}" exists',
                }
            )
        # Ready first, then the others by type: a fixed order, so the status never flaps.
        expected = [expected[0], *sorted(expected[1:], key=lambda c: c["type"])]
        for item in expected:
            item.update(lastTransitionTime=NOW, observedGeneration=1)
        assert status == {"status": "Ready", "conditions": expected, "observedGeneration": 1}


def test_image_pull_secrets(hook: HookClient) -> None:
    assert_ready(
        hook,
        """
apiVersion: aim.silogen.ai/v1alpha1
kind: AIMClusterConfig
metadata:
  name: default
spec:
  imagePullSecrets:
  - name: ghcr-pull-secret
  - name: docker-hub-secret
""",
    )


def test_caching_configuration(hook: HookClient) -> None:
    assert_ready(
        hook,
        """
spec:
  caching:
    storageClassName: fast-ssd
""",
    )


def test_routing_configuration(hook: HookClient) -> None:
    assert_ready(
        hook,
        """
spec:
  routing:
    autoCreateRoute: true
    gateway:
      name: kaiwo-gateway
      namespace: kaiwo-system
""",
    )


def test_default_config_pattern(hook: HookClient) -> None:
    assert_ready(
        hook,
        """
apiVersion: aim.silogen.ai/v1alpha1
kind: AIMClusterConfig
metadata:
  name: default
spec:
  imagePullSecrets:
  - name: registry-secret
  caching:
    storageClassName: standard
""",
    )


def test_explicit_config_references(hook: HookClient) -> None:
    assert_ready(
        hook,
        """
apiVersion: aim.silogen.ai/v1alpha1
kind: AIMClusterConfig
metadata:
  name: production
spec:
  imagePullSecrets:
  - name: prod-registry-secret
  caching:
    storageClassName: premium-ssd
---
apiVersion: aim.silogen.ai/v1alpha1
kind: AIMServiceTemplate
metadata:
  name: prod-template
  namespace: ml-prod
spec:
  aimImageName: llama-3-8b
  configName: production  # Explicitly reference production config
  metric: throughput
  precision: fp16
  gpuSelector:
    count: 2
    model: MI300X
""",
    )


def test_single_default_config(hook: HookClient) -> None:
    assert_ready(
        hook,
        """
apiVersion: aim.silogen.ai/v1alpha1
kind: AIMClusterConfig
metadata:
  name: default
spec:
  imagePullSecrets:
  - name: ghcr-secret
  caching:
    storageClassName: standard
    cacheAimImageBase: true
  routing:
    autoCreateRoute: true
    gateway:
      name: kaiwo-gateway
      namespace: kaiwo-system
""",
    )


def test_environment_specific_configs(hook: HookClient) -> None:
    assert_ready(
        hook,
        """
apiVersion: aim.silogen.ai/v1alpha1
kind: AIMClusterConfig
metadata:
  name: development
spec:
  imagePullSecrets:
  - name: dev-registry
  caching:
    storageClassName: standard
---
apiVersion: aim.silogen.ai/v1alpha1
kind: AIMClusterConfig
metadata:
  name: production
spec:
  imagePullSecrets:
  - name: prod-registry
  caching:
    storageClassName: premium-ssd
  routing:
    gateway:
      name: prod-gateway
      namespace: ingress-prod
""",
    )


def test_team_specific_configs(hook: HookClient) -> None:
    assert_ready(
        hook,
        """
apiVersion: aim.silogen.ai/v1alpha1
kind: AIMClusterConfig
metadata:
  name: ml-research
spec:
  imagePullSecrets:
  - name: research-registry
  caching:
    storageClassName: fast-ssd
    cacheAimImageBase: true
---
apiVersion: aim.silogen.ai/v1alpha1
kind: AIMClusterConfig
metadata:
  name: ml-production
spec:
  imagePullSecrets:
  - name: prod-registry
  caching:
    storageClassName: standard
""",
    )


PRODUCTION = {
    "imagePullSecrets": [{"name": "prod-registry"}, {"name": "prod-mirror"}],
    "caching": {"storageClassName": "premium-ssd"},
}


@pytest.mark.parametrize(
    ("broken", "reason", "message"),
    [
        (None, "NotFound", 'secret "prod-registry" not found in namespace kaiwo-system'),
        (
            secret("prod-registry", VALID_AUTHS, type="Opaque"),
            "WrongType",
            "secret \"prod-registry\" has type 'Opaque', expected kubernetes.io/dockerconfigjson",
        ),
        (
            secret("prod-registry", data={".dockerconfigjson": "%%% not base64 %%%"}),
            "Unparsable",
            'pull secret "prod-registry": .dockerconfigjson is not valid base64',
        ),
        (
            secret("prod-registry", data={".dockerconfigjson": "bm90IGpzb24="}),
            "Unparsable",
            'pull secret "prod-registry": .dockerconfigjson is not valid JSON',
        ),
        (
            secret("prod-registry", data={".dockerconfigjson": "e30="}),
            "Unparsable",
            'pull secret "prod-registry": .dockerconfigjson has no "auths" object',
        ),
    ],
    ids=["missing", "wrong-type", "not-base64", "not-json", "no-auths"],
)
def test_a_secret_problem_degrades_the_config_with_its_own_condition(
    hook: HookClient, broken: Any, reason: str, message: str
) -> None:
    extra = () if broken is None else (broken,)
    status = sync_config(
        hook, "production", PRODUCTION, world(PRODUCTION, skip=("prod-registry",), extra=extra)
    )
    assert status["status"] == "Degraded"
    problem = condition(status, "PullSecret-prod-registry")
    assert (problem["status"], problem["reason"], problem["message"]) == ("False", reason, message)
    assert condition(status, "PullSecret-prod-mirror")["status"] == "True"
    assert condition(status, "StorageClass")["status"] == "True"
    ready = condition(status, "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False",
        "ReferencesInvalid",
        message,
    )


def test_every_problem_is_reported_once(hook: HookClient) -> None:
    objects = world(PRODUCTION, skip=("prod-registry", "prod-mirror", "premium-ssd"))
    objects[SECRET_GROUP]["kaiwo-system/prod-mirror"] = secret(
        "prod-mirror", VALID_AUTHS, type="Opaque"
    )
    status = sync_config(hook, "production", PRODUCTION, objects)
    assert status["status"] == "Degraded"
    failing = [c["type"] for c in status["conditions"] if c["status"] == "False"]
    assert failing == [
        "Ready",
        "PullSecret-prod-mirror",
        "PullSecret-prod-registry",
        "StorageClass",
    ]
    assert condition(status, "StorageClass")["message"] == 'storage class "premium-ssd" not found'
    assert condition(status, "Ready")["message"] == "; ".join(
        [
            'secret "prod-registry" not found in namespace kaiwo-system',
            "secret \"prod-mirror\" has type 'Opaque', expected kubernetes.io/dockerconfigjson",
            'storage class "premium-ssd" not found',
        ]
    )


def test_a_secret_in_another_namespace_does_not_count(hook: HookClient) -> None:
    elsewhere = secret("prod-registry", VALID_AUTHS)
    elsewhere["metadata"]["namespace"] = "default"
    objects = world(PRODUCTION, skip=("prod-registry",), extra=(elsewhere,))
    status = sync_config(hook, "production", PRODUCTION, objects)
    assert condition(status, "PullSecret-prod-registry")["reason"] == "NotFound"


def test_a_fixed_problem_moves_only_its_condition_transition_time(
    hook: HookClient, hooks_env: HookEnv
) -> None:
    broken = world(PRODUCTION, skip=("premium-ssd",))
    first = hook.sync_config(config_sync_request(config("production", PRODUCTION), broken))
    assert first["status"]["status"] == "Degraded"
    hooks_env.clock.advance(3600)
    parent = config("production", PRODUCTION, status=first["status"])
    status = hook.sync_config(config_sync_request(parent, world(PRODUCTION)))["status"]
    assert status["status"] == "Ready"
    times = {c["type"]: c["lastTransitionTime"] for c in status["conditions"]}
    assert times == {
        "Ready": "2026-08-20T11:00:00Z",
        "PullSecret-prod-mirror": NOW,
        "PullSecret-prod-registry": NOW,
        "StorageClass": "2026-08-20T11:00:00Z",
    }


def test_names_no_secret_can_have_are_reported_together(hook: HookClient) -> None:
    spec = {"imagePullSecrets": [{"name": "ok"}, {"name": "My Secret"}, {"name": "team/creds"}]}
    status = sync_config(hook, "default", spec, world(spec))
    assert status["status"] == "Degraded"
    assert [c["type"] for c in status["conditions"]] == [
        "Ready",
        "PullSecret-ok",
        "PullSecretNames",
    ]
    invalid = condition(status, "PullSecretNames")
    assert (invalid["status"], invalid["reason"]) == ("False", "InvalidName")
    assert invalid["message"] == (
        "secret name \"My Secret\" is not a valid Secret name (lower-case letters, digits, '-' "
        "and '.'), so no such secret can exist; secret name \"team/creds\" is not a valid Secret "
        "name (lower-case letters, digits, '-' and '.'), so no such secret can exist"
    )


def test_a_legacy_dockercfg_secret_is_valid_as_the_source_scan_accepts_it(hook: HookClient) -> None:
    legacy = base64.b64encode(json.dumps(VALID_AUTHS).encode()).decode()
    spec = {"imagePullSecrets": [{"name": "legacy"}]}
    objects = related(
        [SECRET_GROUP],
        [secret("legacy", data={".dockercfg": legacy}, type="kubernetes.io/dockercfg")],
    )

    status = sync_config(hook, "default", spec, objects)

    assert status["status"] == "Ready"
    assert condition(status, "PullSecret-legacy")["reason"] == "Valid"
