"""The scanner against real registries: what each filter finds, and what each server was sent.

Targets are built the way the controller builds them (spec -> filters -> `scan_target`), and a fault
proxy in pass-through mode stands in front of each registry (`settings.endpoints`) so that the
tests can read what the registry received.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from hooks.modelsource.versions import satisfies
from hooks.reference import ImageRef
from hooks.registry import scanner
from hooks.registry.config import RegistrySettings
from hooks.registry.credentials import Credential, Keychain
from hooks.registry.pool import RegistryClient
from hooks.registry.scanner import scan_registries
from hooks.registry.targets import ScanTarget, TargetResult
from tests.harness.dockerhub_api import DockerHubApi
from tests.harness.faultproxy import FaultProxy, ProxiedRequest
from tests.harness.github_api import GitHubApi
from tests.harness.populate import plan_from
from tests.harness.registry import BasicAuth, Registry, RegistryFactory, TokenAuth
from tests.harness.tls import TestCA
from tests.harness.tokenserver import TokenServer
from tests.registry.scanning import sent_authorizations, targets_for

pytestmark = pytest.mark.registry

FaultProxies = Callable[..., FaultProxy]
PLAN = plan_from(
    {
        "org/aim-a": ["1.0.0", "1.1.0", "2.0.0-rc1", "latest"],
        "org/aim-b": ["0.9.0", "1.0.0"],
        "org/base": ["1.0.0"],
        "other/aim-c": ["3.0.0"],
    }
)
ALICE = Credential(username="alice", password="secret")
BOB = Credential(username="bob", password="hunter2")
HUB_SECRET = "dckr_pat_hub_secret"
GITHUB_TOKEN = "ghp_classic_read_packages"


def settings_for(*proxied: tuple[str, FaultProxy], **options: Any) -> RegistrySettings:
    """Registries served through their proxies over plain HTTP (so listed as insecure)."""
    endpoints = {registry: proxy.url for registry, proxy in proxied}
    options.setdefault("insecure_registries", frozenset(endpoints))
    return RegistrySettings(endpoints=endpoints, **options)


def by_key(results: list[TargetResult]) -> dict[int, TargetResult]:
    return {result.key: result for result in results}


def tags_requests(proxy: FaultProxy) -> Counter[str]:
    """How often each repository's tags were listed through `proxy`."""
    return Counter(
        r.path.removeprefix("/v2/").removesuffix("/tags/list")
        for r in proxy.requests
        if r.path.endswith("/tags/list")
    )


def catalog_requests(proxy: FaultProxy) -> list[ProxiedRequest]:
    return [r for r in proxy.requests if r.path == "/v2/_catalog"]


def basic(credential: Credential) -> str:
    pair = f"{credential.username}:{credential.password}".encode()
    return "Basic " + base64.b64encode(pair).decode()


@pytest.fixture
def proxied(fault_proxy_factory: FaultProxies) -> Callable[[Registry], FaultProxy]:
    """A pass-through proxy in front of a registry, recording what it receives."""

    def start(registry: Registry) -> FaultProxy:
        return fault_proxy_factory(
            "127.0.0.1", registry.port, upstream_tls_ca=registry.tls, tls=registry.tls
        )

    return start


# --- the populated registry: catalog paging, exact forms, shared listings ----------------------


@pytest.fixture
def populated(
    populated_registry: Registry, proxied: Callable[[Registry], FaultProxy]
) -> Iterator[tuple[Registry, FaultProxy, RegistrySettings]]:
    proxy = proxied(populated_registry)
    yield populated_registry, proxy, settings_for((populated_registry.host, proxy))


