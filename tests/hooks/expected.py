"""What the product documentation says the hooks produce, written out independently of hooks/.

Only the model name is computed by the code under test (`model_name`, which has its own tests
against the Go implementation's names); everything else is spelled out here from docs/decisions.md
§4 and §5.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from hooks.modelsource.naming import model_name
from tests.hooks.wire import API_VERSION, Object

Image = tuple[str, str, str]  # registry, repository, tag


def spec_image(registry: str, repository: str, tag: str) -> str:
    """`repo:tag` on Docker Hub, `registry/repo:tag` elsewhere."""
    name = repository if registry == "docker.io" else f"{registry}/{repository}"
    return f"{name}:{tag}"


def model(
    source: str,
    image: Image,
    *,
    pull_secrets: Sequence[str] = (),
    config_name: str | None = None,
) -> Object:
    """The AIMClusterModel a source creates for one image (docs/decisions.md §4)."""
    registry, repository, tag = image
    spec: Object = {"image": spec_image(registry, repository, tag)}
    if pull_secrets:
        spec["imagePullSecrets"] = [{"name": name} for name in pull_secrets]
    if config_name:
        spec["configName"] = config_name
    return {
        "apiVersion": API_VERSION,
        "kind": "AIMClusterModel",
        "metadata": {
            "name": model_name(registry, repository, tag),
            "labels": {
                "aim.silogen.ai/model-source": source,
                "aim.silogen.ai/auto-created": "true",
            },
            "annotations": {
                "aim.eai.amd.com/source-registry": registry,
                "aim.eai.amd.com/source-repository": repository,
                "aim.eai.amd.com/source-tag": tag,
            },
        },
        "spec": spec,
    }


def models(source: str, images: Iterable[Image], **options: Any) -> list[Object]:
    """The models for these images, sorted by name as the hook returns children."""
    made = [model(source, image, **options) for image in images]
    return sorted(made, key=lambda child: child["metadata"]["name"])


def images(registry: str, tags_by_repository: Mapping[str, Iterable[str]]) -> list[Image]:
    """`(registry, repository, tag)` for every tag listed."""
    return [
        (registry, repository, tag)
        for repository, tags in tags_by_repository.items()
        for tag in tags
    ]


def condition(status: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """The condition of type `kind` (there must be exactly one)."""
    (found,) = [c for c in status["conditions"] if c["type"] == kind]
    return dict(found)


def condition_types(status: Mapping[str, Any]) -> list[str]:
    """The condition types in the order the status lists them."""
    return [c["type"] for c in status["conditions"]]
