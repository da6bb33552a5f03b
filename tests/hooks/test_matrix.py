"""Every filter form on every registry kind and every sync path: the seams, as a generated matrix.

One cell is (filter form, registry kind, sync path, source kind). The service's own sync
(`sync_source`, with
the real scanner) runs against the real `docker-registry` and the Docker Hub and GitHub API
look-alikes of tests/harness, and every cell asserts the models, the status and that no observed
child is dropped. Where `preview` answers the same question (a first scan, an invalid spec, a
missing config, a registry down) the cell runs it too and it must agree with the service.

The expected images are written out here from the product rules (filters, versions, exclusions),
not computed by the code under test; only model names come from `model_name`. Registries and API
servers are shared by the module, and each (form, kind, source kind) first scan is made once, so
the 312 cells of cluster sources stay well under a minute.

The namespaced source (AIMModelSource, docs/decisions.md §8) runs every registry kind and every
sync path too, over NAMESPACED_FORMS: the forms that take different scan paths (one repository,
a digest, a wildcard, exclusions, a registry override). The source kind changes only where the
config and secrets come from and what the children look like, never the scan, so the other forms
would add a third of a minute and no seam.
"""

import copy
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from hooks.metacontroller import parse_sync_request
from hooks.modelsource.controller import CLUSTER_SOURCE, SourceKind, sync_source
from hooks.modelsource.naming import model_name
from hooks.modelsource.spec import parse_spec
from hooks.namespaced.source import NAMESPACED_SOURCE
from hooks.namespaced.tenancy import NAMESPACE_CONFIG_GROUP
from hooks.preview import PreviewInputError, SourceManifest, preview_source, read_manifests
from hooks.registry.config import RegistrySettings
from hooks.registry.credentials import Keychain
from hooks.registry.scanner import scan_registries
from hooks.registry.targets import ScanTarget, TargetResult
from tests.harness.dockerhub_api import DockerHubApi
from tests.harness.github_api import GitHubApi
from tests.harness.registry import Registry
from tests.hooks.conftest import GITHUB_TOKEN, GITHUB_USER, PUBLIC_IMAGES, START, namespaces
from tests.hooks.expected import condition
from tests.hooks.wire import (
    CONFIG_GROUP,
    SECRET_GROUP,
    children_by_name,
    login,
    model_group,
    observed_child,
    related,
    secret,
    sync_request,
)
from tests.hooks.wire import source as cluster_source
from tests.namespaced.objects import in_namespace
from tests.namespaced.objects import source as namespaced_source

NAMESPACE = "kaiwo-system"
CLOSED = "http://127.0.0.1:9"
ORG = "amdenterpriseai"
# What the registries hold under ORG (tests/hooks/conftest.py PUBLIC_IMAGES).
HELD = {repo: tags for repo, tags in PUBLIC_IMAGES.items() if repo.startswith(f"{ORG}/")}
ANCHOR = (f"{ORG}/aim-llama3", "1.0.0")  # the image the digest forms pin


@dataclass(frozen=True)
class Kind:
    """A registry kind: the host sources name, and how it is served and listed."""

    name: str
    host: str
    pull_secrets: tuple[str, ...] = ()


KINDS = {
    "v2-catalog": Kind("v2-catalog", "catalog.registry.io"),
    "docker-hub": Kind("docker-hub", "docker.io"),
    "ghcr": Kind("ghcr", "ghcr.io", ("ghcr-creds",)),
}


@dataclass(frozen=True)
class Form:
    """A filter form: the filter (with `{digest}` and `{host}` to fill in), the spec around it,
    the images it must select (repository, tag) and whether it needs the scan helper's fix."""

    filter: dict[str, Any]
    expected: Callable[[str], set[tuple[str, str]]]
    spec: dict[str, Any] = field(default_factory=dict)


def every(*repos: str) -> set[tuple[str, str]]:
    return {(f"{ORG}/{r}", t) for r in repos for t in HELD[f"{ORG}/{r}"]}


def just(*images: tuple[str, str]) -> Callable[[str], set[tuple[str, str]]]:
    return lambda digest: {(f"{ORG}/{r}", t) for r, t in images}


