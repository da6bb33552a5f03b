"""Every example with filters in model-sources.md, synced through the hook against real registries.

Each test loads the example from its file under examples/model-sources/ and is named after its
heading. The example's source is synced the way Metacontroller does it (`metacontroller_loop`:
answers fed back until nothing changes); the test then checks the models created (exact objects)
and the final status. The examples' Secrets hold placeholder credentials; the tests replace them
with working credentials for the test registries. docker.io and ghcr.io hold the same
repositories here (`PUBLIC_IMAGES`), the Docker Hub API lists the docker.io namespaces and the
GitHub API the ghcr.io owners; private.registry.io is a registry with Basic auth.
"""

from typing import Any

from tests.examples.files import example_documents
from tests.hooks.conftest import (
    GITHUB_TOKEN,
    GITHUB_USER,
    PRIVATE_IMAGES,
    PRIVATE_PASSWORD,
    PRIVATE_USER,
    PUBLIC_IMAGES,
    HookEnv,
)
from tests.hooks.emulator import HookClient, Metacontroller, metacontroller_loop
from tests.hooks.expected import Image, condition, images, models
from tests.hooks.wire import login, secret, source, source_related, sync_request

# What the examples' Secret placeholders stand for.
CREDENTIALS = {
    "ghcr-secret": login("ghcr.io", GITHUB_USER, GITHUB_TOKEN),
    "private-registry-creds": login("private.registry.io", PRIVATE_USER, PRIVATE_PASSWORD),
}


def run_example(hook: HookClient, documents: list[dict[str, Any]]) -> Metacontroller:
    """Sync an example's source until stable, its Secrets holding the test registries' logins."""
    secrets = [
        secret(doc["metadata"]["name"], CREDENTIALS[doc["metadata"]["name"]])
        for doc in documents
        if doc["kind"] == "Secret"
    ]
    (parent,) = [doc for doc in documents if doc["kind"] != "Secret"]
    spec = parent["spec"]
    return metacontroller_loop(
        hook,
        sync_request(source(parent["metadata"]["name"], spec), {}, source_related(spec, secrets)),
    )


def example(name: str) -> list[dict[str, Any]]:
    """The documents of examples/model-sources/NAME.yaml."""
    return example_documents(f"model-sources/{name}.yaml")


