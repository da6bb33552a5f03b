"""The AIMClusterModelSource sync hook over real HTTP: status values, scheduling, append-only.

Each test drives the hook the way Metacontroller does (`Metacontroller` from tests.hooks.emulator
feeds every answer back until nothing changes) against the registries of `hooks_env`, and every
answer is checked against Metacontroller's strict schema and the CRD by the client itself.
"""

import json
import re
from datetime import timedelta
from typing import Any

from hooks.registry.config import RegistrySettings
from hooks.settings import Settings
from tests.harness.faultproxy import FaultProxy
from tests.harness.populate import plan_from
from tests.harness.registry import RegistryFactory
from tests.hooks.conftest import PRIVATE_PASSWORD, PRIVATE_USER, START, HookEnv
from tests.hooks.emulator import HookClient, Metacontroller
from tests.hooks.expected import condition, condition_types, model, models
from tests.hooks.wire import (
    CONFIG_GROUP,
    MODEL_GROUP,
    config,
    login,
    observed_child,
    secret,
    source,
    source_related,
    sync_request,
)

LLAMA3 = ("docker.io", "amdenterpriseai/aim-llama3", "1.0.0")
LLAMA3_ALL = [("docker.io", "amdenterpriseai/aim-llama3", t) for t in ("0.8.4", "1.0.0", "latest")]


def start(
    hook: HookClient,
    spec: dict[str, Any],
    *,
    children: list[dict[str, Any]] | None = None,
    related: list[dict[str, Any]] | None = None,
) -> Metacontroller:
    """A Metacontroller for the source `models`, with observed children made from desired ones."""
    parent = source("models", spec)
    observed = {
        c["metadata"]["name"]: observed_child(c, parent, i) for i, c in enumerate(children or [], 1)
    }
    request = sync_request(parent, observed, source_related(spec, related or []))
    return Metacontroller.from_request(hook, request)


