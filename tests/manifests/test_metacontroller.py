"""The Metacontroller install in metacontroller/: valid for Metacontroller, wired to our hooks."""

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from jsonschema.protocols import Validator

from tests.manifests import crdschema
from tests.manifests.conftest import kustomization_resources
from tests.shared import shared_path

NAME = "aim-model-source-hooks"
NAMESPACE = "kaiwo-system"
SOURCE_CONTROLLER = ("CompositeController", "aim-clustermodelsource-controller")
CONFIG_CONTROLLER = ("CompositeController", "aim-clusterconfig-controller")
NAMESPACED_SOURCE_CONTROLLER = ("CompositeController", "aim-modelsource-controller")
NAMESPACE_CONFIG_CONTROLLER = ("CompositeController", "aim-namespaceconfig-controller")
HOOK_PATHS = {
    SOURCE_CONTROLLER: {"sync": "/sync/modelsource", "customize": "/customize/modelsource"},
    CONFIG_CONTROLLER: {"sync": "/sync/config", "customize": "/customize/config"},
    NAMESPACED_SOURCE_CONTROLLER: {
        "sync": "/sync/namespaced-modelsource",
        "customize": "/customize/namespaced-modelsource",
    },
    NAMESPACE_CONFIG_CONTROLLER: {
        "sync": "/sync/namespaceconfig",
        "customize": "/customize/namespaceconfig",
    },
}
CONTROLLERS = list(HOOK_PATHS)
# The sync hook's registry scan stops at this deadline by default; the webhook must wait longer.
SCAN_DEADLINE_SECONDS = 20.0

Install = dict[tuple[str, str], dict[str, Any]]


@pytest.fixture(scope="module")
def compositecontroller_check() -> Validator:
    (crd,) = crdschema.load_file(shared_path("metacontroller/crds/compositecontrollers.crd.yaml"))
    return crdschema.crd_validator(crd)


def container(install: Install) -> dict[str, Any]:
    (only,) = install[("Deployment", NAME)]["spec"]["template"]["spec"]["containers"]
    result: dict[str, Any] = only
    return result


