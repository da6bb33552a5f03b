"""Deterministic synthetic images for a real registry: a plan, its filesystem layout, HTTP pushes.

Every image is one shared tiny gzip layer plus its own config blob carrying the AIM labels, so
manifest digests are a pure function of (repository, tag, labels, format). Tests can therefore know
the expected digest of any image without asking the registry.

Populating 200 repositories over HTTP costs about 20 s; writing distribution's storage layout
straight to disk before the registry starts costs about 2 s (docs/testing-registry.md §3), so
`write_layout` is the default and `push_image` is kept for tests that add images while the registry
runs.
"""

import gzip
import hashlib
import io
import json
import os
import random
import tarfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

import httpx

Format = Literal["oci", "docker", "mixed"]
ManifestFormat = Literal["oci", "docker"]

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

# Without an explicit, complete Accept list distribution 2.8 answers 404 for OCI manifests and
# silently down-converts Docker schema2 to schema1 (docs/testing-registry.md §4).
MANIFEST_ACCEPT = ", ".join([OCI_MANIFEST, DOCKER_MANIFEST, OCI_INDEX, DOCKER_MANIFEST_LIST])

LABEL_VERSION = "org.opencontainers.image.version"
LABEL_TITLE = "org.opencontainers.image.title"
LABEL_CANONICAL_NAME = "com.amd.aim.model.canonicalName"
LABEL_DEPLOYMENTS = "com.amd.aim.model.recommendedDeployments"

_MEDIA_TYPES: dict[ManifestFormat, tuple[str, str, str]] = {
    "oci": (OCI_MANIFEST, OCI_CONFIG, OCI_LAYER),
    "docker": (DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER),
}
_GPU_MODELS = ("MI300X", "MI325X", "MI355X")
_PRECISIONS = ("fp16", "fp8", "bf16")


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _canonical_json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class Blob:
    """Content-addressed bytes: what the registry stores under blobs/sha256/."""

    data: bytes
    digest: str

    @classmethod
    def of(cls, data: bytes) -> "Blob":
        """The blob for `data`, its digest computed."""
        return cls(data, _sha256(data))


@cache
def shared_layer() -> tuple[Blob, str]:
    """The one gzip layer every image shares, and its diff_id (digest of the uncompressed tar).

    Built with fixed mtimes so its digest never changes between runs.
    """
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        content = b"synthetic AIM model image for tests\n"
        info = tarfile.TarInfo("model/README")
        info.size = len(content)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(content))
    tar_bytes = raw.getvalue()
    return Blob.of(gzip.compress(tar_bytes, mtime=0)), _sha256(tar_bytes)


@dataclass(frozen=True, slots=True)
class Image:
    """One tagged image as the registry will serve it."""

    repository: str
    tag: str
    media_type: str
    manifest: Blob
    config: Blob
    labels: Mapping[str, str]

    @property
    def digest(self) -> str:
        """The manifest digest (Docker-Content-Digest)."""
        return self.manifest.digest


def build_image(
    repository: str, tag: str, labels: Mapping[str, str], manifest_format: ManifestFormat
) -> Image:
    """The manifest and config of one image, byte-for-byte deterministic."""
    manifest_type, config_type, layer_type = _MEDIA_TYPES[manifest_format]
    layer, diff_id = shared_layer()
    config = Blob.of(
        _canonical_json(
            {
                "architecture": "amd64",
                "os": "linux",
                "created": "2025-01-15T00:00:00Z",
                "config": {"Labels": dict(labels)},
                "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                # Without history distribution cannot down-convert schema2 to schema1 (400).
                "history": [{"created": "2025-01-15T00:00:00Z", "created_by": "synthetic layer"}],
            }
        )
    )
    manifest = Blob.of(
        _canonical_json(
            {
                "schemaVersion": 2,
                "mediaType": manifest_type,
                "config": {
                    "mediaType": config_type,
                    "digest": config.digest,
                    "size": len(config.data),
                },
                "layers": [
                    {"mediaType": layer_type, "digest": layer.digest, "size": len(layer.data)}
                ],
            }
        )
    )
    return Image(repository, tag, manifest_type, manifest, config, dict(labels))


def default_labels(repository: str, tag: str) -> dict[str, str]:
    """The AIM labels a synthetic image carries; recommendedDeployments is a JSON *string*."""
    title = repository.rsplit("/", 1)[-1]
    rng = random.Random(f"{repository}:{tag}")
    deployments = [
        {
            "gpuModel": rng.choice(_GPU_MODELS),
            "gpuCount": rng.choice((1, 2, 4, 8)),
            "precision": rng.choice(_PRECISIONS),
            "metric": rng.choice(("latency", "throughput")),
        }
    ]
    return {
        LABEL_VERSION: tag,
        LABEL_TITLE: title,
        LABEL_CANONICAL_NAME: f"synthetic/{title.removeprefix('aim-')}",
        LABEL_DEPLOYMENTS: json.dumps(deployments, separators=(",", ":")),
    }


