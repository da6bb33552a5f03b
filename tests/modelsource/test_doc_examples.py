"""Every example with filters in the user documentation (model-sources.md) selects what it says.

Each test embeds the example's YAML as the documentation shows it (one test per example, named
after its heading) and applies the filters to one fake registry listing.
"""

import yaml

from hooks.modelsource.filters import ImageFilter, build_filters
from hooks.modelsource.spec import SourceSpec, parse_spec
from hooks.reference import ImageRef

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


def source_spec(document: str) -> SourceSpec:
    """The spec of the AIMClusterModelSource in a (possibly multi-document) YAML example."""
    docs = list(yaml.safe_load_all(document))
    (spec,) = [
        doc["spec"]
        for doc in docs
        if doc.get("kind", "AIMClusterModelSource") == "AIMClusterModelSource"
    ]
    return parse_spec(spec)


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


def selected(document: str) -> set[str]:
    """Every image the example's filters select together (OR-ed)."""
    images: set[str] = set()
    for result in build_filters(source_spec(document)):
        assert isinstance(result, ImageFilter), result
        images |= select(result)
    return images


def test_basic_example():
    assert selected(
        """
apiVersion: aim.silogen.ai/v1alpha1
kind: AIMClusterModelSource
metadata:
  name: silogen-models
spec:
  filters:
    - image: amdenterpriseai/aim-*
  syncInterval: 1h
"""
    ) == {
        "amdenterpriseai/aim-llama3:1.0.0",
        "amdenterpriseai/aim-llama3:latest",
        "amdenterpriseai/aim-base:1.0.0",
        "amdenterpriseai/aim-experimental:0.1.0-dev",
    }


def test_repository_patterns():
    assert selected(
        """
spec:
  filters:
    - image: amdenterpriseai/aim-*
"""
    ) == {
        "amdenterpriseai/aim-llama3:1.0.0",
        "amdenterpriseai/aim-llama3:latest",
        "amdenterpriseai/aim-base:1.0.0",
        "amdenterpriseai/aim-experimental:0.1.0-dev",
    }


def test_repository_with_specific_tag():
    # No registry in the spec: Docker Hub, where silogen/aim-llama also exists.
    assert selected(
        """
spec:
  filters:
    - image: silogen/aim-llama:1.0.0
"""
    ) == {"silogen/aim-llama:1.0.0"}


def test_full_uri():
    assert selected(
        """
spec:
  registry: docker.io
  filters:
    - image: ghcr.io/silogen/aim-google-gemma-3-1b-it:0.8.1-rc1
"""
    ) == {"ghcr.io/silogen/aim-google-gemma-3-1b-it:0.8.1-rc1"}


def test_full_uri_with_wildcard():
    assert selected(
        """
spec:
  registry: ghcr.io
  filters:
    - image: silogen/aim-*
"""
    ) == {
        "ghcr.io/silogen/aim-llama:0.9.0",
        "ghcr.io/silogen/aim-llama:1.0.0",
        "ghcr.io/silogen/aim-llama:1.1.0",
        "ghcr.io/silogen/aim-llama:2.0.0",
        "ghcr.io/silogen/aim-llama:2.1.0-rc1",
        "ghcr.io/silogen/aim-llama:latest",
        "ghcr.io/silogen/aim-mistral:1.5.0",
        "ghcr.io/silogen/aim-mistral:2.0.0",
        "ghcr.io/silogen/aim-google-gemma-3-1b-it:0.8.0",
        "ghcr.io/silogen/aim-google-gemma-3-1b-it:0.8.1-rc1",
    }


def test_global_version_constraints():
    assert selected(
        """
spec:
  registry: ghcr.io
  filters:
    - image: silogen/aim-llama
    - image: silogen/aim-mistral
  versions:
    - ">=1.0.0"
    - "<2.0.0"
"""
    ) == {
        "ghcr.io/silogen/aim-llama:1.0.0",
        "ghcr.io/silogen/aim-llama:1.1.0",
        "ghcr.io/silogen/aim-mistral:1.5.0",
    }


def test_per_filter_version_constraints():
    # Prereleases are included (DECISIONS §2): 2.1.0-rc1 satisfies >=2.0.0.
    assert selected(
        """
spec:
  registry: ghcr.io
  versions:
    - ">=1.0.0"  # global default
  filters:
    - image: silogen/aim-llama
      versions:
        - ">=2.0.0"  # overrides global for this filter
    - image: silogen/aim-mistral
      # uses global constraint
"""
    ) == {
        "ghcr.io/silogen/aim-llama:2.0.0",
        "ghcr.io/silogen/aim-llama:2.1.0-rc1",
        "ghcr.io/silogen/aim-mistral:1.5.0",
        "ghcr.io/silogen/aim-mistral:2.0.0",
    }


def test_exclusions():
    assert selected(
        """
spec:
  filters:
    - image: amdenterpriseai/aim-*
      exclude:
        - amdenterpriseai/aim-base
        - amdenterpriseai/aim-experimental
"""
    ) == {"amdenterpriseai/aim-llama3:1.0.0", "amdenterpriseai/aim-llama3:latest"}


