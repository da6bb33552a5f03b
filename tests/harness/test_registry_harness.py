"""The anonymous plain-HTTP registry: listing, negotiation, pull, push, delete, lifecycle."""

import json
from pathlib import Path

import httpx
import pytest

from tests.harness.populate import (
    DOCKER_MANIFEST,
    LABEL_DEPLOYMENTS,
    LABEL_TITLE,
    LABEL_VERSION,
    MANIFEST_ACCEPT,
    OCI_MANIFEST,
    delete_tag,
    plan_from,
    push_image,
)
from tests.harness.registry import Registry, RegistryFactory, RegistryStartError
from tests.harness.tls import TestCA

pytestmark = pytest.mark.registry


def list_catalog(client: httpx.Client, page_size: int) -> tuple[list[str], int]:
    """Every repository by following the relative Link header; also the number of pages."""
    url: str | None = f"/v2/_catalog?n={page_size}"
    repositories: list[str] = []
    pages = 0
    while url is not None and pages < 100:
        response = client.get(url)
        response.raise_for_status()
        repositories += response.json()["repositories"]
        pages += 1
        url = response.links.get("next", {}).get("url")
    return repositories, pages


def test_catalog_lists_every_planned_repository_across_pages(populated_registry: Registry) -> None:
    assert populated_registry.plan is not None
    with populated_registry.client() as client:
        repositories, pages = list_catalog(client, page_size=50)
    assert repositories == sorted(populated_registry.plan.repositories)
    assert len(repositories) == 203
    assert pages == 5


def test_tags_list_returns_the_planned_tags(populated_registry: Registry) -> None:
    assert populated_registry.plan is not None
    repository = "amdenterpriseai/aim-model-007"
    with populated_registry.client() as client:
        body = client.get(f"/v2/{repository}/tags/list").json()
    assert body["name"] == repository
    assert sorted(body["tags"]) == sorted(populated_registry.plan.repositories[repository])


@pytest.mark.parametrize("media_type", [OCI_MANIFEST, DOCKER_MANIFEST])
def test_manifest_head_gives_the_expected_digest_and_media_type(
    populated_registry: Registry, media_type: str
) -> None:
    image = next(i for i in populated_registry.images.values() if i.media_type == media_type)
    with populated_registry.client() as client:
        response = client.head(
            f"/v2/{image.repository}/manifests/{image.tag}", headers={"Accept": MANIFEST_ACCEPT}
        )
    assert response.status_code == 200
    assert response.headers["Docker-Content-Digest"] == image.digest
    assert response.headers["Content-Type"] == media_type
    assert int(response.headers["Content-Length"]) == len(image.manifest.data)


def test_manifest_without_accept_is_404_for_oci_and_schema1_for_docker(
    populated_registry: Registry,
) -> None:
    """Why clients must always send MANIFEST_ACCEPT: distribution 2.8 negotiates on it."""
    oci = next(i for i in populated_registry.images.values() if i.media_type == OCI_MANIFEST)
    docker = next(i for i in populated_registry.images.values() if i.media_type == DOCKER_MANIFEST)
    with populated_registry.client() as client:
        oci_response = client.get(f"/v2/{oci.repository}/manifests/{oci.tag}")
        docker_response = client.get(f"/v2/{docker.repository}/manifests/{docker.tag}")
    assert oci_response.status_code == 404
    assert oci_response.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    assert docker_response.status_code == 200
    assert "manifest.v1+prettyjws" in docker_response.headers["Content-Type"]
    assert docker_response.headers["Docker-Content-Digest"] != docker.digest


def test_pull_of_manifest_and_config_gives_the_planned_labels(populated_registry: Registry) -> None:
    repository = "amdenterpriseai/aim-model-042"
    assert populated_registry.plan is not None
    tag = populated_registry.plan.repositories[repository][-1]
    with populated_registry.client() as client:
        manifest = client.get(
            f"/v2/{repository}/manifests/{tag}", headers={"Accept": MANIFEST_ACCEPT}
        ).json()
        config = client.get(f"/v2/{repository}/blobs/{manifest['config']['digest']}").json()
    labels = config["config"]["Labels"]
    assert labels[LABEL_VERSION] == tag
    assert labels[LABEL_TITLE] == "aim-model-042"
    assert isinstance(json.loads(labels[LABEL_DEPLOYMENTS]), list)


def test_pushed_image_appears_in_catalog_and_tags(registry_factory: RegistryFactory) -> None:
    registry = registry_factory(plan_from({"org/existing": ["1.0.0"]}))
    with registry.client() as client:
        pushed = push_image(client, registry.url, "org/new-model", "2.0.0-rc1", format="docker")
        catalog = client.get("/v2/_catalog").json()["repositories"]
        tags = client.get("/v2/org/new-model/tags/list").json()["tags"]
        head = client.head(
            "/v2/org/new-model/manifests/2.0.0-rc1", headers={"Accept": MANIFEST_ACCEPT}
        )
    assert catalog == ["org/existing", "org/new-model"]
    assert tags == ["2.0.0-rc1"]
    assert head.headers["Docker-Content-Digest"] == pushed.digest


def test_deleted_tag_disappears_and_an_emptied_repository_lists_null_tags(
    registry_factory: RegistryFactory,
) -> None:
    registry = registry_factory(plan_from({"org/model": ["1.0.0", "2.0.0"]}))
    with registry.client() as client:
        delete_tag(client, registry.url, "org/model", "1.0.0")
        assert client.get("/v2/org/model/tags/list").json()["tags"] == ["2.0.0"]
        delete_tag(client, registry.url, "org/model", "2.0.0")
        assert client.get("/v2/org/model/tags/list").json()["tags"] is None


def test_unknown_repository_is_a_json_name_unknown_error(populated_registry: Registry) -> None:
    with populated_registry.client() as client:
        response = client.get("/v2/nobody/nothing/tags/list")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "NAME_UNKNOWN"


def test_failed_start_reports_the_log_and_leaves_no_process(
    registry_binary: Path, tmp_path: Path
) -> None:
    broken = TestCA(tmp_path)
    broken.key_file.write_text("not a key")
    registry = Registry(tls=broken, binary=registry_binary)
    with pytest.raises(RegistryStartError, match="exited at startup"):
        registry.start()
    assert not registry.running


def test_factory_registries_are_independent(registry_factory: RegistryFactory) -> None:
    first = registry_factory(plan_from({"a/one": ["1"]}))
    second = registry_factory(plan_from({"b/two": ["2"]}))
    assert first.port != second.port
    with first.client() as one, second.client() as two:
        assert one.get("/v2/_catalog").json()["repositories"] == ["a/one"]
        assert two.get("/v2/_catalog").json()["repositories"] == ["b/two"]