AIM = ("aim-llama3", "aim-mistral-7b", "aim-base", "aim-experimental")
FORMS: dict[str, Form] = {
    "repository": Form({"image": f"{ORG}/aim-llama3"}, lambda d: every("aim-llama3")),
    "repo:tag": Form({"image": f"{ORG}/aim-llama3:1.0.0"}, just(("aim-llama3", "1.0.0"))),
    "repo@digest": Form(
        {"image": f"{ORG}/aim-llama3@{{digest}}"}, lambda d: {(f"{ORG}/aim-llama3", d)}
    ),
    "repo:tag@digest": Form(
        {"image": f"{ORG}/aim-llama3:0.8.4@{{digest}}"}, lambda d: {(f"{ORG}/aim-llama3", d)}
    ),
    "wildcard": Form({"image": f"{ORG}/aim-*"}, lambda d: every(*AIM)),
    "wildcard:tag": Form(
        {"image": f"{ORG}/aim-*:latest"},
        just(("aim-llama3", "latest"), ("aim-base", "latest")),
    ),
    "wildcard:tag-glob": Form(
        {"image": f"{ORG}/aim-*:0.*"},
        just(
            ("aim-llama3", "0.8.4"),
            ("aim-mistral-7b", "0.9.0"),
            ("aim-base", "0.1.0"),
            ("aim-experimental", "0.1.0-dev"),
        ),
    ),
    "wildcard@digest": Form(
        {"image": f"{ORG}/aim-*@{{digest}}"},
        lambda d: {(f"{ORG}/aim-llama3", d)},
    ),
    "registry-override": Form(
        {"image": f"{{host}}/{ORG}/aim-mistral-*"},
        lambda d: every("aim-mistral-7b"),
        spec={"registry": "elsewhere.example.com"},
    ),
    "exclude-exact": Form(
        {"image": f"{ORG}/aim-*", "exclude": [f"{ORG}/aim-base"]},
        lambda d: every("aim-llama3", "aim-mistral-7b", "aim-experimental"),
    ),
    "exclude-glob": Form(
        {"image": f"{ORG}/aim-*", "exclude": [f"{ORG}/aim-*-7b", f"{ORG}/aim-exp*"]},
        lambda d: every("aim-llama3", "aim-base"),
    ),
    "global-versions": Form(
        {"image": f"{ORG}/aim-*"},
        just(("aim-llama3", "1.0.0"), ("aim-mistral-7b", "0.9.0")),
        spec={"versions": [">=0.9.0"]},
    ),
    "filter-versions": Form(
        {"image": f"{ORG}/aim-*", "versions": ["<1.0.0"]},
        just(
            ("aim-llama3", "0.8.4"),
            ("aim-mistral-7b", "0.9.0"),
            ("aim-base", "0.1.0"),
            ("aim-experimental", "0.1.0-dev"),
        ),
        spec={"versions": [">=0.9.0"]},
    ),
}
NAMESPACED_FORMS = ("repository", "repo@digest", "wildcard", "exclude-glob", "registry-override")
TEAM = "team-matrix"


@dataclass(frozen=True)
class Scope:
    """A source kind: where its source and secrets live (`namespace` empty: a cluster source)."""

    name: str
    kind: SourceKind
    namespace: str = ""

    def source(self, spec: dict[str, Any]) -> dict[str, Any]:
        if self.namespace:
            return namespaced_source(self.namespace, "matrix", spec)
        return cluster_source("matrix", spec)

    def secret(self, obj: dict[str, Any]) -> dict[str, Any]:
        """A pull secret where this kind's sources read theirs."""
        return in_namespace(obj, self.namespace) if self.namespace else obj

    def missing_config(self, name: str) -> str:
        if self.namespace:
            return (
                f'failed to get AIMNamespaceConfig "{name}" in namespace "{self.namespace}" or '
                f'AIMClusterConfig "{name}": not found'
            )
        return f'failed to get AIMClusterConfig "{name}": not found'


SCOPES = {
    "cluster": Scope("cluster", CLUSTER_SOURCE),
    "namespaced": Scope("namespaced", NAMESPACED_SOURCE, TEAM),
}
PATHS = (
    "first-scan",
    "not-due",
    "continued",
    "deleted-by-hand",
    "config-missing",
    "invalid-spec",
    "registry-down",
    "bookkeeping-pruned",
)


class CountingScan:
    """The real scanner, counting its calls (a scan function is the service's own parameter)."""

    def __init__(self, settings: RegistrySettings) -> None:
        self.scan = partial(scan_registries, settings=settings)
        self.calls = 0

    def __call__(self, targets: Sequence[ScanTarget], keychain: Keychain) -> list[TargetResult]:
        self.calls += 1
        return list(self.scan(targets, keychain))


@dataclass
class World:
    """The shared servers, and each (form, kind) pair's first answer once made."""

    public: Registry
    hub: DockerHubApi
    github: GitHubApi
    digest: str
    first: dict[tuple[str, str, str], tuple[dict[str, Any], dict[str, Any]]] = field(
        default_factory=dict
    )

    def settings(self, *, down: str | None = None, deadline: float = 15.0) -> RegistrySettings:
        endpoints = {kind.host: self.public.url for kind in KINDS.values()}
        hub, github = self.hub.url, self.github.url
        if down is not None:
            endpoints[down] = CLOSED
            hub = CLOSED if down == "docker.io" else hub
            github = CLOSED if down == "ghcr.io" else github
        return RegistrySettings(
            endpoints=endpoints,
            dockerhub_api_url=hub,
            github_api_url=github,
            insecure_registries=frozenset({self.github.host}),
            scan_deadline=deadline,
            request_timeout=5.0,
        )