@dataclass(frozen=True)
class ImagePlan:
    """What a registry should hold: repository -> tags, the manifest format, label overrides.

    `format="mixed"` stores about a third of the repositories as Docker schema2 and the rest as
    OCI, chosen by a hash of the name so the choice does not depend on what else is in the plan.
    `labels[(repository, tag)]` replaces the default labels of that one image.
    """

    repositories: dict[str, list[str]]
    format: Format = "oci"
    labels: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)

    def manifest_format(self, repository: str) -> ManifestFormat:
        """The manifest format `repository` is stored in."""
        if self.format != "mixed":
            return self.format
        return "docker" if hashlib.sha256(repository.encode()).digest()[0] % 3 == 0 else "oci"

    def labels_for(self, repository: str, tag: str) -> dict[str, str]:
        """The labels of one image: the override when given, else `default_labels`."""
        override = self.labels.get((repository, tag))
        return default_labels(repository, tag) if override is None else override

    def image(self, repository: str, tag: str) -> Image:
        """The image the plan puts at repository:tag (KeyError when the plan has no such tag)."""
        if tag not in self.repositories[repository]:
            raise KeyError(f"{repository}:{tag} is not in the plan")
        return build_image(
            repository, tag, self.labels_for(repository, tag), self.manifest_format(repository)
        )

    def images(self) -> Iterator[Image]:
        """Every image of the plan, repositories in sorted order, tags as listed."""
        for repository in sorted(self.repositories):
            for tag in self.repositories[repository]:
                yield self.image(repository, tag)

    @property
    def tag_count(self) -> int:
        """How many tags the plan holds in all."""
        return sum(len(tags) for tags in self.repositories.values())


def plan_from(
    repositories: Mapping[str, list[str]],
    format: Format = "oci",
    labels: Mapping[tuple[str, str], dict[str, str]] | None = None,
) -> ImagePlan:
    """A plan with exactly these repositories and tags (for tests that want precise contents)."""
    return ImagePlan(
        {name: list(tags) for name, tags in repositories.items()}, format, dict(labels or {})
    )


def _semver(rng: random.Random) -> str:
    return f"{rng.randint(0, 3)}.{rng.randint(0, 12)}.{rng.randint(0, 9)}"


def _synthetic_tag(rng: random.Random) -> str:
    """One tag drawn from the families a model repository really has (docs/testing-registry.md
    §3)."""
    kind = rng.choices(
        ("semver", "v", "rc", "beta", "latest", "dev", "nightly", "sha", "build"),
        weights=(40, 10, 8, 6, 3, 3, 10, 10, 5),
    )[0]
    match kind:
        case "semver":
            return _semver(rng)
        case "v":
            return "v" + _semver(rng)
        case "rc":
            return f"{_semver(rng)}-rc{rng.randint(1, 5)}"
        case "beta":
            return f"{_semver(rng)}-beta.{rng.randint(1, 5)}"
        case "latest" | "dev":
            return kind
        case "nightly":
            return f"nightly-2025{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        case "sha":
            return f"sha-{rng.getrandbits(28):07x}"
        case _:
            return f"{_semver(rng)}_build{rng.randint(1, 9)}"


def synthetic_plan(
    repos: int = 200,
    seed: int = 42,
    namespace: str = "amdenterpriseai",
    prefix: str = "aim-model-",
    format: Format = "mixed",
) -> ImagePlan:
    """`namespace/prefixNNN` for NNN in 1..repos with 1-30 tags each, plus three decoys.

    The decoys (`namespace/aim-base`, `otherorg/<prefix>999`, `library/hello`) are what a
    client filtering by `namespace/prefix*` must leave out.
    """
    rng = random.Random(seed)
    width = max(3, len(str(repos)))
    repositories: dict[str, list[str]] = {}
    for number in range(1, repos + 1):
        wanted = rng.randint(1, 30)
        tags: dict[str, None] = {}  # insertion-ordered set
        for _ in range(wanted * 10):  # bounded: duplicates are rare, never loop forever
            if len(tags) == wanted:
                break
            tags[_synthetic_tag(rng)] = None
        repositories[f"{namespace}/{prefix}{number:0{width}d}"] = list(tags)
    repositories[f"{namespace}/aim-base"] = ["0.1.0", "latest"]
    repositories[f"otherorg/{prefix}999"] = ["1.0.0"]
    repositories["library/hello"] = ["latest"]
    return ImagePlan(repositories, format)


