"""Sync paths where two features meet: the config's pull secrets, a pruned `status.scan`, a
source being deleted, a first scan that waits for a registry, a huge interval.

Each runs the hook service over HTTP against the real registries of `hooks_env`; the
Metacontroller emulator asks the customize hook which objects to relate where that matters.
"""

import json
from datetime import timedelta
from typing import Any

from tests.hooks.conftest import PRIVATE_PASSWORD, PRIVATE_USER, START, HookEnv
from tests.hooks.emulator import HookClient, Metacontroller
from tests.hooks.expected import condition
from tests.hooks.wire import config, login, secret, source, sync_request

PRIVATE = {"registry": "private.registry.io", "filters": [{"image": "myorg/model-b"}]}
WRONG = "not-the-password-5c1d"


def emulate(
    hook: HookClient, spec: dict[str, Any], cluster: list[dict[str, Any]]
) -> Metacontroller:
    """Metacontroller for the source `models`, relating objects of `cluster` by customize."""
    return Metacontroller(hook, source("models", spec), cluster=cluster)


def test_the_config_pull_secrets_are_asked_for_and_then_scanned_with(hook: HookClient) -> None:
    creds = secret("config-creds", login("private.registry.io", PRIVATE_USER, PRIVATE_PASSWORD))
    default = config("default", {"imagePullSecrets": [{"name": "config-creds"}]})
    controller = emulate(hook, PRIVATE, [default, creds])

    first = controller.sync()
    assert "config-creds" in condition(first["status"], "PullSecretsResolved")["message"]
    assert first["status"]["scan"]["configPullSecrets"] == ["config-creds"]
    controller.run()

    assert controller.status["status"] == "Ready"
    assert controller.status["discoveredModels"] == 2
    assert condition(controller.status, "PullSecretsResolved")["message"] == (
        "1 pull secret(s) loaded"
    )


def test_the_source_pull_secret_wins_over_the_config_one_for_the_same_host(
    hook: HookClient,
) -> None:
    own = secret("own", login("private.registry.io", PRIVATE_USER, PRIVATE_PASSWORD))
    inherited = secret("inherited", login("private.registry.io", PRIVATE_USER, WRONG))
    default = config("default", {"imagePullSecrets": [{"name": "inherited"}]})
    spec = {**PRIVATE, "imagePullSecrets": [{"name": "own"}]}
    controller = emulate(hook, spec, [default, own, inherited])

    controller.run()

    assert controller.status["status"] == "Ready"
    assert WRONG not in json.dumps(controller.status)


def test_a_pruned_status_scan_gates_on_last_sync_time_and_never_loops(
    hook: HookClient, hooks_env: HookEnv
) -> None:
    controller = emulate(hook, {"filters": [{"image": "amdenterpriseai/aim-llama3"}]}, [])
    controller.prunes_scan = True
    controller.run()
    calls = hooks_env.registry_calls()
    assert controller.status["status"] == "Ready" and "scan" not in controller.status

    hooks_env.clock.advance(1800)
    reply = controller.run()
    assert hooks_env.registry_calls() == calls
    assert reply["resyncAfterSeconds"] == 1800
    hooks_env.clock.advance(1800)
    controller.run()
    assert hooks_env.registry_calls() > calls
    assert controller.status["lastSyncTime"] == "2026-08-20T11:00:00Z"


def test_a_pruned_status_scan_still_scans_a_changed_spec(
    hook: HookClient, hooks_env: HookEnv
) -> None:
    controller = emulate(hook, {"filters": [{"image": "amdenterpriseai/aim-llama3"}]}, [])
    controller.prunes_scan = True
    controller.run()
    controller.parent["spec"] = {"filters": [{"image": "amdenterpriseai/aim-mistral-7b"}]}
    controller.parent["metadata"]["generation"] = 2

    controller.run()

    assert controller.status["discoveredModels"] == 4
    assert controller.status["observedGeneration"] == 2


def test_a_source_being_deleted_is_not_scanned_and_keeps_its_models(
    hook: HookClient, hooks_env: HookEnv
) -> None:
    controller = emulate(hook, {"filters": [{"image": "amdenterpriseai/aim-llama3"}]}, [])
    controller.run()
    calls = hooks_env.registry_calls()
    controller.parent["metadata"]["deletionTimestamp"] = "2026-08-20T10:30:00Z"
    hooks_env.clock.advance(7200)

    reply = hook.sync(controller.request())

    assert hooks_env.registry_calls() == calls
    assert len(reply["children"]) == len(controller.children) == 3
    assert reply["status"]["discoveredModels"] == 3


def test_a_huge_sync_interval_never_overflows_go_durations(hook: HookClient) -> None:
    spec = {"syncInterval": "2000000h", "filters": [{"image": "amdenterpriseai/aim-llama3"}]}
    request = sync_request(source("models", spec), {}, {})

    reply = hook.sync(request)

    assert reply["resyncAfterSeconds"] == 365 * 86400
    assert reply["resyncAfterSeconds"] * 10**9 < 2**63


def test_a_first_scan_waiting_for_a_rate_limit_is_pending_and_a_later_one_failed(
    hook: HookClient, hooks_env: HookEnv
) -> None:
    controller = emulate(hook, {"filters": [{"image": "amdenterpriseai/aim-llama3"}]}, [])
    hooks_env.proxy.set_rules(
        [{"match": "tags/list", "action": "status", "status": 429, "retry_after": 600}]
    )
    controller.run()
    assert controller.status["status"] == "Pending"
    assert controller.status["discoveredModels"] == 0

    hooks_env.proxy.set_rules([])
    hooks_env.clock.advance(600)
    controller.run()
    assert controller.status["status"] == "Ready"

    hooks_env.proxy.set_rules(
        [{"match": "tags/list", "action": "status", "status": 429, "retry_after": 600}]
    )
    hooks_env.clock.now = START + timedelta(hours=2)
    controller.run()
    assert controller.status["status"] == "Failed"


def test_a_sync_interval_under_15m_is_noted_in_the_ready_message(hook: HookClient) -> None:
    spec = {"syncInterval": "5m", "filters": [{"image": "amdenterpriseai/aim-llama3"}]}
    controller = emulate(hook, spec, [])

    controller.run()

    assert condition(controller.status, "Ready")["message"] == (
        "Successfully discovered 3 model(s) from 1 filter(s); note: syncInterval 5m is under the "
        "recommended minimum of 15m: every scan queries the registries, which may rate-limit them"
    )


def test_when_max_models_bites_the_ready_message_counts_images_not_models(
    hook: HookClient,
) -> None:
    controller = emulate(
        hook, {"maxModels": 2, "filters": [{"image": "amdenterpriseai/aim-llama3"}]}, []
    )

    controller.run()

    assert controller.status["discoveredModels"] == 2
    ready = condition(controller.status, "Ready")
    assert (ready["reason"], ready["message"]) == (
        "AllFiltersSucceeded",
        "Successfully discovered 3 matching image(s) from 1 filter(s); 1 not created as models "
        "because of maxModels",
    )


def test_a_model_deleted_under_a_status_from_before_answered_models_is_recreated_too(
    hook: HookClient, hooks_env: HookEnv
) -> None:
    controller = emulate(hook, {"filters": [{"image": "amdenterpriseai/aim-llama3"}]}, [])
    controller.run()
    del controller.parent["status"]["scan"]["answeredModels"]
    controller.delete_child(sorted(controller.children)[0])
    calls = hooks_env.registry_calls()
    hooks_env.clock.advance(1800)

    controller.run()

    assert hooks_env.registry_calls() > calls
    assert len(controller.children) == controller.status["discoveredModels"] == 3