@pytest.fixture(scope="module")
def world(doc_registries: tuple[Registry, Registry]) -> Iterator[World]:
    public, _ = doc_registries
    owners = namespaces(PUBLIC_IMAGES)
    repository, tag = ANCHOR
    manifest = httpx.head(
        f"{public.url}/v2/{repository}/manifests/{tag}",
        headers={
            "Accept": "application/vnd.oci.image.manifest.v1+json, "
            "application/vnd.docker.distribution.manifest.v2+json"
        },
    )
    digest = manifest.headers["docker-content-digest"]
    with (
        DockerHubApi(owners) as hub,
        GitHubApi(orgs={ORG: owners[ORG]}, tokens=[GITHUB_TOKEN]) as github,
    ):
        yield World(public, hub, github, digest)


def spec_of(world: World, form: Form, kind: Kind) -> dict[str, Any]:
    image = form.filter["image"].replace("{digest}", world.digest).replace("{host}", kind.host)
    spec: dict[str, Any] = {"registry": kind.host, **form.spec}
    if "{host}" in form.filter["image"]:
        spec["registry"] = form.spec["registry"]
    spec["filters"] = [{**form.filter, "image": image}]
    if kind.pull_secrets:
        spec["imagePullSecrets"] = [{"name": name} for name in kind.pull_secrets]
    return spec


def secrets_of(kind: Kind, scope: Scope) -> list[dict[str, Any]]:
    return [
        scope.secret(secret(name, login("ghcr.io", GITHUB_USER, GITHUB_TOKEN)))
        for name in kind.pull_secrets
    ]


def expected_models(world: World, form: Form, kind: Kind) -> set[str]:
    return {model_name(kind.host, repo, tag) for repo, tag in form.expected(world.digest)}


def sync(
    request: dict[str, Any], scan: CountingScan, minutes: float = 0
) -> tuple[dict[str, Any], bool]:
    """The service's answer (as JSON) and whether it scanned."""
    before = scan.calls
    namespaced = bool(request["parent"]["metadata"].get("namespace"))
    result = sync_source(
        parse_sync_request(copy.deepcopy(request)),
        scan=scan,
        now=START + timedelta(minutes=minutes),
        operator_namespace=NAMESPACE,
        kind=NAMESPACED_SOURCE if namespaced else CLUSTER_SOURCE,
    )
    return result.response.to_json(), scan.calls > before


def fed_back(
    request: dict[str, Any], answer: dict[str, Any], generation: int | None = None
) -> dict[str, Any]:
    """The next request after Metacontroller applied `answer`: children created, status written."""
    parent = copy.deepcopy(request["parent"])
    observed = children_by_name(request)
    children = {
        child["metadata"]["name"]: observed.get(child["metadata"]["name"])
        or observed_child(child, parent, serial)
        for serial, child in enumerate(answer["children"], 1)
    }
    parent["status"] = {**answer["status"], "observedGeneration": parent["metadata"]["generation"]}
    if generation is not None:
        parent["metadata"]["generation"] = generation
    return sync_request(parent, children, request["related"])


def names(answer: dict[str, Any]) -> set[str]:
    return {child["metadata"]["name"] for child in answer["children"]}


def keeps_every_child(request: dict[str, Any], answer: dict[str, Any]) -> bool:
    return set(children_by_name(request)) <= names(answer)