def uncommented(path: Path, first_line: str, occurrence: int = 0) -> Any:
    """A commented-out YAML block of a manifest, from the `occurrence`th `first_line` on,
    uncommented and parsed."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = [i for i, line in enumerate(lines) if line.strip() == first_line][occurrence]
    prefix = lines[start][: lines[start].index("#")] + "# "
    block = []
    for line in lines[start:]:
        if not line.startswith(prefix):
            break
        block.append(line.removeprefix(prefix))
    (parsed,) = crdschema.load_documents("\n".join(block))
    return parsed


def test_kustomizations_list_files_that_exist(project: Path) -> None:
    for directory in ("crds", "metacontroller"):
        files = kustomization_resources(project / directory)
        assert files and all(path.is_file() for path in files), files


def test_install_holds_the_hooks_and_controllers_only(install: Install) -> None:
    """No CRDs (crds/), no Namespace (the AIM operator's), no Metacontroller (installed apart);
    the NetworkPolicy that fences the hooks in."""
    assert set(install) == {
        *CONTROLLERS,
        ("Deployment", NAME),
        ("Service", NAME),
        ("NetworkPolicy", NAME),
    }


@pytest.mark.parametrize("key", CONTROLLERS, ids=lambda key: key[1])
def test_controller_is_valid_for_metacontroller(
    install: Install, compositecontroller_check: Validator, key: tuple[str, str]
) -> None:
    controller = install[key]
    assert controller["apiVersion"] == "metacontroller.k8s.io/v1alpha1"
    assert "namespace" not in controller["metadata"]  # cluster-scoped
    assert crdschema.errors(compositecontroller_check, controller) == []


@pytest.mark.parametrize("key", CONTROLLERS, ids=lambda key: key[1])
def test_optional_bearer_token_block_is_valid_once_uncommented(
    project: Path, install: Install, compositecontroller_check: Validator, key: tuple[str, str]
) -> None:
    path = next(
        path
        for path in kustomization_resources(project / "metacontroller")
        if crdschema.load_file(path)[0]["metadata"]["name"] == key[1]
    )
    (endpoint,) = uncommented(path, "# endpointConfigs:")["endpointConfigs"]
    controller = install[key]
    enabled = {**controller, "spec": {**controller["spec"], "endpointConfigs": [endpoint]}}
    assert crdschema.errors(compositecontroller_check, enabled) == []
    hook_hosts = {
        urlsplit(hook["webhook"]["url"]).netloc for hook in controller["spec"]["hooks"].values()
    }
    assert hook_hosts == {endpoint["host"]}
    assert endpoint["authorization"]["secretRef"] == {
        "name": f"{NAME}-token",
        "namespace": NAMESPACE,
        "key": "token-1",
    }
    # The hook server reads the tokens it accepts from the same Secret, mounted as a file (not
    # by subPath, which the kubelet never updates: a rotation needs the file to change).
    deployment = project / "metacontroller" / "deployment.yaml"
    (token_env,) = uncommented(deployment, "# - name: AIM_HOOK_TOKEN_FILE")
    (mount,) = uncommented(deployment, "# - name: hook-token")
    (volume,) = uncommented(deployment, "# - name: hook-token", occurrence=1)
    assert volume["secret"] == {
        "secretName": f"{NAME}-token",
        "items": [{"key": "tokens", "path": "tokens"}],
    }
    assert "subPath" not in mount and mount["readOnly"] is True
    assert token_env["value"] == f"{mount['mountPath']}/tokens"


def test_controllers_manage_our_resources(
    install: Install, crds: dict[str, dict[str, Any]]
) -> None:
    def served(kind: str) -> dict[str, str]:
        crd = crds[kind]
        (version,) = crd["spec"]["versions"]
        api_version = f"{crd['spec']['group']}/{version['name']}"
        return {"apiVersion": api_version, "resource": crd["spec"]["names"]["plural"]}

    source = install[SOURCE_CONTROLLER]["spec"]
    config = install[CONFIG_CONTROLLER]["spec"]
    assert source["parentResource"] == served("AIMClusterModelSource")
    assert source["childResources"] == [
        {**served("AIMClusterModel"), "updateStrategy": {"method": "OnDelete"}}
    ]
    assert config["parentResource"] == served("AIMClusterConfig")
    assert "childResources" not in config
    namespaced = install[NAMESPACED_SOURCE_CONTROLLER]["spec"]
    assert namespaced["parentResource"] == served("AIMModelSource")
    assert namespaced["childResources"] == [
        {**served("AIMModel"), "updateStrategy": {"method": "OnDelete"}}
    ]
    namespace_config = install[NAMESPACE_CONFIG_CONTROLLER]["spec"]
    assert namespace_config["parentResource"] == served("AIMNamespaceConfig")
    assert "childResources" not in namespace_config


@pytest.mark.parametrize("key", CONTROLLERS, ids=lambda key: key[1])
def test_controller_generates_its_selector_and_resyncs_through_the_hook(
    install: Install, key: tuple[str, str]
) -> None:
    spec = install[key]["spec"]
    # Neither parent has spec.selector: without a generated one every sync fails.
    assert spec["generateSelector"] is True
    # The sync hook returns resyncAfterSeconds; sources are append-only (no finalizer).
    assert "resyncPeriodSeconds" not in spec
    assert set(spec["hooks"]) == {"sync", "customize"}


@pytest.mark.parametrize("key", CONTROLLERS, ids=lambda key: key[1])
def test_hooks_are_v2_webhooks_on_the_hook_service(install: Install, key: tuple[str, str]) -> None:
    service = install[("Service", NAME)]
    (port,) = service["spec"]["ports"]
    hooks = install[key]["spec"]["hooks"]
    for hook_name, path in HOOK_PATHS[key].items():
        hook = hooks[hook_name]
        assert hook["version"] == "v2", hook_name
        url = urlsplit(hook["webhook"]["url"])
        assert url.scheme == "http"
        assert url.hostname == f"{service['metadata']['name']}.{service['metadata']['namespace']}"
        assert (url.port or 80) == port["port"]
        assert url.path == path
        assert (url.query, url.fragment) == ("", "")
        assert crdschema.parse_go_duration(hook["webhook"]["timeout"]) > 0


@pytest.mark.parametrize(
    "key", [SOURCE_CONTROLLER, NAMESPACED_SOURCE_CONTROLLER], ids=lambda key: key[1]
)
def test_source_sync_waits_longer_than_the_scan_deadline(
    install: Install, key: tuple[str, str]
) -> None:
    timeout = install[key]["spec"]["hooks"]["sync"]["webhook"]["timeout"]
    assert crdschema.parse_go_duration(timeout) > SCAN_DEADLINE_SECONDS


def test_hook_server_runs_locked_down(install: Install) -> None:
    pod = install[("Deployment", NAME)]["spec"]["template"]["spec"]
    hooks = container(install)

    def effective(setting: str) -> Any:
        """A container setting overrides the pod's, as the kubelet applies them."""
        return hooks.get("securityContext", {}).get(
            setting, pod.get("securityContext", {}).get(setting)
        )

    assert effective("runAsNonRoot") is True
    assert effective("runAsUser") == 10001
    assert effective("seccompProfile") == {"type": "RuntimeDefault"}
    assert hooks["securityContext"]["allowPrivilegeEscalation"] is False
    assert hooks["securityContext"]["readOnlyRootFilesystem"] is True
    assert hooks["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    # The hooks never call the Kubernetes API.
    assert pod["automountServiceAccountToken"] is False
    assert "serviceAccountName" not in pod


def test_read_only_pod_gets_a_writable_tmp(install: Install) -> None:
    pod = install[("Deployment", NAME)]["spec"]["template"]["spec"]
    mounts = {mount["mountPath"]: mount["name"] for mount in container(install)["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]


def test_hook_server_is_probed_and_reachable_through_the_service(install: Install) -> None:
    deployment = install[("Deployment", NAME)]
    service = install[("Service", NAME)]
    hooks = container(install)
    (port,) = hooks["ports"]
    (service_port,) = service["spec"]["ports"]
    assert (port["name"], port["containerPort"]) == ("http", 8080)
    assert service_port["targetPort"] == port["name"]
    assert hooks["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert hooks["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    assert deployment["metadata"]["namespace"] == service["metadata"]["namespace"] == NAMESPACE


def test_hook_server_knows_the_operator_namespace_and_has_bounded_resources(
    install: Install,
) -> None:
    hooks = container(install)
    env = {entry["name"]: entry.get("value") for entry in hooks["env"]}
    assert env["AIM_OPERATOR_NAMESPACE"] == NAMESPACE
    assert hooks["resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    }
    assert re.fullmatch(r"ghcr\.io/silogen/aim-model-source-hooks:[\w.-]+", hooks["image"])
    # The image's ENTRYPOINT starts gunicorn; overriding it here would bypass its settings.
    assert "command" not in hooks and "args" not in hooks
