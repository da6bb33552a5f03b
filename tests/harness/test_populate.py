"""The synthetic image plan and its on-disk layout, without a registry."""

import json
import re
from pathlib import Path

from tests.harness.populate import (
    DOCKER_MANIFEST,
    LABEL_DEPLOYMENTS,
    LABEL_VERSION,
    OCI_MANIFEST,
    plan_from,
    synthetic_plan,
    write_layout,
)

TAG_GRAMMAR = re.compile(r"[\w][\w.-]{0,127}")  # distribution's route regex: no '+'


def test_synthetic_plan_is_the_same_for_the_same_seed() -> None:
    assert synthetic_plan(20, seed=7) == synthetic_plan(20, seed=7)
    assert synthetic_plan(20, seed=7) != synthetic_plan(20, seed=8)


def test_synthetic_plan_has_numbered_repositories_and_three_decoys() -> None:
    plan = synthetic_plan(12, seed=1)
    numbered = [f"amdenterpriseai/aim-model-{n:03d}" for n in range(1, 13)]
    decoys = ["amdenterpriseai/aim-base", "otherorg/aim-model-999", "library/hello"]
    assert sorted(plan.repositories) == sorted(numbered + decoys)


def test_synthetic_tags_are_unique_valid_and_mix_every_family() -> None:
    plan = synthetic_plan(200, seed=42)
    all_tags = [tag for tags in plan.repositories.values() for tag in tags]
    for tags in plan.repositories.values():
        assert 1 <= len(tags) <= 30
        assert len(set(tags)) == len(tags)
    assert all(TAG_GRAMMAR.fullmatch(tag) for tag in all_tags)
    families = {
        "semver": r"\d+\.\d+\.\d+",
        "v": r"v\d+\.\d+\.\d+",
        "rc": r"\d+\.\d+\.\d+-rc\d",
        "beta": r"\d+\.\d+\.\d+-beta\.\d",
        "nightly": r"nightly-\d{8}",
        "sha": r"sha-[0-9a-f]{7}",
        "build": r"\d+\.\d+\.\d+_build\d",
        "latest": "latest",
        "dev": "dev",
    }
    for name, pattern in families.items():
        assert any(re.fullmatch(pattern, tag) for tag in all_tags), name


def test_mixed_format_stores_some_repositories_as_docker_and_the_rest_as_oci() -> None:
    plan = synthetic_plan(60, seed=3)
    media_types = {plan.image(repo, tags[0]).media_type for repo, tags in plan.repositories.items()}
    assert media_types == {OCI_MANIFEST, DOCKER_MANIFEST}


def test_labels_carry_the_version_and_deployments_as_a_json_string() -> None:
    plan = plan_from({"org/model": ["1.2.0"]})
    labels = plan.image("org/model", "1.2.0").labels
    assert labels[LABEL_VERSION] == "1.2.0"
    deployments = json.loads(labels[LABEL_DEPLOYMENTS])
    assert deployments[0]["gpuModel"].startswith("MI")


def test_label_override_replaces_the_defaults_of_one_image() -> None:
    plan = plan_from(
        {"org/model": ["1.0.0", "2.0.0"]}, labels={("org/model", "2.0.0"): {"only": "this"}}
    )
    assert plan.image("org/model", "2.0.0").labels == {"only": "this"}
    assert LABEL_VERSION in plan.image("org/model", "1.0.0").labels


def test_every_tag_has_its_own_manifest_digest() -> None:
    plan = synthetic_plan(30, seed=5)
    digests = [image.digest for image in plan.images()]
    assert len(set(digests)) == plan.tag_count


def test_layout_writes_links_without_newline_to_the_expected_digest(tmp_path: Path) -> None:
    plan = plan_from({"org/model": ["1.0.0"]}, format="docker")
    images = write_layout(tmp_path, plan)
    image = images["org/model", "1.0.0"]
    v2 = tmp_path / "docker/registry/v2"
    tag_link = v2 / "repositories/org/model/_manifests/tags/1.0.0/current/link"
    assert tag_link.read_bytes() == image.digest.encode()
    hex_digest = image.digest.removeprefix("sha256:")
    assert (v2 / f"blobs/sha256/{hex_digest[:2]}/{hex_digest}/data").read_bytes() == (
        image.manifest.data
    )
    revision = v2 / f"repositories/org/model/_manifests/revisions/sha256/{hex_digest}/link"
    assert revision.read_bytes() == image.digest.encode()