def test_wildcard_pages_through_the_catalog_and_applies_excludes_and_versions(
    populated: tuple[Registry, FaultProxy, RegistrySettings],
) -> None:
    registry, proxy, settings = populated
    versions = [">=1.0.0 <3.0.0"]
    spec = {
        "registry": registry.host,
        "filters": [
            {"image": "amdenterpriseai/aim-model-*", "exclude": ["amdenterpriseai/aim-model-1*"]}
        ],
        "versions": versions,
    }
    [result] = scan_registries(targets_for(spec), Keychain(), settings=settings)

    assert registry.plan is not None
    wanted = {
        ImageRef(registry.host, repository, tag=tag)
        for repository, tags in registry.plan.repositories.items()
        if repository.startswith("amdenterpriseai/aim-model-")
        and not repository.startswith("amdenterpriseai/aim-model-1")
        for tag in tags
        if satisfies(tag, versions)
    }
    assert (result.error, result.finished) == (None, True)
    assert set(result.images) == wanted
    assert len(result.images) == len(wanted)
    # 203 repositories in pages of 100: three pages, each after the last name of the one before.
    pages = catalog_requests(proxy)
    assert len(pages) == 3
    assert "last=" not in pages[0].target
    assert all("last=" in page.target for page in pages[1:])
    # Excluded repositories and the decoys are never asked for their tags; the rest once.
    selected = {
        r
        for r in registry.plan.repositories
        if r.startswith("amdenterpriseai/aim-model-")
        and not r.startswith("amdenterpriseai/aim-model-1")
    }
    assert tags_requests(proxy) == dict.fromkeys(selected, 1)


def test_exact_repository_reads_its_tags_without_the_catalog(
    populated: tuple[Registry, FaultProxy, RegistrySettings],
) -> None:
    registry, proxy, settings = populated
    repository = "amdenterpriseai/aim-model-007"
    spec = {
        "registry": registry.host,
        "filters": [{"image": repository, "versions": [">=1.0.0"]}],
    }
    [result] = scan_registries(targets_for(spec), Keychain(), settings=settings)

    assert registry.plan is not None
    tags = registry.plan.repositories[repository]
    assert result.error is None
    assert sorted(i.tag or "" for i in result.images) == sorted(
        t for t in tags if satisfies(t, [">=1.0.0"])
    )
    assert catalog_requests(proxy) == []
    assert tags_requests(proxy) == {repository: 1}


def test_exact_tag_is_found_and_a_missing_one_is_an_error_naming_the_image(
    populated: tuple[Registry, FaultProxy, RegistrySettings],
) -> None:
    registry, proxy, settings = populated
    assert registry.plan is not None
    repository = "amdenterpriseai/aim-model-042"
    tag = registry.plan.repositories[repository][0]
    spec = {
        "registry": registry.host,
        "filters": [{"image": f"{repository}:{tag}"}, {"image": f"{repository}:9.9.9-missing"}],
    }
    found, missing = scan_registries(targets_for(spec), Keychain(), settings=settings)

    assert (found.images, found.error) == ((ImageRef(registry.host, repository, tag=tag),), None)
    assert missing.images == ()
    assert missing.error is not None
    assert f"{registry.host}/{repository}:9.9.9-missing" in missing.error
    assert "does not exist" in missing.error
    # An exact tag is looked up (HEAD), never listed.
    assert tags_requests(proxy) == {}
    assert [r.method for r in proxy.requests] == ["HEAD", "HEAD"]


def test_digest_pins_one_image_and_an_unknown_digest_is_an_error(
    populated: tuple[Registry, FaultProxy, RegistrySettings],
) -> None:
    registry, _, settings = populated
    repository = "amdenterpriseai/aim-model-100"
    assert registry.plan is not None
    image = registry.images[repository, registry.plan.repositories[repository][-1]]
    unknown = "sha256:" + "0" * 64
    spec = {
        "registry": registry.host,
        "filters": [
            {"image": f"{repository}@{image.digest}"},
            {"image": f"{repository}@{unknown}"},
        ],
    }
    pinned, absent = scan_registries(targets_for(spec), Keychain(), settings=settings)

    assert pinned.images == (ImageRef(registry.host, repository, digest=image.digest),)
    assert pinned.error is None
    assert absent.images == ()
    assert absent.error is not None
    assert f"{repository}@{unknown}" in absent.error


