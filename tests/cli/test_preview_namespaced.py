"""`preview` and `replay` of an AIMModelSource: the namespaced request, secrets of its namespace.

A team previews its source as the service would sync it: the sync request is the one
Metacontroller v4.17.2 sends for a namespaced parent (v2 keys, AIMModel children), its pull
secrets are read from the source's namespace only, and `--emit-request` feeds `replay`.
"""

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hooks.replay import infer_hook
from tests.cli.runner import HooksCLI, cli_env
from tests.cli.test_preview import PLAN, docker_config, pull_secret, write, write_json
from tests.harness.registry import BasicAuth, Registry, RegistryFactory


def team_source(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "aim.silogen.ai/v1alpha1",
        "kind": "AIMModelSource",
        "metadata": {"name": "team-models", "namespace": "team-a"},
        "spec": spec,
    }


def team_secret(registry: Registry, namespace: str) -> dict[str, Any]:
    secret = pull_secret(
        "team-creds",
        stringData={".dockerconfigjson": docker_config(registry, "alice", "wonderland")},
    )
    secret["metadata"]["namespace"] = namespace
    return secret


def run(
    hooks_cli: HooksCLI, registry: Registry, *args: str | Path
) -> subprocess.CompletedProcess[str]:
    return hooks_cli(*args, env=cli_env(AIM_INSECURE_REGISTRIES=registry.host))


@pytest.mark.parametrize("namespace", ["team-a", "kaiwo-system", "team-b"])
def test_a_team_source_reads_its_secret_from_its_own_namespace_only(
    hooks_cli: HooksCLI, registry_factory: RegistryFactory, tmp_path: Path, namespace: str
) -> None:
    registry = registry_factory(plan=PLAN, auth=BasicAuth({"alice": "wonderland"}))
    manifest = write(
        tmp_path / "source.yaml",
        team_secret(registry, namespace),
        team_source(
            imagePullSecrets=[{"name": "team-creds"}],
            filters=[{"image": f"{registry.host}/demo/aim-mistral"}],
        ),
    )

    result = run(hooks_cli, registry, "preview", manifest, "-o", "json")

    (report,) = json.loads(result.stdout)["sources"]
    assert (report["kind"], report["namespace"]) == ("AIMModelSource", "team-a")
    if namespace == "team-a":
        assert (result.returncode, report["filters"][0]["outcome"]) == (0, "ok")
        assert report["notes"] == []
    else:
        assert (result.returncode, report["filters"][0]["outcome"]) == (1, "error")
        (note,) = report["notes"]
        assert f"is in namespace {namespace}, not in the source's namespace team-a" in note


def test_emit_request_is_the_namespaced_request_and_replays(
    hooks_cli: HooksCLI, registry_factory: RegistryFactory, tmp_path: Path
) -> None:
    registry = registry_factory(plan=PLAN, auth=BasicAuth({"alice": "wonderland"}))
    manifest = write(
        tmp_path / "source.yaml",
        team_secret(registry, "team-a"),
        team_secret(registry, "kaiwo-system"),
        team_source(
            imagePullSecrets=[{"name": "team-creds"}],
            filters=[{"image": f"{registry.host}/demo/aim-mistral"}],
        ),
    )

    result = run(hooks_cli, registry, "preview", manifest, "--emit-request")
    request = json.loads(result.stdout)
    replayed = run(hooks_cli, registry, "replay", write_json(tmp_path / "request.json", request))

    assert result.returncode == 0, result.stderr
    assert request["parent"]["metadata"]["namespace"] == "team-a"
    assert request["controller"]["metadata"]["name"] == "aim-modelsource-controller"
    assert request["children"] == {"AIMModel.aim.silogen.ai/v1alpha1": {}}
    assert sorted(request["related"]["Secret.v1"]) == ["team-a/team-creds"]
    assert infer_hook(request) == "namespaced-modelsource-sync"
    assert replayed.returncode == 0, replayed.stderr
    answer = json.loads(replayed.stdout)
    assert answer["status"]["discoveredModels"] == 1
    (child,) = answer["children"]
    assert (child["kind"], child["metadata"]["namespace"]) == ("AIMModel", "team-a")