def encode_sorted(value: Any) -> str:
    """A canonical text of a JSON value, for byte-for-byte comparisons."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def tags_requests(proxy: FaultProxy) -> list[str]:
    """The repositories whose tags were asked for through `proxy`, in order."""
    found = (re.fullmatch(r"/v2/(.+)/tags/list", r.path) for r in proxy.requests)
    return [m.group(1) for m in found if m]


def test_one_failing_filter_makes_the_source_degraded(hook: HookClient) -> None:
    controller = start(
        hook,
        {
            "filters": [
                {"image": "amdenterpriseai/aim-llama3:1.0.0"},
                {"image": "silogen/aim-llama:9.9.9"},
            ]
        },
    )
    controller.run()
    status = controller.status
    assert controller.replies[0]["children"] == models("models", [LLAMA3])
    assert status["status"] == "Degraded"
    assert (status["discoveredModels"], status["availableModels"]) == (1, 1)
    assert condition_types(status) == [
        "Ready",
        "Degraded",
        "MaxModelsLimitReached",
        "ConfigResolved",
        "PullSecretsResolved",
    ]
    ready = condition(status, "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False",
        "SomeFiltersHadErrors",
        "1 of 2 filter(s) failed",
    )
    degraded = condition(status, "Degraded")
    assert (degraded["status"], degraded["reason"]) == ("True", "SomeFiltersHadErrors")
    assert degraded["message"] == (
        '1 filter(s) failed: filter "silogen/aim-llama:9.9.9": '
        "image docker.io/silogen/aim-llama:9.9.9 does not exist"
    )
    # A degraded scan still completed; the failure is retried after the first backoff step.
    assert status["lastSyncTime"] == "2026-08-20T10:00:00Z"
    assert status["scan"]["failureCount"] == 1
    assert status["scan"]["nextScanTime"] == "2026-08-20T10:00:30Z"
    assert controller.replies[-1]["resyncAfterSeconds"] == 30


def test_every_filter_failing_makes_the_source_failed(hook: HookClient) -> None:
    controller = start(
        hook,
        {"filters": [{"image": "silogen/aim-llama:9.9.9"}, {"image": "nobody/nothing"}]},
    )
    controller.run()
    status = controller.status
    assert controller.children == {}
    assert status["status"] == "Failed"
    assert "lastSyncTime" not in status
    ready = condition(status, "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False",
        "AllFiltersFailed",
        "All 2 filter(s) failed",
    )
    degraded = condition(status, "Degraded")
    assert degraded["reason"] == "AllFiltersFailed"
    assert degraded["message"].startswith(
        'All filters failed: filter "silogen/aim-llama:9.9.9": '
        "image docker.io/silogen/aim-llama:9.9.9 does not exist; "
        'filter "nobody/nothing": '
    )


def test_nothing_matching_is_ready_and_says_so(hook: HookClient) -> None:
    controller = start(hook, {"filters": [{"image": "silogen/aim-llama", "versions": [">=9"]}]})
    controller.run()
    ready = condition(controller.status, "Ready")
    assert controller.status["status"] == "Ready"
    assert (ready["status"], ready["reason"]) == ("True", "NoImagesMatched")


def test_invalid_spec_fails_naming_the_field_and_keeps_every_child(
    hook: HookClient, hooks_env: HookEnv
) -> None:
    existing = models("models", LLAMA3_ALL)
    controller = start(
        hook,
        {"filters": [{"image": "amdenterpriseai/aim-llama3"}], "maxModels": "lots"},
        children=existing,
    )
    before = dict(controller.children)
    reply = controller.sync()
    assert sorted(c["metadata"]["name"] for c in reply["children"]) == sorted(before)
    assert controller.children == before
    status = reply["status"]
    assert status["status"] == "Failed"
    assert status["discoveredModels"] == 3
    for kind in ("Ready", "Degraded"):
        found = condition(status, kind)
        assert found["reason"] == "InvalidSpec"
        assert found["message"].startswith("spec.maxModels: must be an integer from 1 to 10000")
        assert found["message"].endswith('got "lots"')
    assert (hooks_env.registry_calls(), hooks_env.api_calls()) == (0, 0)


SLOW_REPOSITORIES = {f"models/aim-{n:02d}": ["1.0.0"] for n in range(24)}


def slow_registry_hook(
    hooks_env: HookEnv, registry_factory: RegistryFactory
) -> tuple[HookClient, FaultProxy]:
    """`registry.test` with SLOW_REPOSITORIES, 60 ms a request and a 0.3 s scan deadline at
    concurrency 2: a wildcard over it needs several calls."""
    registry = registry_factory(plan=plan_from(SLOW_REPOSITORIES))
    proxy = hooks_env.stack.enter_context(FaultProxy("127.0.0.1", registry.port))
    proxy.set_rules([], latency_ms=60)
    hook = hooks_env.serve(
        Settings(
            registry=RegistrySettings(
                endpoints={"registry.test": proxy.url}, scan_deadline=0.3, concurrency=2
            )
        )
    )
    return hook, proxy


def test_a_scan_that_hits_its_deadline_continues_and_settles_ready(
    hooks_env: HookEnv, registry_factory: RegistryFactory
) -> None:
    repositories = SLOW_REPOSITORIES
    hook, proxy = slow_registry_hook(hooks_env, registry_factory)
    controller = start(hook, {"registry": "registry.test", "filters": [{"image": "models/aim-*"}]})

    first = controller.sync()
    assert first["status"]["status"] == "Progressing"
    assert 0 < len(first["children"]) < len(repositories)
    ready = condition(first["status"], "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ScanInProgress")
    assert first["resyncAfterSeconds"] == 1

    # Each call resumes after the last repository finished by the calls before it.
    boundaries: list[tuple[int, str]] = []
    while controller.status["status"] == "Progressing":
        progress = controller.status["scan"]["progress"]["filters"][0]
        boundaries.append((len(tags_requests(proxy)), progress["resumeAfter"]))
        controller.sync()
        assert len(controller.replies) < 20, "the scan never finished"
    controller.run()

    assert len(boundaries) >= 2
    status = controller.status
    assert status["status"] == "Ready"
    assert "progress" not in status["scan"]
    assert sorted(controller.children) == sorted(
        m["metadata"]["name"]
        for m in models("models", [("registry.test", r, "1.0.0") for r in repositories])
    )
    assert (status["discoveredModels"], status["availableModels"]) == (24, 24)
    asked = tags_requests(proxy)
    assert set(asked) == set(repositories)
    for count, resume_after in boundaries:
        again = [r for r in asked[count:] if r <= resume_after]
        assert again == [], f"listed again after {resume_after}: {again}"
    # Only a listing cut off by a deadline (at most `concurrency` at a time) is asked again.
    assert len(asked) <= len(repositories) + 2 * len(boundaries)


def test_an_image_two_filters_find_in_different_calls_is_counted_once(
    hooks_env: HookEnv, registry_factory: RegistryFactory
) -> None:
    """The exact filter finds the last repository in the first call; the wildcard reaches it
    calls later. availableModels counts images, not findings."""
    hook, _ = slow_registry_hook(hooks_env, registry_factory)
    filters = [{"image": "models/aim-23"}, {"image": "models/aim-*"}]
    controller = start(hook, {"registry": "registry.test", "filters": filters})

    first = controller.sync()
    assert first["status"]["status"] == "Progressing"
    assert first["status"]["scan"]["progress"]["filters"][0]["done"] is True
    controller.run()

    status = controller.status
    assert status["status"] == "Ready"
    assert len(controller.replies) > 2
    assert (status["discoveredModels"], status["availableModels"]) == (24, 24)
    assert status["modelsLimitReached"] is False


def test_max_models_limit_stops_creation_and_says_how_many_were_left_out(
    hook: HookClient,
) -> None:
    controller = start(hook, {"filters": [{"image": "amdenterpriseai/aim-llama3"}], "maxModels": 2})
    controller.run()
    status = controller.status
    newest = [LLAMA3_ALL[1], LLAMA3_ALL[0]]  # 1.0.0, 0.8.4 (semver first, newest first)
    assert controller.replies[0]["children"] == models("models", newest)
    assert (status["discoveredModels"], status["availableModels"]) == (2, 3)
    assert status["modelsLimitReached"] is True
    assert status["status"] == "Ready"
    limit = condition(status, "MaxModelsLimitReached")
    assert limit["message"] == (
        "Model creation limit reached (2 models created). 1 available images not created as models."
    )


def test_lowered_limit_keeps_every_child_and_creates_none(hook: HookClient) -> None:
    existing = models(
        "models", [("docker.io", "amdenterpriseai/aim-base", t) for t in ("0.1.0", "latest")]
    )
    existing += models("models", [LLAMA3])
    controller = start(
        hook,
        {"filters": [{"image": "amdenterpriseai/aim-*"}], "maxModels": 2},
        children=existing,
    )
    before = dict(controller.children)
    controller.run()
    assert controller.children == before
    status = controller.status
    assert status["discoveredModels"] == 3
    assert status["availableModels"] == 7
    assert status["modelsLimitReached"] is True
    limit = condition(status, "MaxModelsLimitReached")
    assert limit["message"] == (
        "Model creation limit reached (3 models created). 4 available images not created as models."
    )


def test_scan_is_not_repeated_before_it_is_due(hook: HookClient, hooks_env: HookEnv) -> None:
    controller = start(hook, {"filters": [{"image": "amdenterpriseai/aim-*"}]})
    controller.run()
    assert len(controller.replies) == 2  # the scan, then the sync its own status write causes
    calls = hooks_env.registry_calls(), hooks_env.api_calls()
    children = dict(controller.children)

    hooks_env.clock.advance(600)
    request = controller.request()
    reply = hook.sync(request)
    assert (hooks_env.registry_calls(), hooks_env.api_calls()) == calls
    assert encode_sorted(reply["status"]) == encode_sorted(request["parent"]["status"])
    assert reply["resyncAfterSeconds"] == 3000
    assert sorted(c["metadata"]["name"] for c in reply["children"]) == sorted(children)

    # A sync just before the interval ends still does not scan; just after, it does.
    hooks_env.clock.now = START + timedelta(seconds=3599)
    assert hook.sync(controller.request())["resyncAfterSeconds"] == 1
    assert hooks_env.registry_calls() == calls[0]
    hooks_env.clock.now = START + timedelta(seconds=3600)
    rescanned = hook.sync(controller.request())
    assert hooks_env.registry_calls() > calls[0]
    assert rescanned["status"]["lastSyncTime"] == "2026-08-20T11:00:00Z"
    assert rescanned["status"]["scan"]["nextScanTime"] == "2026-08-20T12:00:00Z"
    # Still Ready: no condition changed, so none has a new transition time.
    times = {c["lastTransitionTime"] for c in rescanned["status"]["conditions"]}
    assert times == {"2026-08-20T10:00:00Z"}


def test_a_model_deleted_by_hand_is_recreated_by_the_next_sync_and_never_counted_meanwhile(
    hook: HookClient, hooks_env: HookEnv
) -> None:
    controller = start(hook, {"filters": [{"image": "amdenterpriseai/aim-llama3"}]})
    controller.run()
    owned = controller.status["discoveredModels"]
    victim = model("models", LLAMA3)["metadata"]["name"]
    controller.delete_child(victim)
    calls = hooks_env.registry_calls()

    hooks_env.clock.advance(1800)
    reply = hook.sync(controller.request())
    assert hooks_env.registry_calls() > calls
    assert victim in [c["metadata"]["name"] for c in reply["children"]]
    assert reply["status"]["discoveredModels"] == len(reply["children"]) == owned


def test_a_model_that_cannot_be_recreated_backs_off_instead_of_scanning_in_a_loop(
    hook: HookClient, hooks_env: HookEnv
) -> None:
    controller = start(hook, {"filters": [{"image": "amdenterpriseai/aim-llama3"}]})
    controller.run()
    victim = model("models", LLAMA3)["metadata"]["name"]
    # The API server refuses the model every time (an admission webhook, a quota...).
    controller.delete_child(victim)
    hooks_env.clock.advance(30)
    request = controller.request()
    first = hook.sync(request)
    assert first["status"]["scan"]["recreateAttempts"] == 1
    request["parent"]["status"] = first["status"]
    again = hook.sync(request)
    # Not due again at once: the discovered count is what this answer holds, and no scan ran.
    assert (
        again["status"]["discoveredModels"]
        == len(again["children"])
        == len(request["children"][MODEL_GROUP])
    )
    assert again["status"]["scan"] == first["status"]["scan"]
    assert again["resyncAfterSeconds"] == 60
    hooks_env.clock.advance(60)
    third = hook.sync(request)
    assert third["status"]["scan"]["recreateAttempts"] == 2
    assert controller.status["discoveredModels"] == 3


def test_changed_spec_scans_at_once(hook: HookClient, hooks_env: HookEnv) -> None:
    controller = start(hook, {"filters": [{"image": "amdenterpriseai/aim-llama3:1.0.0"}]})
    controller.run()
    controller.parent["spec"]["filters"].append({"image": "amdenterpriseai/aim-base"})
    controller.parent["metadata"]["generation"] = 2
    controller.run()
    assert len(controller.children) == 3
    assert controller.status["observedGeneration"] == 2


def test_missing_explicit_config_fails_without_scanning_and_keeps_children(
    hook: HookClient, hooks_env: HookEnv
) -> None:
    existing = models("models", [LLAMA3], config_name="production")
    controller = start(
        hook,
        {"filters": [{"image": "amdenterpriseai/aim-llama3"}], "configName": "production"},
        children=existing,
    )
    reply = controller.run()
    status = reply["status"]
    assert status["status"] == "Failed"
    failure = condition(status, "Failure")
    assert (failure["status"], failure["reason"], failure["message"]) == (
        "True",
        "ObservationFailed",
        'failed to get AIMClusterConfig "production": not found',
    )
    assert [c["metadata"]["name"] for c in reply["children"]] == [existing[0]["metadata"]["name"]]
    assert (hooks_env.registry_calls(), hooks_env.api_calls()) == (0, 0)

    # The config appears: Metacontroller calls the sync again, which now scans.
    controller.related[CONFIG_GROUP]["production"] = config("production", {})
    controller.run()
    assert controller.status["status"] == "Ready"
    assert "Failure" not in condition_types(controller.status)
    resolved = condition(controller.status, "ConfigResolved")
    assert (resolved["status"], resolved["reason"]) == ("True", "ConfigFound")
    assert len(controller.children) == 3
    assert all(c["spec"]["configName"] == "production" for c in controller.children.values())


def test_missing_default_config_is_reported_and_the_scan_goes_on(
    hook: HookClient, hooks_env: HookEnv
) -> None:
    controller = start(hook, {"filters": [{"image": "amdenterpriseai/aim-llama3"}]})
    controller.run()
    status = controller.status
    assert status["status"] == "Ready"
    resolved = condition(status, "ConfigResolved")
    assert (resolved["status"], resolved["reason"], resolved["message"]) == (
        "False",
        "DefaultConfigNotFound",
        'AIMClusterConfig "default" not found, proceeding with defaults',
    )
    assert "configName" not in next(iter(controller.children.values()))["spec"]

    # The default config appears before the next scan is due: the changed input is scanned.
    calls = hooks_env.registry_calls()
    hooks_env.clock.advance(60)
    controller.related[CONFIG_GROUP]["default"] = config("default", {})
    controller.run()
    assert hooks_env.registry_calls() > calls
    assert condition(controller.status, "ConfigResolved")["reason"] == "ConfigFound"
    assert controller.status["lastSyncTime"] == "2026-08-20T10:01:00Z"


def test_config_status_writes_do_not_trigger_scans(hook: HookClient, hooks_env: HookEnv) -> None:
    """The config controller writes the config's status (a new resourceVersion); a source only
    depends on the config existing, so that must not cost a registry scan."""
    spec = {"filters": [{"image": "amdenterpriseai/aim-llama3"}], "configName": "production"}
    controller = start(hook, spec, related=[config("production", {})])
    controller.run()
    calls = hooks_env.registry_calls()
    controller.related[CONFIG_GROUP]["production"] = config(
        "production", {}, status={"status": "Ready"}, resource_version="60002"
    )
    controller.run()
    assert hooks_env.registry_calls() == calls


def test_pull_secret_credentials_reach_a_basic_auth_registry(hook: HookClient) -> None:
    spec = {
        "registry": "private.registry.io",
        "imagePullSecrets": [{"name": "creds"}],
        "filters": [{"image": "myorg/model-b"}],
    }
    auths = login("private.registry.io", PRIVATE_USER, PRIVATE_PASSWORD)
    controller = start(hook, spec, related=[secret("creds", auths)])
    controller.run()
    assert controller.status["status"] == "Ready"
    assert len(controller.children) == 2
    loaded = condition(controller.status, "PullSecretsResolved")
    assert (loaded["status"], loaded["message"]) == ("True", "1 pull secret(s) loaded")


def test_missing_pull_secret_is_reported(hook: HookClient) -> None:
    spec = {
        "registry": "private.registry.io",
        "imagePullSecrets": [{"name": "creds"}],
        "filters": [{"image": "myorg/model-b"}],
    }
    controller = start(hook, spec)
    controller.run()
    status = controller.status
    assert controller.children == {}
    assert status["status"] == "Failed"
    secrets = condition(status, "PullSecretsResolved")
    assert (secrets["status"], secrets["reason"]) == ("False", "SecretProblems")
    assert secrets["message"] == (
        'secret "creds" not found in namespace kaiwo-system (scanning without those credentials)'
    )
    assert condition(status, "Degraded")["message"].endswith(
        "private.registry.io requires a username and password, "
        "and imagePullSecrets have none for private.registry.io"
    )


def test_wrong_pull_secret_password_is_the_filter_error(hook: HookClient) -> None:
    spec = {
        "registry": "private.registry.io",
        "imagePullSecrets": [{"name": "creds"}],
        "filters": [{"image": "myorg/model-b"}],
    }
    auths = login("private.registry.io", PRIVATE_USER, "not-the-password-7f3a")
    controller = start(hook, spec, related=[secret("creds", auths)])
    controller.run()
    message = condition(controller.status, "Degraded")["message"]
    assert controller.status["status"] == "Failed"
    assert "refused the credentials in imagePullSecrets" in message
    assert "not-the-password-7f3a" not in json.dumps(controller.status)


def test_rate_limit_longer_than_the_deadline_schedules_the_next_scan_after_it(
    hook: HookClient, hooks_env: HookEnv
) -> None:
    hooks_env.proxy.set_rules(
        [{"match": "tags/list", "action": "status", "status": 429, "retry_after": 600}]
    )
    controller = start(hook, {"filters": [{"image": "amdenterpriseai/aim-llama3"}]})
    reply = controller.run()
    # Nothing is known to be wrong yet: the first scan waits for the registry (Pending).
    assert controller.status["status"] == "Pending"
    assert controller.status["scan"]["nextScanTime"] == "2026-08-20T10:10:00Z"
    assert reply["resyncAfterSeconds"] == 600


def test_not_due_sync_returns_a_thousand_children_unchanged(hook: HookClient) -> None:
    controller = start(hook, {"filters": [{"image": "amdenterpriseai/aim-llama3"}]})
    controller.run()
    parent = controller.parent
    many = {
        c["metadata"]["name"]: observed_child(c, parent, i)
        for i, c in enumerate(
            models(
                "models", [("docker.io", "amdenterpriseai/aim-x", f"1.0.{n}") for n in range(1000)]
            ),
            1,
        )
    }
    reply = hook.sync(sync_request(parent, many, controller.related))
    assert len(reply["children"]) == 1000
    assert reply["status"] == {**parent["status"], "discoveredModels": 1000}


def test_a_fixed_spec_is_scanned_at_once_and_replaces_the_failed_status(
    hook: HookClient, hooks_env: HookEnv
) -> None:
    spec = {"filters": [{"image": "amdenterpriseai/aim-llama3"}]}
    controller = start(hook, spec)
    controller.run()
    hooks_env.clock.advance(300)
    controller.parent["spec"] = {**spec, "maxModels": 0}
    controller.parent["metadata"]["generation"] = 2
    controller.run()
    assert controller.status["status"] == "Failed"
    calls = hooks_env.registry_calls()

    hooks_env.clock.advance(300)
    controller.parent["spec"] = spec
    controller.parent["metadata"]["generation"] = 3
    controller.run()
    status = controller.status
    assert status["status"] == "Ready"
    assert hooks_env.registry_calls() > calls
    assert {c["observedGeneration"] for c in status["conditions"]} == {3}
    assert condition(status, "Ready")["reason"] == "AllFiltersSucceeded"


def test_an_unexpected_failure_keeps_every_child_and_retries_later(hooks_env: HookEnv) -> None:
    def broken_scan(targets: Any, keychain: Any) -> Any:
        raise RuntimeError("a bug in the scanner")

    hook = hooks_env.serve(scan=broken_scan)
    existing = models("models", LLAMA3_ALL)
    controller = start(hook, {"filters": [{"image": "amdenterpriseai/aim-*"}]}, children=existing)
    before = dict(controller.children)
    reply = controller.sync()
    assert controller.children == before
    assert reply["status"]["status"] == "Failed"
    assert reply["status"]["discoveredModels"] == 3
    assert condition(reply["status"], "Ready")["reason"] == "InternalError"
    assert reply["resyncAfterSeconds"] == 60