def test_filters_needing_the_same_repository_list_its_tags_once(
    populated: tuple[Registry, FaultProxy, RegistrySettings],
) -> None:
    registry, proxy, settings = populated
    spec = {
        "registry": registry.host,
        "filters": [
            {"image": "amdenterpriseai/aim-model-01*"},
            {"image": "amdenterpriseai/aim-model-010"},
            {"image": "amdenterpriseai/aim-model-010:*", "versions": [">=1.0.0"]},
            {"image": "amdenterpriseai/aim-model-0*", "exclude": ["amdenterpriseai/aim-model-00*"]},
        ],
    }
    results = scan_registries(targets_for(spec), Keychain(), settings=settings)

    assert [r.error for r in results] == [None] * 4
    assert all(r.images for r in results)
    listed = tags_requests(proxy)
    assert listed["amdenterpriseai/aim-model-010"] == 1
    assert set(listed.values()) == {1}
    assert len(listed) == 90  # aim-model-010 .. aim-model-099
    assert len(catalog_requests(proxy)) == 3  # one catalog listing for both wildcards


def test_each_registry_gets_one_connection_pool_shared_by_its_targets(
    registry_factory: RegistryFactory,
    proxied: Callable[[Registry], FaultProxy],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = registry_factory(PLAN), registry_factory(PLAN)
    first_proxy, second_proxy = proxied(first), proxied(second)
    hosts_by_client: list[set[str]] = []

    class RecordingClient(RegistryClient):
        def __init__(self, **options: Any) -> None:
            super().__init__(**options)
            self.hosts: set[str] = set()
            hosts_by_client.append(self.hosts)

        async def send(self, request: httpx.Request, **options: Any) -> httpx.Response:
            self.hosts.add(request.url.netloc.decode())
            return await super().send(request, **options)

    monkeypatch.setattr(scanner, "RegistryClient", RecordingClient)
    spec = {
        "registry": first.host,
        "filters": [
            {"image": "org/aim-*"},
            {"image": "org/aim-a"},
            {"image": "org/aim-b:1.0.0"},
            {"image": f"{second.host}/org/*"},
            {"image": f"{second.host}/other/aim-c"},
        ],
    }
    settings = settings_for((first.host, first_proxy), (second.host, second_proxy))
    results = scan_registries(targets_for(spec), Keychain(), settings=settings)

    assert [r.error for r in results] == [None] * 5
    assert sorted(map(sorted, hosts_by_client)) == sorted([[first_proxy.host], [second_proxy.host]])


# --- auth and TLS --------------------------------------------------------------------------------


def test_anonymous_registry_is_scanned_without_credentials(
    registry_factory: RegistryFactory, proxied: Callable[[Registry], FaultProxy]
) -> None:
    registry = registry_factory(PLAN)
    proxy = proxied(registry)
    spec = {"registry": registry.host, "filters": [{"image": "org/aim-*"}]}
    [result] = scan_registries(
        targets_for(spec), Keychain(), settings=settings_for((registry.host, proxy))
    )

    assert result.error is None
    assert {(i.repository, i.tag) for i in result.images} == {
        (r, t) for r in ("org/aim-a", "org/aim-b") for t in PLAN.repositories[r]
    }
    assert sent_authorizations(proxy.requests) == set()


def test_basic_auth_registry_gets_its_own_credentials_and_no_other(
    registry_factory: RegistryFactory, proxied: Callable[[Registry], FaultProxy]
) -> None:
    alices = registry_factory(PLAN, auth=BasicAuth({"alice": "secret"}))
    bobs = registry_factory(PLAN, auth=BasicAuth({"bob": "hunter2"}))
    alice_proxy, bob_proxy = proxied(alices), proxied(bobs)
    keychain = Keychain([(alices.host, ALICE), (bobs.host, BOB)])
    spec = {
        "registry": alices.host,
        "filters": [{"image": "org/aim-*"}, {"image": f"{bobs.host}/other/aim-c:3.0.0"}],
    }
    settings = settings_for((alices.host, alice_proxy), (bobs.host, bob_proxy))
    wildcard, exact = scan_registries(targets_for(spec), keychain, settings=settings)

    assert wildcard.error is None
    assert len(wildcard.images) == 6
    assert exact.images == (ImageRef(bobs.host, "other/aim-c", tag="3.0.0"),)
    assert sent_authorizations(alice_proxy.requests) == {basic(ALICE)}
    assert sent_authorizations(bob_proxy.requests) == {basic(BOB)}


def test_basic_auth_registry_without_credentials_is_a_clear_error(
    registry_factory: RegistryFactory, proxied: Callable[[Registry], FaultProxy]
) -> None:
    registry = registry_factory(PLAN, auth=BasicAuth({"alice": "secret"}))
    proxy = proxied(registry)
    spec = {"registry": registry.host, "filters": [{"image": "org/aim-a"}]}
    [result] = scan_registries(
        targets_for(spec), Keychain(), settings=settings_for((registry.host, proxy))
    )

    assert result.images == ()
    assert result.error is not None
    assert "requires a username and password" in result.error


def test_token_registry_gets_bearer_tokens_and_only_the_token_server_sees_the_password(
    registry_factory: RegistryFactory,
    token_server: Callable[..., TokenServer],
    proxied: Callable[[Registry], FaultProxy],
) -> None:
    server = token_server(users={"alice": "secret"}, anonymous_pull=False)
    registry = registry_factory(PLAN, auth=TokenAuth(server))
    proxy = proxied(registry)
    keychain = Keychain([(registry.host, ALICE)])
    spec = {"registry": registry.host, "filters": [{"image": "org/aim-*"}, {"image": "other/*"}]}
    aim, other = scan_registries(
        targets_for(spec), keychain, settings=settings_for((registry.host, proxy))
    )

    assert (aim.error, other.error) == (None, None)
    assert len(aim.images) == 6
    assert other.images == (ImageRef(registry.host, "other/aim-c", tag="3.0.0"),)
    to_registry = sent_authorizations(proxy.requests)
    assert to_registry
    assert all(value.startswith("Bearer ") for value in to_registry)
    assert sent_authorizations(server.requests) == {basic(ALICE)}
    assert {r.user for r in server.requests} == {"alice"}


def test_tls_registry_is_trusted_through_the_ca_bundle(
    registry_factory: RegistryFactory, test_ca: TestCA
) -> None:
    registry = registry_factory(PLAN, tls=test_ca)
    spec = {"registry": registry.host, "filters": [{"image": "org/aim-b"}]}
    endpoints = {registry.host: registry.url}
    trusting = RegistrySettings(ca_bundle=str(test_ca.ca_file), endpoints=endpoints)
    [trusted] = scan_registries(targets_for(spec), Keychain(), settings=trusting)
    [untrusted] = scan_registries(
        targets_for(spec), Keychain(), settings=RegistrySettings(endpoints=endpoints)
    )

    assert trusted.error is None
    assert {i.tag for i in trusted.images} == {"0.9.0", "1.0.0"}
    assert untrusted.images == ()
    assert untrusted.error is not None
    assert "AIM_CA_BUNDLE" in untrusted.error


def test_unreadable_ca_bundle_is_every_targets_error(tmp_path: Any) -> None:
    settings = RegistrySettings(ca_bundle=str(tmp_path / "missing.pem"))
    spec = {"registry": "registry.example.com", "filters": [{"image": "a/*"}, {"image": "b:1"}]}
    results = scan_registries(targets_for(spec), Keychain(), settings=settings)

    assert [r.key for r in results] == [0, 1]
    assert all(r.error and "missing.pem" in r.error for r in results)


# --- docker.io and ghcr.io wildcards through their REST APIs -------------------------------------


@pytest.fixture
def hub_and_ghcr(
    registry_factory: RegistryFactory, proxied: Callable[[Registry], FaultProxy]
) -> Iterator[tuple[Registry, FaultProxy, FaultProxy, DockerHubApi, GitHubApi]]:
    """One registry serving both docker.io and ghcr.io (each through its own proxy), the Hub
    API knowing the `amd` namespace and the GitHub API the `silogen` organization."""
    plan = plan_from(
        {
            "amd/aim-llama": ["1.0.0", "1.1.0"],
            "amd/aim-mistral": ["0.9.0"],
            "amd/tools": ["1.0.0"],
            "silogen/aim-qwen": ["2.0.0"],
            "silogen/aim-private": ["1.0.0"],
            "silogen/base": ["1.0.0"],
        }
    )
    registry = registry_factory(plan)
    hub_proxy, ghcr_proxy = proxied(registry), proxied(registry)
    hub = DockerHubApi(
        {"amd": ["aim-llama", "aim-mistral", "tools"]}, users={"amduser": HUB_SECRET}
    )
    github = GitHubApi(orgs={"silogen": ["aim-qwen", "aim-private", "base"]}, tokens={GITHUB_TOKEN})
    with hub, github:
        yield registry, hub_proxy, ghcr_proxy, hub, github


def hub_settings(
    hub_proxy: FaultProxy, ghcr_proxy: FaultProxy, hub: DockerHubApi, github: GitHubApi
) -> RegistrySettings:
    return RegistrySettings(
        endpoints={"docker.io": hub_proxy.url, "ghcr.io": ghcr_proxy.url},
        dockerhub_api_url=hub.url,
        github_api_url=github.url,
        # The Hub password and the GitHub token go over plain HTTP to these test servers only.
        insecure_registries=frozenset({hub.host, github.host}),
    )


def test_docker_hub_and_ghcr_wildcards_list_through_their_apis_with_their_own_credentials(
    hub_and_ghcr: tuple[Registry, FaultProxy, FaultProxy, DockerHubApi, GitHubApi],
) -> None:
    _, hub_proxy, ghcr_proxy, hub, github = hub_and_ghcr
    keychain = Keychain(
        [
            ("https://index.docker.io/v1/", Credential(username="amduser", password=HUB_SECRET)),
            ("ghcr.io", Credential(username="someone", password=GITHUB_TOKEN)),
        ]
    )
    spec = {
        "filters": [
            {"image": "amd/aim-*"},
            {"image": "ghcr.io/silogen/aim-*", "exclude": ["silogen/aim-private"]},
        ]
    }
    settings = hub_settings(hub_proxy, ghcr_proxy, hub, github)
    on_hub, on_ghcr = scan_registries(targets_for(spec), keychain, settings=settings)

    assert (on_hub.error, on_ghcr.error) == (None, None)
    assert set(on_hub.images) == {
        ImageRef("docker.io", "amd/aim-llama", tag="1.0.0"),
        ImageRef("docker.io", "amd/aim-llama", tag="1.1.0"),
        ImageRef("docker.io", "amd/aim-mistral", tag="0.9.0"),
    }
    assert on_ghcr.images == (ImageRef("ghcr.io", "silogen/aim-qwen", tag="2.0.0"),)
    # Tags came from each registry's own endpoint: no repository was listed on the wrong one.
    assert set(tags_requests(hub_proxy)) == {"amd/aim-llama", "amd/aim-mistral"}
    assert set(tags_requests(ghcr_proxy)) == {"silogen/aim-qwen"}
    # Each secret went to its own API only; the (anonymous) registry endpoints got none.
    assert sent_authorizations(hub_proxy.requests) == set()
    assert sent_authorizations(ghcr_proxy.requests) == set()
    assert sent_authorizations(github.requests) == {f"Bearer {GITHUB_TOKEN}"}
    assert all(HUB_SECRET not in str(r) for r in github.requests)
    sign_ins = [r for r in hub.requests if r.path == "/v2/auth/token"]
    assert len(sign_ins) == 1
    assert HUB_SECRET.encode() in sign_ins[0].body
    assert all(GITHUB_TOKEN not in str(r) for r in hub.requests)
    assert all(
        HUB_SECRET not in value for value in sent_authorizations(hub.requests)
    )  # only the JWT


def test_wildcard_namespace_on_docker_hub_and_ghcr_without_a_token_are_clear_errors(
    hub_and_ghcr: tuple[Registry, FaultProxy, FaultProxy, DockerHubApi, GitHubApi],
) -> None:
    _, hub_proxy, ghcr_proxy, hub, github = hub_and_ghcr
    spec = {"filters": [{"image": "am*/aim-*"}, {"image": "ghcr.io/silogen/aim-*"}]}
    settings = hub_settings(hub_proxy, ghcr_proxy, hub, github)
    namespace, tokenless = scan_registries(targets_for(spec), Keychain(), settings=settings)

    assert namespace.images == tokenless.images == ()
    assert namespace.error is not None
    assert "wildcard in the Docker Hub namespace" in namespace.error
    assert "name the namespace exactly" in namespace.error
    assert tokenless.error is not None
    assert "needs a GitHub token" in tokenless.error
    assert "imagePullSecrets" in tokenless.error
    assert hub.requests == github.requests == []


def test_docker_hub_wildcard_resumes_with_results_only_past_its_resume_point(
    hub_and_ghcr: tuple[Registry, FaultProxy, FaultProxy, DockerHubApi, GitHubApi],
) -> None:
    _, hub_proxy, ghcr_proxy, hub, github = hub_and_ghcr
    [target] = targets_for({"filters": [{"image": "amd/aim-*"}]})
    settings = hub_settings(hub_proxy, ghcr_proxy, hub, github)
    [result] = scan_registries(
        [replace(target, resume_after="amd/aim-llama")], Keychain(), settings=settings
    )

    assert result.images == (ImageRef("docker.io", "amd/aim-mistral", tag="0.9.0"),)
    assert set(tags_requests(hub_proxy)) == {"amd/aim-mistral"}


def test_docker_hub_listing_that_breaks_midway_keeps_the_pages_read_and_reports_it(
    hub_and_ghcr: tuple[Registry, FaultProxy, FaultProxy, DockerHubApi, GitHubApi],
) -> None:
    _, hub_proxy, ghcr_proxy, _, github = hub_and_ghcr
    fillers = [f"zz-{n:03d}" for n in range(250)]
    with DockerHubApi({"amd": ["aim-llama", "aim-mistral", *fillers]}, looping_page=2) as hub:
        settings = hub_settings(hub_proxy, ghcr_proxy, hub, github)
        [result] = scan_registries(
            targets_for({"filters": [{"image": "amd/aim-*"}]}), Keychain(), settings=settings
        )

    assert {i.repository for i in result.images} == {"amd/aim-llama", "amd/aim-mistral"}
    assert result.finished
    assert result.error is not None
    assert 'listing Docker Hub namespace "amd"' in result.error
    assert "loop back" in result.error


def test_rate_limited_docker_hub_listing_is_retried_after_its_wait(
    hub_and_ghcr: tuple[Registry, FaultProxy, FaultProxy, DockerHubApi, GitHubApi],
) -> None:
    _, hub_proxy, ghcr_proxy, hub, github = hub_and_ghcr
    hub.throttle(retry_after="0")
    settings = hub_settings(hub_proxy, ghcr_proxy, hub, github)
    [result] = scan_registries(
        targets_for({"filters": [{"image": "amd/aim-*"}]}), Keychain(), settings=settings
    )

    assert result.error is None
    assert len(result.images) == 3
    assert len(hub.requests) == 2


def test_no_targets_is_no_results() -> None:
    assert scan_registries([], Keychain(), settings=RegistrySettings()) == []


def test_exact_repository_excluded_by_its_own_filter_is_never_listed(
    registry_factory: RegistryFactory,
) -> None:
    reg = registry_factory(plan=plan_from({"demo/x": ["1.0.0"]}))
    target = ScanTarget(
        key=0,
        registry=reg.host,
        repository="demo/x",
        selects_repository=lambda repository: repository != "demo/x",
    )
    settings = RegistrySettings(insecure_registries=frozenset({reg.host}))
    [result] = scan_registries([target], Keychain(), settings=settings)
    assert result.images == ()
    assert result.error is None


# --- a wildcard repository with an exact tag or digest ------------------------------------------


def test_wildcard_with_an_exact_tag_finds_it_in_every_matching_repository_that_has_it(
    registry_factory: RegistryFactory, proxied: Callable[[Registry], FaultProxy]
) -> None:
    reg = registry_factory(plan=PLAN)
    proxy = proxied(reg)
    settings = settings_for((reg.host, proxy))
    spec = {
        "registry": reg.host,
        "filters": [
            {"image": "org/aim-*:1.0.0"},
            {"image": "org/*:0.9.0", "exclude": ["org/aim-b"]},
            {"image": "nobody/*:1.0.0"},
        ],
    }
    both, excluded, none = scan_registries(targets_for(spec), Keychain(), settings=settings)

    assert both.images == (
        ImageRef(reg.host, "org/aim-a", tag="1.0.0"),
        ImageRef(reg.host, "org/aim-b", tag="1.0.0"),
    )
    # A matching repository without the tag found nothing there: no error.
    assert (both.error, excluded.error, none.error) == (None, None, None)
    assert (excluded.images, none.images) == ((), ())
    assert both.finished and excluded.finished and none.finished
    # Each selected repository is looked up (HEAD), never listed; excluded ones not at all.
    heads = Counter(r.path for r in proxy.requests if r.method == "HEAD")
    assert heads == {
        "/v2/org/aim-a/manifests/1.0.0": 1,
        "/v2/org/aim-b/manifests/1.0.0": 1,
        "/v2/org/aim-a/manifests/0.9.0": 1,
        "/v2/org/base/manifests/0.9.0": 1,
    }
    assert tags_requests(proxy) == {}


def test_wildcard_with_a_digest_finds_the_repositories_holding_that_manifest(
    registry_factory: RegistryFactory, proxied: Callable[[Registry], FaultProxy]
) -> None:
    reg = registry_factory(plan=PLAN)
    proxy = proxied(reg)
    settings = settings_for((reg.host, proxy))
    digest = reg.images["org/aim-b", "0.9.0"].digest
    unknown = "sha256:" + "0" * 64
    spec = {
        "registry": reg.host,
        "filters": [{"image": f"org/aim-*@{digest}"}, {"image": f"org/aim-*@{unknown}"}],
    }
    pinned, absent = scan_registries(targets_for(spec), Keychain(), settings=settings)

    assert pinned.images == (ImageRef(reg.host, "org/aim-b", digest=digest),)
    assert (pinned.error, absent.error, absent.images) == (None, None, ())


def test_wildcard_with_an_exact_tag_fails_only_when_the_listing_fails(
    registry_factory: RegistryFactory, fault_proxy_factory: FaultProxies
) -> None:
    reg = registry_factory(plan=PLAN)
    proxy = fault_proxy_factory("127.0.0.1", reg.port)
    proxy.set_rules([{"match": "/v2/_catalog", "action": "status", "status": 404}])
    settings = settings_for((reg.host, proxy))
    spec = {"registry": reg.host, "filters": [{"image": "org/aim-*:1.0.0"}]}
    [result] = scan_registries(targets_for(spec), Keychain(), settings=settings)

    assert result.images == ()
    assert result.error is not None
    assert "has no catalog" in result.error


def test_docker_hub_and_ghcr_wildcards_with_an_exact_tag_or_digest(
    hub_and_ghcr: tuple[Registry, FaultProxy, FaultProxy, DockerHubApi, GitHubApi],
) -> None:
    registry, hub_proxy, ghcr_proxy, hub, github = hub_and_ghcr
    keychain = Keychain([("ghcr.io", Credential(username="someone", password=GITHUB_TOKEN))])
    digest = registry.images["silogen/aim-private", "1.0.0"].digest
    spec = {
        "filters": [
            {"image": "amd/aim-*:1.0.0"},
            {"image": "ghcr.io/silogen/*:1.0.0", "exclude": ["silogen/base"]},
            {"image": f"ghcr.io/silogen/aim-*@{digest}"},
        ]
    }
    settings = hub_settings(hub_proxy, ghcr_proxy, hub, github)
    on_hub, on_ghcr, by_digest = scan_registries(targets_for(spec), keychain, settings=settings)

    assert (on_hub.error, on_ghcr.error, by_digest.error) == (None, None, None)
    assert on_hub.images == (ImageRef("docker.io", "amd/aim-llama", tag="1.0.0"),)
    assert on_ghcr.images == (ImageRef("ghcr.io", "silogen/aim-private", tag="1.0.0"),)
    assert by_digest.images == (ImageRef("ghcr.io", "silogen/aim-private", digest=digest),)
    assert tags_requests(hub_proxy) == tags_requests(ghcr_proxy) == Counter()