def with_ghcr_secret(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An example whose source also names the pull secret `ghcr-secret`, and that Secret."""
    (parent,) = [doc for doc in documents if doc["kind"] != "Secret"]
    parent["spec"]["imagePullSecrets"] = [{"name": "ghcr-secret"}]
    return [*documents, {"kind": "Secret", "metadata": {"name": "ghcr-secret"}}]


def tagged(registry: str, repository: str, *tags: str) -> list[Image]:
    """Images of one repository, the tags given or else every tag it has."""
    held = PRIVATE_IMAGES if registry == "private.registry.io" else PUBLIC_IMAGES
    return images(registry, {repository: tags or held[repository]})


def assert_ready_with(
    controller: Metacontroller, expected: list[Image], filters: int, **options: Any
) -> None:
    """The first sync created exactly these models; the source settled Ready with them."""
    name = controller.parent["metadata"]["name"]
    assert controller.replies[0]["children"] == models(name, expected, **options)
    assert sorted(controller.children) == [m["metadata"]["name"] for m in models(name, expected)]
    status = controller.status
    assert status["status"] == "Ready"
    assert status["discoveredModels"] == len(expected)
    assert status["availableModels"] == len(expected)
    assert status["modelsLimitReached"] is False
    assert status["lastSyncTime"] == "2026-08-20T10:00:00Z"
    ready = condition(status, "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "AllFiltersSucceeded")
    assert (
        ready["message"]
        == f"Successfully discovered {len(expected)} model(s) from {filters} filter(s)"
    )
    degraded = condition(status, "Degraded")
    assert (degraded["status"], degraded["reason"]) == ("False", "AllFiltersSucceeded")
    limit = condition(status, "MaxModelsLimitReached")
    assert (limit["status"], limit["reason"]) == ("False", "LimitNotReached")
    assert controller.deleted == []


AMD_AIM = [
    *tagged("docker.io", "amdenterpriseai/aim-llama3"),
    *tagged("docker.io", "amdenterpriseai/aim-mistral-7b"),
]
AMD_BASE = tagged("docker.io", "amdenterpriseai/aim-base")
AMD_EXPERIMENTAL = tagged("docker.io", "amdenterpriseai/aim-experimental")
GHCR_SILOGEN_AIM = [
    *tagged("ghcr.io", "silogen/aim-llama"),
    *tagged("ghcr.io", "silogen/aim-mistral"),
    *tagged("ghcr.io", "silogen/aim-google-gemma-3-1b-it"),
]


def test_basic_example(hook: HookClient) -> None:
    controller = run_example(hook, example("basic-example"))
    assert_ready_with(controller, AMD_AIM + AMD_BASE + AMD_EXPERIMENTAL, filters=1)


def test_repository_patterns(hook: HookClient) -> None:
    controller = run_example(hook, example("repository-patterns"))
    assert_ready_with(controller, AMD_AIM + AMD_BASE + AMD_EXPERIMENTAL, filters=1)


def test_repository_with_specific_tag(hook: HookClient) -> None:
    controller = run_example(hook, example("repository-with-specific-tag"))
    assert_ready_with(controller, [("docker.io", "silogen/aim-llama", "1.0.0")], filters=1)


def test_full_uri(hook: HookClient) -> None:
    controller = run_example(hook, example("full-uri"))
    expected = [("ghcr.io", "silogen/aim-google-gemma-3-1b-it", "0.8.1-rc1")]
    assert_ready_with(controller, expected, filters=1)


def test_full_uri_with_wildcard(hook: HookClient, hooks_env: HookEnv) -> None:
    """As written (no pull secret) ghcr.io cannot be listed: a clear error saying how to fix it."""
    controller = run_example(hook, example("full-uri-with-wildcard"))
    status = controller.status
    assert controller.children == {}
    assert status["status"] == "Failed"
    degraded = condition(status, "Degraded")
    assert degraded["reason"] == "AllFiltersFailed"
    assert degraded["message"].startswith('All filters failed: filter "silogen/aim-*": ')
    assert "needs a GitHub token" in degraded["message"]
    assert "imagePullSecrets" in degraded["message"]
    assert hooks_env.github.requests == []


def test_full_uri_with_wildcard_and_a_ghcr_token(hook: HookClient) -> None:
    controller = run_example(hook, with_ghcr_secret(example("full-uri-with-wildcard")))
    assert_ready_with(controller, GHCR_SILOGEN_AIM, filters=1, pull_secrets=["ghcr-secret"])


def test_global_version_constraints(hook: HookClient) -> None:
    controller = run_example(hook, example("global-version-constraints"))
    expected = [
        *tagged("ghcr.io", "silogen/aim-llama", "1.0.0", "1.1.0"),
        *tagged("ghcr.io", "silogen/aim-mistral", "1.5.0"),
    ]
    assert_ready_with(controller, expected, filters=2)


def test_per_filter_version_constraints(hook: HookClient) -> None:
    controller = run_example(hook, example("per-filter-version-constraints"))
    expected = [
        *tagged("ghcr.io", "silogen/aim-llama", "2.0.0", "2.1.0-rc1"),
        *tagged("ghcr.io", "silogen/aim-mistral", "1.5.0", "2.0.0"),
    ]
    assert_ready_with(controller, expected, filters=2)


def test_exclusions(hook: HookClient) -> None:
    controller = run_example(hook, example("exclusions"))
    assert_ready_with(controller, AMD_AIM, filters=1)


def test_private_registries(hook: HookClient, hooks_env: HookEnv) -> None:
    controller = run_example(hook, example("private-registries"))
    expected = tagged("ghcr.io", "myorg/private-model-x")
    assert_ready_with(controller, expected, filters=1, pull_secrets=["ghcr-secret"])
    listing = hooks_env.github.requests[0]
    assert listing.path == "/orgs/myorg/packages"
    assert listing.headers["authorization"].endswith(GITHUB_TOKEN)


def test_max_models_limit(hook: HookClient) -> None:
    controller = run_example(hook, example("max-models-limit"))
    status = controller.status
    # The documentation's example status, to the letter.
    assert status["status"] == "Ready"
    assert status["discoveredModels"] == 100
    assert status["availableModels"] == 250
    assert status["modelsLimitReached"] is True
    limit = condition(status, "MaxModelsLimitReached")
    assert limit["status"] == "True"
    assert limit["reason"] == "LimitReached"
    assert limit["message"] == (
        "Model creation limit reached (100 models created). "
        "150 available images not created as models."
    )
    # Filter order, then repository name, then newest first: the first two repositories, whole.
    newest = [
        *tagged("docker.io", "org/very-broad-pattern-1"),
        *tagged("docker.io", "org/very-broad-pattern-2"),
    ]
    assert controller.replies[0]["children"] == models("max-models-limit", newest)


def test_docker_hub_with_wildcards(hook: HookClient) -> None:
    controller = run_example(hook, example("docker-hub-with-wildcards"))
    assert_ready_with(controller, AMD_AIM + AMD_EXPERIMENTAL, filters=1)
    assert controller.status["scan"]["nextScanTime"] == "2026-08-20T12:00:00Z"


def test_github_container_registry_with_version_constraints(hook: HookClient) -> None:
    controller = run_example(hook, example("github-container-registry-with-version-constraints"))
    expected = [
        *tagged("ghcr.io", "silogen/aim-llama", "1.0.0", "1.1.0"),
        *tagged("ghcr.io", "silogen/aim-mistral", "1.5.0"),
    ]
    assert_ready_with(controller, expected, filters=2)


def test_multiple_registries(hook: HookClient) -> None:
    """As written (no pull secret) the ghcr.io wildcard fails: Degraded, docker.io models made."""
    controller = run_example(hook, example("multiple-registries"))
    status = controller.status
    created = AMD_AIM + AMD_BASE + AMD_EXPERIMENTAL
    assert controller.replies[0]["children"] == models("multi-registry-models", created)
    assert status["status"] == "Degraded"
    assert status["discoveredModels"] == status["availableModels"] == len(created)
    ready = condition(status, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "SomeFiltersHadErrors")
    assert ready["message"] == "1 of 2 filter(s) failed"
    degraded = condition(status, "Degraded")
    assert (degraded["status"], degraded["reason"]) == ("True", "SomeFiltersHadErrors")
    assert degraded["message"].startswith('1 filter(s) failed: filter "ghcr.io/silogen/aim-*": ')
    assert "needs a GitHub token" in degraded["message"]


def test_multiple_registries_with_a_ghcr_token(hook: HookClient) -> None:
    controller = run_example(hook, with_ghcr_secret(example("multiple-registries")))
    created = AMD_AIM + AMD_BASE + AMD_EXPERIMENTAL + GHCR_SILOGEN_AIM
    assert_ready_with(controller, created, filters=2, pull_secrets=["ghcr-secret"])


def test_private_registry_with_authentication(hook: HookClient) -> None:
    controller = run_example(hook, example("private-registry-with-authentication"))
    expected = [
        *tagged("private.registry.io", "myorg/model-a", "1.0.0", "1.2.0"),
        *tagged("private.registry.io", "myorg/model-b", "1.1.0"),
    ]
    assert_ready_with(controller, expected, filters=1, pull_secrets=["private-registry-creds"])


def test_specific_versions_only(hook: HookClient) -> None:
    controller = run_example(hook, example("specific-versions-only"))
    expected = [
        *tagged("ghcr.io", "silogen/aim-llama", "1.0.0", "1.1.0"),
        *tagged("ghcr.io", "silogen/aim-mistral", "2.0.0"),
    ]
    assert_ready_with(controller, expected, filters=3)
    assert controller.status["scan"]["nextScanTime"] == "2026-08-20T16:00:00Z"