def write_layout(root: Path, plan: ImagePlan) -> dict[tuple[str, str], Image]:
    """Write `plan` as distribution's filesystem storage under `root`; return images by (repo, tag).

    `root` is the registry's `storage.filesystem.rootdirectory`. Call it before the registry
    starts: the registry caches blob descriptors in memory. Link files hold `sha256:<hex>` with no
    newline, exactly as distribution writes them. Paths are plain strings: pathlib costs more
    than the file system here (about 20 000 files for 200 repositories).
    """
    v2 = os.path.join(root, "docker", "registry", "v2")
    made: set[str] = set()

    def write(path: str, data: bytes) -> None:
        parent = os.path.dirname(path)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        with open(path, "wb") as file:
            file.write(data)

    def blob(item: Blob) -> None:
        hex_digest = item.digest.removeprefix("sha256:")
        path = f"{v2}/blobs/sha256/{hex_digest[:2]}/{hex_digest}/data"
        if os.path.dirname(path) not in made:
            write(path, item.data)

    def link(directory: str, digest: str) -> None:
        path = f"{directory}/{digest.removeprefix('sha256:')}/link"
        if os.path.dirname(path) not in made:  # the shared layer is linked once per repository
            write(path, digest.encode())

    layer, _ = shared_layer()
    blob(layer)
    images: dict[tuple[str, str], Image] = {}
    for image in plan.images():
        repository = f"{v2}/repositories/{image.repository}"
        blob(image.config)
        blob(image.manifest)
        link(f"{repository}/_layers/sha256", layer.digest)
        link(f"{repository}/_layers/sha256", image.config.digest)
        link(f"{repository}/_manifests/revisions/sha256", image.digest)
        tag_dir = f"{repository}/_manifests/tags/{image.tag}"
        write(f"{tag_dir}/current/link", image.digest.encode())
        link(f"{tag_dir}/index/sha256", image.digest)
        images[image.repository, image.tag] = image
    return images


class PushError(RuntimeError):
    """The registry refused a step of a push; the message holds its status and body."""


def _expect(response: httpx.Response, *statuses: int) -> httpx.Response:
    if response.status_code not in statuses:
        raise PushError(
            f"{response.request.method} {response.request.url.path} -> "
            f"{response.status_code}: {response.text[:500]}"
        )
    return response


def _upload_blob(
    client: httpx.Client, base: str, repository: str, item: Blob, headers: Mapping[str, str]
) -> None:
    """POST + PUT upload unless the repository already links the blob.

    Distribution 2.8 does not support the single-POST monolithic upload (docs/testing-registry.md
    §3).
    """
    url = f"{base}/v2/{repository}/blobs/{item.digest}"
    if client.head(url, headers=headers).status_code == 200:
        return
    started = _expect(client.post(f"{base}/v2/{repository}/blobs/uploads/", headers=headers), 202)
    location = httpx.URL(base).join(started.headers["Location"])
    _expect(
        client.put(
            location.copy_merge_params({"digest": item.digest}),
            content=item.data,
            headers={**headers, "Content-Type": "application/octet-stream"},
        ),
        201,
    )


def push_image(
    client: httpx.Client,
    base_url: str,
    repository: str,
    tag: str,
    *,
    labels: Mapping[str, str] | None = None,
    format: ManifestFormat = "oci",
    headers: Mapping[str, str] | None = None,
) -> Image:
    """Push a synthetic image over the registry HTTP API and return what was pushed.

    `headers` (e.g. an Authorization header) go with every request; raises PushError on a refusal.
    """
    image = build_image(
        repository, tag, labels if labels is not None else default_labels(repository, tag), format
    )
    base = base_url.rstrip("/")
    extra = dict(headers or {})
    _upload_blob(client, base, repository, shared_layer()[0], extra)
    _upload_blob(client, base, repository, image.config, extra)
    response = _expect(
        client.put(
            f"{base}/v2/{repository}/manifests/{tag}",
            content=image.manifest.data,
            headers={**extra, "Content-Type": image.media_type},
        ),
        201,
    )
    if response.headers.get("Docker-Content-Digest") != image.digest:
        raise PushError(f"registry stored {response.headers.get('Docker-Content-Digest')}")
    return image


def delete_manifest(
    client: httpx.Client,
    base_url: str,
    repository: str,
    digest: str,
    *,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Delete a manifest by digest (distribution refuses deletes by tag); its tags go with it."""
    _expect(
        client.delete(
            f"{base_url.rstrip('/')}/v2/{repository}/manifests/{digest}", headers=headers or {}
        ),
        202,
    )


def delete_tag(
    client: httpx.Client,
    base_url: str,
    repository: str,
    tag: str,
    *,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Remove `tag` by deleting the manifest it points to (and any other tag sharing it)."""
    extra = dict(headers or {})
    head = _expect(
        client.head(
            f"{base_url.rstrip('/')}/v2/{repository}/manifests/{tag}",
            headers={**extra, "Accept": MANIFEST_ACCEPT},
        ),
        200,
    )
    delete_manifest(
        client, base_url, repository, head.headers["Docker-Content-Digest"], headers=extra
    )