def test_private_registries():
    assert selected(
        """
apiVersion: v1
kind: Secret
metadata:
  name: ghcr-secret
  namespace: kaiwo-system  # operator namespace
type: kubernetes.io/dockerconfigjson
data:
  .dockerconfigjson: BASE64_CONFIG
---
apiVersion: aim.silogen.ai/v1alpha1
kind: AIMClusterModelSource
metadata:
  name: private-models
spec:
  registry: ghcr.io
  imagePullSecrets:
    - name: ghcr-secret
  filters:
    - image: myorg/private-model-*
"""
    ) == {"ghcr.io/myorg/private-model-a:1.0.0"}


def test_max_models_limit():
    # Selection is not limited; maxModels only limits how many models are created.
    document = """
spec:
  maxModels: 100  # default: 100, range: 1-10000
  filters:
    - image: org/very-broad-pattern-*
"""
    assert source_spec(document).max_models == 100
    assert selected(document) == {
        "org/very-broad-pattern-a:1.0.0",
        "org/very-broad-pattern-a:2.0.0",
        "org/very-broad-pattern-b:latest",
    }


def test_docker_hub_with_wildcards():
    assert selected(
        """
apiVersion: aim.silogen.ai/v1alpha1
kind: AIMClusterModelSource
metadata:
  name: dockerhub-models
spec:
  registry: docker.io
  filters:
    - image: amdenterpriseai/aim-*
      exclude:
        - amdenterpriseai/aim-base
  syncInterval: 2h
"""
    ) == {
        "amdenterpriseai/aim-llama3:1.0.0",
        "amdenterpriseai/aim-llama3:latest",
        "amdenterpriseai/aim-experimental:0.1.0-dev",
    }


def test_github_container_registry_with_version_constraints():
    assert selected(
        """
apiVersion: aim.silogen.ai/v1alpha1
kind: AIMClusterModelSource
metadata:
  name: ghcr-stable-models
spec:
  registry: ghcr.io
  filters:
    - image: silogen/aim-llama
    - image: silogen/aim-mistral
  versions:
    - ">=1.0.0"
    - "<2.0.0"
  syncInterval: 1h
"""
    ) == {
        "ghcr.io/silogen/aim-llama:1.0.0",
        "ghcr.io/silogen/aim-llama:1.1.0",
        "ghcr.io/silogen/aim-mistral:1.5.0",
    }


def test_multiple_registries():
    assert selected(
        """
apiVersion: aim.silogen.ai/v1alpha1
kind: AIMClusterModelSource
metadata:
  name: multi-registry-models
spec:
  registry: docker.io  # default
  filters:
    - image: amdenterpriseai/aim-*  # uses docker.io
    - image: ghcr.io/silogen/aim-*  # overrides to ghcr.io
  syncInterval: 1h
"""
    ) == {
        "amdenterpriseai/aim-llama3:1.0.0",
        "amdenterpriseai/aim-llama3:latest",
        "amdenterpriseai/aim-base:1.0.0",
        "amdenterpriseai/aim-experimental:0.1.0-dev",
        "ghcr.io/silogen/aim-llama:0.9.0",
        "ghcr.io/silogen/aim-llama:1.0.0",
        "ghcr.io/silogen/aim-llama:1.1.0",
        "ghcr.io/silogen/aim-llama:2.0.0",
        "ghcr.io/silogen/aim-llama:2.1.0-rc1",
        "ghcr.io/silogen/aim-llama:latest",
        "ghcr.io/silogen/aim-mistral:1.5.0",
        "ghcr.io/silogen/aim-mistral:2.0.0",
        "ghcr.io/silogen/aim-google-gemma-3-1b-it:0.8.0",
        "ghcr.io/silogen/aim-google-gemma-3-1b-it:0.8.1-rc1",
    }


def test_private_registry_with_authentication():
    # "0.9" and "latest" are not SemVer, so the constraint skips them.
    assert selected(
        """
apiVersion: v1
kind: Secret
metadata:
  name: private-registry-creds
  namespace: kaiwo-system
type: kubernetes.io/dockerconfigjson
data:
  .dockerconfigjson: BASE64_ENCODED_CONFIG
---
apiVersion: aim.silogen.ai/v1alpha1
kind: AIMClusterModelSource
metadata:
  name: private-models
spec:
  registry: private.registry.io
  imagePullSecrets:
    - name: private-registry-creds
  filters:
    - image: myorg/model-*
      versions:
        - ">=1.0.0"
  syncInterval: 1h
"""
    ) == {
        "private.registry.io/myorg/model-a:1.0.0",
        "private.registry.io/myorg/model-b:1.2.0",
    }


def test_specific_versions_only():
    assert selected(
        """
apiVersion: aim.silogen.ai/v1alpha1
kind: AIMClusterModelSource
metadata:
  name: specific-versions
spec:
  registry: ghcr.io
  filters:
    - image: silogen/aim-llama:1.0.0
    - image: silogen/aim-llama:1.1.0
    - image: silogen/aim-mistral:2.0.0
  syncInterval: 6h
"""
    ) == {
        "ghcr.io/silogen/aim-llama:1.0.0",
        "ghcr.io/silogen/aim-llama:1.1.0",
        "ghcr.io/silogen/aim-mistral:2.0.0",
    }


def test_exact_tag_that_does_not_exist_selects_nothing():
    assert (
        selected(
            """
spec:
  registry: ghcr.io
  filters:
    - image: silogen/aim-llama:9.9.9
"""
        )
        == set()
    )
