"""Every example of the user documentation (examples/model-sources/) selects what it says.

Each example is loaded from its file under examples/ and its filters are applied to one fake
registry listing; every example file must have its expected selection here.
"""

from typing import Any

import pytest

from hooks.modelsource.filters import ImageFilter, build_filters
from hooks.modelsource.spec import parse_spec
from hooks.reference import ImageRef
from tests.examples.files import example_source, source_example_names

# registry -> repository -> tags
LISTING: dict[str, dict[str, list[str]]] = {
    "docker.io": {
        "amdenterpriseai/aim-llama3": ["1.0.0", "latest"],
        "amdenterpriseai/aim-base": ["1.0.0"],
        "amdenterpriseai/aim-experimental": ["0.1.0-dev"],
        "amdenterpriseai/tools": ["1.0.0"],
        "silogen/aim-llama": ["1.0.0", "1.1.0"],
        "org/very-broad-pattern-a": ["1.0.0", "2.0.0"],
        "org/very-broad-pattern-b": ["latest"],
        "org/narrow": ["1.0.0"],
    },
    "ghcr.io": {
        "silogen/aim-llama": ["0.9.0", "1.0.0", "1.1.0", "2.0.0", "2.1.0-rc1", "latest"],
        "silogen/aim-mistral": ["1.5.0", "2.0.0"],
        "silogen/aim-google-gemma-3-1b-it": ["0.8.0", "0.8.1-rc1"],
        "silogen/tools": ["1.0.0"],
        "myorg/private-model-a": ["1.0.0"],
        "myorg/public-model": ["1.0.0"],
    },
    "private.registry.io": {
        "myorg/model-a": ["0.9", "1.0.0", "latest"],
        "myorg/model-b": ["0.5.0", "1.2.0"],
        "otherorg/model-c": ["1.0.0"],
    },
}

AMD_AIM = {
    "amdenterpriseai/aim-llama3:1.0.0",
    "amdenterpriseai/aim-llama3:latest",
    "amdenterpriseai/aim-base:1.0.0",
    "amdenterpriseai/aim-experimental:0.1.0-dev",
}
GHCR_AIM_LLAMA = {
    "ghcr.io/silogen/aim-llama:0.9.0",
    "ghcr.io/silogen/aim-llama:1.0.0",
    "ghcr.io/silogen/aim-llama:1.1.0",
    "ghcr.io/silogen/aim-llama:2.0.0",
    "ghcr.io/silogen/aim-llama:2.1.0-rc1",
    "ghcr.io/silogen/aim-llama:latest",
}
GHCR_SILOGEN_AIM = GHCR_AIM_LLAMA | {
    "ghcr.io/silogen/aim-mistral:1.5.0",
    "ghcr.io/silogen/aim-mistral:2.0.0",
    "ghcr.io/silogen/aim-google-gemma-3-1b-it:0.8.0",
    "ghcr.io/silogen/aim-google-gemma-3-1b-it:0.8.1-rc1",
}
STABLE_LLAMA_AND_MISTRAL = {
    "ghcr.io/silogen/aim-llama:1.0.0",
    "ghcr.io/silogen/aim-llama:1.1.0",
    "ghcr.io/silogen/aim-mistral:1.5.0",
}
# Selection is not limited: maxModels only limits how many models are created.
VERY_BROAD = {
    "org/very-broad-pattern-a:1.0.0",
    "org/very-broad-pattern-a:2.0.0",
    "org/very-broad-pattern-b:latest",
}

# Example file (examples/model-sources/NAME.yaml) -> the images its filters select from LISTING.
SELECTIONS: dict[str, set[str]] = {
    "basic-example": AMD_AIM,
    "repository-patterns": AMD_AIM,
    # No registry in the spec: Docker Hub, where silogen/aim-llama also exists.
    "repository-with-specific-tag": {"silogen/aim-llama:1.0.0"},
    "full-uri": {"ghcr.io/silogen/aim-google-gemma-3-1b-it:0.8.1-rc1"},
    "full-uri-with-wildcard": GHCR_SILOGEN_AIM,
    "registry": GHCR_AIM_LLAMA,
    "sync-interval": AMD_AIM,
    "global-version-constraints": STABLE_LLAMA_AND_MISTRAL,
    # Prereleases are included (docs/decisions.md §2): 2.1.0-rc1 satisfies >=2.0.0.
    "per-filter-version-constraints": {
        "ghcr.io/silogen/aim-llama:2.0.0",
        "ghcr.io/silogen/aim-llama:2.1.0-rc1",
        "ghcr.io/silogen/aim-mistral:1.5.0",
        "ghcr.io/silogen/aim-mistral:2.0.0",
    },
    # `latest` is not SemVer and 0.1.0-dev is below the range.
    "version-syntax": {"amdenterpriseai/aim-llama3:1.0.0", "amdenterpriseai/aim-base:1.0.0"},
    "exclusions": {"amdenterpriseai/aim-llama3:1.0.0", "amdenterpriseai/aim-llama3:latest"},
    "private-registries": {"ghcr.io/myorg/private-model-a:1.0.0"},
    "max-models-limit": VERY_BROAD,
    "max-models-limit-status": VERY_BROAD,
    "docker-hub-with-wildcards": AMD_AIM - {"amdenterpriseai/aim-base:1.0.0"},
    "github-container-registry-with-version-constraints": STABLE_LLAMA_AND_MISTRAL,
    "multiple-registries": AMD_AIM | GHCR_SILOGEN_AIM,
    # "0.9" and "latest" are not SemVer, so the constraint skips them.
    "private-registry-with-authentication": {
        "private.registry.io/myorg/model-a:1.0.0",
        "private.registry.io/myorg/model-b:1.2.0",
    },
    "specific-versions-only": {
        "ghcr.io/silogen/aim-llama:1.0.0",
        "ghcr.io/silogen/aim-llama:1.1.0",
        "ghcr.io/silogen/aim-mistral:2.0.0",
    },
}


def select(image_filter: ImageFilter) -> set[str]:
    """The images of LISTING a filter selects, as AIMClusterModel spec images."""
    repositories = LISTING.get(image_filter.registry, {})
    candidates = repositories if image_filter.is_wildcard else [image_filter.repository]
    return {
        ImageRef(image_filter.registry, repository, tag).spec_image()
        for repository in candidates
        if repository in repositories and image_filter.selects_repository(repository)
        for tag in repositories[repository]
        if image_filter.selects_tag(tag)
    }


def selected_by(spec: dict[str, Any]) -> set[str]:
    """Every image a spec's filters select together (OR-ed)."""
    images: set[str] = set()
    for result in build_filters(parse_spec(spec)):
        assert isinstance(result, ImageFilter), result
        images |= select(result)
    return images


def example_spec(name: str) -> dict[str, Any]:
    spec: dict[str, Any] = example_source(f"model-sources/{name}.yaml")["spec"]
    return spec


@pytest.mark.parametrize("name", sorted(SELECTIONS))
def test_each_example_selects_what_it_says(name: str) -> None:
    assert selected_by(example_spec(name)) == SELECTIONS[name]


def test_every_source_example_has_its_expected_selection() -> None:
    assert sorted(SELECTIONS) == source_example_names()


def test_max_models_limit_example_sets_the_limit() -> None:
    assert parse_spec(example_spec("max-models-limit")).max_models == 100


def test_exact_tag_that_does_not_exist_selects_nothing() -> None:
    spec = {"registry": "ghcr.io", "filters": [{"image": "silogen/aim-llama:9.9.9"}]}
    assert selected_by(spec) == set()