def first_scan(
    world: World, form_name: str, kind: Kind, scope: Scope
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The first request and the service's answer to it, made once per (form, kind, scope)."""
    key = (form_name, kind.name, scope.name)
    if key not in world.first:
        spec = spec_of(world, FORMS[form_name], kind)
        groups = [
            CONFIG_GROUP,
            *([NAMESPACE_CONFIG_GROUP] if scope.namespace else []),
            *([SECRET_GROUP] if kind.pull_secrets else []),
        ]
        objects = related(groups, secrets_of(kind, scope))
        request = sync_request(scope.source(spec), {}, objects)
        answer, _ = sync(request, CountingScan(world.settings()))
        world.first[key] = (request, answer)
    return world.first[key]


def preview_of(spec: dict[str, Any], kind: Kind, scope: Scope, settings: RegistrySettings) -> Any:
    document = scope.source(spec)
    manifest = SourceManifest(
        "matrix", parse_spec(spec), document, document["kind"], scope.namespace
    )
    return preview_source(
        manifest,
        secrets_of(kind, scope),
        scan=CountingScan(settings),
        now=START,
        operator_namespace=NAMESPACE,
    )


def cells() -> Iterator[Any]:
    for scope in SCOPES:
        forms = NAMESPACED_FORMS if scope == "namespaced" else FORMS
        for form_name in forms:
            for kind in KINDS:
                for path in PATHS:
                    suffix = "" if scope == "cluster" else f"-{scope}"
                    yield pytest.param(
                        form_name, kind, path, scope, id=f"{form_name}-{kind}-{path}{suffix}"
                    )


@pytest.mark.parametrize(("form_name", "kind_name", "path", "scope_name"), list(cells()))
def test_cell(
    world: World, form_name: str, kind_name: str, path: str, scope_name: str, tmp_path: Path
) -> None:
    form, kind, scope = FORMS[form_name], KINDS[kind_name], SCOPES[scope_name]
    expected = expected_models(world, form, kind)
    request, first = first_scan(world, form_name, kind, scope)
    assert names(first) == expected
    assert first["status"]["status"] == "Ready"
    assert first["status"]["discoveredModels"] == len(expected)
    assert condition(first["status"], "Ready")["reason"] == "AllFiltersSucceeded"
    scan = CountingScan(world.settings())
    settled = fed_back(request, first)

    if path == "first-scan":
        report = preview_of(request["parent"]["spec"], kind, scope, world.settings())
        assert {row.model for row in report.images if row.mark == "new"} == names(first)
        ready = condition(first["status"], "Ready")
        assert (report.status, report.reason, report.message) == (
            first["status"]["status"],
            ready["reason"],
            ready["message"],
        )
        return

    if path == "not-due":
        answer, scanned = sync(settled, scan, minutes=30)
        assert not scanned
        assert answer["status"] == settled["parent"]["status"]
    elif path == "continued":
        cut = CountingScan(world.settings(deadline=0.1))
        answer, _ = sync(request, cut)
        following = fed_back(request, answer)
        for _ in range(20):
            if answer["status"]["status"] != "Progressing":
                break
            answer, _ = sync(following, scan)
            assert keeps_every_child(following, answer)
            following = fed_back(following, answer)
        assert answer["status"]["status"] == "Ready"
        assert answer["status"]["availableModels"] == len(expected)
    elif path == "deleted-by-hand":
        victim = sorted(expected)[0]
        prefix = f"{scope.namespace}/" if scope.namespace else ""
        del settled["children"][model_group(settled["parent"])][prefix + victim]
        answer, scanned = sync(settled, scan, minutes=30)
        assert scanned
        assert answer["status"]["status"] == "Ready"
    elif path == "config-missing":
        settled["parent"]["spec"]["configName"] = "production"
        settled["parent"]["metadata"]["generation"] = 2
        answer, scanned = sync(settled, scan, minutes=1)
        assert not scanned
        message = scope.missing_config("production")
        assert answer["status"]["status"] == "Failed"
        assert condition(answer["status"], "Failure")["message"] == message
        report = preview_of(settled["parent"]["spec"], kind, scope, world.settings())
        assert (report.status, report.message) == ("Failed", message)
    elif path == "invalid-spec":
        settled["parent"]["spec"]["maxModels"] = 0
        settled["parent"]["metadata"]["generation"] = 2
        answer, scanned = sync(settled, scan, minutes=1)
        assert not scanned
        message = condition(answer["status"], "Ready")["message"]
        assert (answer["status"]["status"], message.split(":")[0]) == ("Failed", "spec.maxModels")
        with pytest.raises(
            PreviewInputError, match=message.replace("(", r"\(").replace(")", r"\)")
        ):
            read_manifests(write_source(tmp_path, settled["parent"]), [])
    elif path == "registry-down":
        down = world.settings(down=kind.host)
        answer, scanned = sync(settled, CountingScan(down), minutes=61)
        assert scanned
        assert answer["status"]["status"] == "Failed"
        assert condition(answer["status"], "Ready")["reason"] == "AllFiltersFailed"
        report = preview_of(settled["parent"]["spec"], kind, scope, down)
        assert report.status == "Failed"
    elif path == "bookkeeping-pruned":
        del settled["parent"]["status"]["scan"]
        answer, scanned = sync(settled, scan, minutes=30)
        assert not scanned
        assert answer["status"] == settled["parent"]["status"]
        answer, scanned = sync(settled, scan, minutes=61)
        assert scanned
        assert answer["status"]["status"] == "Ready"
    else:
        raise AssertionError(path)

    assert keeps_every_child(settled, answer)
    assert names(answer) >= expected
    assert answer["status"]["discoveredModels"] == len(answer["children"])
    for child in answer["children"]:
        assert child["metadata"].get("namespace", "") == scope.namespace


def write_source(directory: Path, parent: dict[str, Any]) -> Path:
    """The parent as a manifest file, for preview."""
    path = directory / "source.yaml"
    path.write_text(yaml.safe_dump(parent))
    return path
