"""The OCI distribution client against the real registry, directly and through faults."""

import asyncio
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from hooks.registry.config import RegistrySettings
from hooks.registry.distribution import DistributionClient, TagList
from hooks.registry.errors import (
    AuthenticationError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    RegistryError,
    TLSError,
    UnavailableError,
    UnsupportedError,
)
from tests.harness.faultproxy import FaultProxy
from tests.harness.populate import delete_tag, plan_from
from tests.harness.registry import BasicAuth, Registry, RegistryFactory, TokenAuth
from tests.harness.tls import TestCA
from tests.harness.tokenserver import TokenServer
from tests.registry.conftest import ALICE, USERS, Connect, FakeClock

pytestmark = pytest.mark.registry

FaultProxies = Callable[..., FaultProxy]
SMALL = plan_from({"org/a": ["1.0.0", "1.1.0"], "org/b": ["2.0.0"]})


def most_tagged(registry: Registry) -> str:
    assert registry.plan is not None
    return max(sorted(registry.plan.repositories), key=lambda r: len(registry.plan.repositories[r]))  # type: ignore[union-attr]


def run_catalog(client: DistributionClient, **options: Any) -> list[list[str]]:
    async def pages() -> list[list[str]]:
        return [page async for page in client.catalog(**options)]

    return asyncio.run(pages())


async def collect(client: DistributionClient, pages: list[list[str]], **options: Any) -> None:
    """Append each catalog page as it comes, so a test sees the pages before a failure."""
    async for page in client.catalog(**options):
        pages.append(page)


@pytest.fixture
def proxy(populated_registry: Registry, fault_proxy_factory: FaultProxies) -> FaultProxy:
    """A fault proxy in front of the populated registry (rules set per test)."""
    return fault_proxy_factory("127.0.0.1", populated_registry.port)


# --- catalog ------------------------------------------------------------------------------------


def test_catalog_pages_through_every_repository(
    populated_registry: Registry, connect: Connect
) -> None:
    assert populated_registry.plan is not None
    expected = sorted(populated_registry.plan.repositories)

    async def scenario() -> tuple[list[list[str]], int]:
        async with connect(populated_registry) as client:
            return [page async for page in client.catalog(page_size=7)], client.request_count

    pages, requests = asyncio.run(scenario())
    assert [name for page in pages for name in page] == expected
    assert len(pages) == math.ceil(len(expected) / 7) == requests
    assert all(len(page) == 7 for page in pages[:-1])


def test_catalog_resumes_after_a_repository(populated_registry: Registry, connect: Connect) -> None:
    async def scenario() -> list[str]:
        async with connect(populated_registry) as client:
            start = "amdenterpriseai/aim-model-198"
            return [n async for page in client.catalog(start_after=start) for n in page]

    assert asyncio.run(scenario()) == [
        "amdenterpriseai/aim-model-199",
        "amdenterpriseai/aim-model-200",
        "library/hello",
        "otherorg/aim-model-999",
    ]


def test_catalog_beyond_the_page_cap_yields_pages_then_fails(
    populated_registry: Registry, connect: Connect
) -> None:
    pages: list[list[str]] = []

    async def scenario() -> None:
        async with connect(
            populated_registry, settings=insecure(populated_registry, max_pages=3)
        ) as c:
            await collect(c, pages, page_size=10)

    with pytest.raises(ProtocolError, match="more than 3 pages"):
        asyncio.run(scenario())
    assert [len(page) for page in pages] == [10, 10, 10]


def test_endless_catalog_stops_at_the_page_cap(proxy: FaultProxy, connect: Connect) -> None:
    proxy.set_rules([{"match": "_catalog", "action": "endless_pages"}])

    async def scenario() -> None:
        async with connect(proxy, settings=insecure(proxy, max_pages=4)) as client:
            await collect(client, [], page_size=5)

    with pytest.raises(ProtocolError, match="more than 4 pages"):
        asyncio.run(scenario())
    assert len(proxy.requests) == 4


def test_catalog_link_that_loops_is_a_protocol_error(proxy: FaultProxy, connect: Connect) -> None:
    # One upstream page, to which the proxy adds a Link to itself.
    proxy.set_rules([{"match": "_catalog", "action": "link_loop"}])
    pages: list[list[str]] = []

    async def scenario() -> None:
        async with connect(proxy) as client:
            await collect(client, pages, page_size=1000)

    with pytest.raises(ProtocolError, match="loop back to a page already read"):
        asyncio.run(scenario())
    assert len(proxy.requests) == 1
    assert len(pages) == 1


def test_missing_catalog_is_unsupported_and_suggests_exact_names(
    proxy: FaultProxy, connect: Connect
) -> None:
    proxy.set_rules([{"match": "_catalog", "action": "status", "status": 404}])

    async def scenario() -> None:
        async with connect(proxy) as client:
            await collect(client, [])

    with pytest.raises(UnsupportedError, match="name exact repositories instead of wildcards"):
        asyncio.run(scenario())


def test_catalog_closed_to_anonymous_tokens_is_unsupported(
    registry_factory: RegistryFactory,
    token_server: Callable[..., TokenServer],
    connect: Connect,
) -> None:
    server = token_server(users=USERS, catalog_requires_auth=True)
    registry = registry_factory(SMALL, auth=TokenAuth(server))

    async def scenario() -> None:
        async with connect(registry) as client:
            await collect(client, [])

    with pytest.raises(UnsupportedError) as raised:
        asyncio.run(scenario())
    assert str(raised.value) == (
        f"listing the repositories of {registry.host}: {registry.host} does not let these "
        "credentials list its catalog (401); name exact repositories instead of wildcards"
    )


def test_catalog_with_basic_credentials(
    registry_factory: RegistryFactory, connect: Connect
) -> None:
    registry = registry_factory(SMALL, auth=BasicAuth(USERS))

    async def scenario() -> list[list[str]]:
        async with connect(registry, credential=ALICE) as client:
            return [page async for page in client.catalog()]

    assert asyncio.run(scenario()) == [["org/a", "org/b"]]


def test_catalog_with_a_wrong_password_is_an_authentication_error(
    registry_factory: RegistryFactory, connect: Connect
) -> None:
    registry = registry_factory(SMALL, auth=BasicAuth(USERS))

    async def scenario() -> None:
        async with connect(registry, credential=ALICE.__class__("alice", "nope")) as client:
            await collect(client, [])

    with pytest.raises(AuthenticationError, match="refused the credentials"):
        asyncio.run(scenario())


# --- tags ---------------------------------------------------------------------------------------


def test_tags_of_a_repository(populated_registry: Registry, connect: Connect) -> None:
    repository = most_tagged(populated_registry)
    assert populated_registry.plan is not None

    async def scenario() -> TagList:
        async with connect(populated_registry) as client:
            return await client.tags(repository)

    listed = asyncio.run(scenario())
    assert sorted(listed.tags) == sorted(populated_registry.plan.repositories[repository])
    assert listed.truncated is False


def test_tags_follow_link_pages(
    proxy: FaultProxy, populated_registry: Registry, connect: Connect
) -> None:
    repository = most_tagged(populated_registry)
    assert populated_registry.plan is not None
    expected = sorted(populated_registry.plan.repositories[repository])
    proxy.set_rules([{"match": "tags/list", "action": "paginate", "page_size": 4}])

    async def scenario() -> tuple[TagList, int]:
        async with connect(proxy) as client:
            return await client.tags(repository), client.request_count

    listed, requests = asyncio.run(scenario())
    assert listed == TagList(expected, truncated=False)
    assert requests == math.ceil(len(expected) / 4)


def test_tags_are_capped_and_marked_truncated(
    proxy: FaultProxy, populated_registry: Registry, connect: Connect
) -> None:
    repository = most_tagged(populated_registry)
    assert populated_registry.plan is not None
    expected = sorted(populated_registry.plan.repositories[repository])[:10]
    settings = insecure(proxy, max_tags_per_repository=10)

    async def scenario(page_size: int) -> tuple[TagList, int]:
        proxy.set_rules([{"match": "tags/list", "action": "paginate", "page_size": page_size}])
        async with connect(proxy, settings=settings) as client:
            return await client.tags(repository), client.request_count

    assert asyncio.run(scenario(4)) == (TagList(expected, truncated=True), 3)
    assert asyncio.run(scenario(5)) == (TagList(expected, truncated=True), 2)
    assert asyncio.run(scenario(100)) == (TagList(expected, truncated=True), 1)


def test_tags_are_filtered_page_by_page_and_the_cap_counts_every_tag_listed(
    proxy: FaultProxy, populated_registry: Registry, connect: Connect
) -> None:
    repository = most_tagged(populated_registry)
    assert populated_registry.plan is not None
    every = sorted(populated_registry.plan.repositories[repository])
    wanted = set(every[::3])

    async def scenario(limit: int) -> TagList:
        proxy.set_rules([{"match": "tags/list", "action": "paginate", "page_size": 4}])
        async with connect(proxy, settings=insecure(proxy, max_tags_per_repository=limit)) as c:
            return await c.tags(repository, keep=wanted.__contains__)

    assert asyncio.run(scenario(10_000)) == TagList(sorted(wanted), truncated=False)
    # The cap is on tags listed, kept or not: 10 listed, of which every third is kept.
    assert asyncio.run(scenario(10)) == TagList(every[:10:3], truncated=True)


def test_endless_tag_pages_stop_at_the_page_cap(proxy: FaultProxy, connect: Connect) -> None:
    proxy.set_rules([{"match": "tags/list", "action": "endless_pages", "page_size": 3}])

    async def scenario() -> None:
        async with connect(proxy, settings=insecure(proxy, max_pages=5)) as client:
            await client.tags("amdenterpriseai/aim-model-001")

    with pytest.raises(ProtocolError, match="more than 5 pages"):
        asyncio.run(scenario())
    assert len(proxy.requests) == 5


def test_tags_null_is_an_empty_list(registry_factory: RegistryFactory, connect: Connect) -> None:
    registry = registry_factory(plan_from({"org/emptied": ["1.0.0"]}))
    with registry.client() as sync_client:
        delete_tag(sync_client, registry.url, "org/emptied", "1.0.0")
        assert sync_client.get("/v2/org/emptied/tags/list").json()["tags"] is None

    async def scenario() -> TagList:
        async with connect(registry) as client:
            return await client.tags("org/emptied")

    assert asyncio.run(scenario()) == TagList([], truncated=False)


def test_unknown_repository_is_not_found(populated_registry: Registry, connect: Connect) -> None:
    async def scenario() -> None:
        async with connect(populated_registry) as client:
            await client.tags("org/does-not-exist")

    with pytest.raises(NotFoundError) as raised:
        asyncio.run(scenario())
    host = populated_registry.host
    assert str(raised.value) == (
        f"listing tags of {host}/org/does-not-exist: repository org/does-not-exist not found on "
        f"{host} (NAME_UNKNOWN)"
    )


# --- manifests ----------------------------------------------------------------------------------


def test_manifest_exists_gives_the_digest_of_oci_and_docker_manifests(
    populated_registry: Registry, connect: Connect
) -> None:
    plan = populated_registry.plan
    assert plan is not None
    by_format = {plan.manifest_format(repo): repo for repo in sorted(plan.repositories)}
    cases = [(repo, plan.repositories[repo][0]) for repo in by_format.values()]
    assert len(cases) == 2  # one OCI and one Docker schema2 repository

    async def scenario() -> list[str | None]:
        async with connect(populated_registry) as client:
            return [await client.manifest_exists(repo, tag) for repo, tag in cases]

    digests = asyncio.run(scenario())
    assert digests == [populated_registry.images[case].digest for case in cases]


def test_manifest_exists_by_digest_and_missing_ones(
    populated_registry: Registry, connect: Connect
) -> None:
    image = populated_registry.images[("library/hello", "latest")]
    missing = "sha256:" + "0" * 64

    async def scenario() -> list[str | None]:
        async with connect(populated_registry) as client:
            return [
                await client.manifest_exists("library/hello", image.digest),
                await client.manifest_exists("library/hello", "no-such-tag"),
                await client.manifest_exists("library/hello", missing),
                await client.manifest_exists("org/does-not-exist", "latest"),
            ]

    assert asyncio.run(scenario()) == [image.digest, None, None, None]


def test_manifest_head_failure_raises(proxy: FaultProxy, connect: Connect) -> None:
    proxy.set_rules([{"match": "HEAD .*/manifests/", "action": "status", "status": 503}])

    async def scenario() -> None:
        async with connect(proxy) as client:
            await client.manifest_exists("library/hello", "latest")

    with pytest.raises(UnavailableError, match=f"looking up {proxy.host}/library/hello:latest"):
        asyncio.run(scenario())


# --- faults -------------------------------------------------------------------------------------


def tags_of(server: Registry | FaultProxy, connect: Connect, **options: Any) -> TagList:
    async def scenario() -> TagList:
        async with connect(server, **options) as client:
            return await client.tags("amdenterpriseai/aim-model-001")

    return asyncio.run(scenario())


def test_rate_limit_carries_retry_after(proxy: FaultProxy, connect: Connect) -> None:
    proxy.set_rules([{"match": "tags/list", "action": "status", "status": 429, "retry_after": 7}])
    with pytest.raises(RateLimitedError) as raised:
        tags_of(proxy, connect)
    assert raised.value.retry_after == 7.0
    assert str(raised.value).startswith(
        f"listing tags of {proxy.host}/amdenterpriseai/aim-model-001: rate limited"
    )


def test_rate_limit_http_date_counts_from_the_injected_clock(
    proxy: FaultProxy, connect: Connect
) -> None:
    clock = FakeClock()
    when = format_datetime(
        datetime.fromtimestamp(clock.now, UTC) + timedelta(seconds=120), usegmt=True
    )
    proxy.set_rules(
        [
            {
                "match": "tags/list",
                "action": "status",
                "status": 429,
                "headers": {"Retry-After": when},
            }
        ]
    )
    with pytest.raises(RateLimitedError) as raised:
        tags_of(proxy, connect, clock=clock)
    assert raised.value.retry_after is not None and 119 <= raised.value.retry_after <= 120


@pytest.mark.parametrize(
    ("rule", "error", "message"),
    [
        ({"action": "status", "status": 500}, UnavailableError, "failed with 500 (UNAVAILABLE)"),
        ({"action": "status", "status": 503}, UnavailableError, "failed with 503"),
        ({"action": "drop"}, UnavailableError, "was dropped"),
        ({"action": "reset"}, UnavailableError, "was dropped"),
        ({"action": "truncate"}, UnavailableError, "was dropped"),
        ({"action": "garbage"}, ProtocolError, "not JSON"),
        ({"action": "stall", "ms": 3000}, UnavailableError, "did not answer in time"),
        ({"action": "redirect"}, ProtocolError, "redirected more than 5 times"),
    ],
)
def test_faults_become_registry_errors_that_say_what_we_were_doing(
    proxy: FaultProxy,
    connect: Connect,
    rule: dict[str, Any],
    error: type[RegistryError],
    message: str,
) -> None:
    proxy.set_rules([{"match": "tags/list", **rule}])
    with pytest.raises(error, match=re.escape(message)) as raised:
        tags_of(proxy, connect, settings=insecure(proxy, request_timeout=0.5))
    assert str(raised.value).startswith(
        f"listing tags of {proxy.host}/amdenterpriseai/aim-model-001: "
    )


def test_a_transient_fault_does_not_poison_the_client(proxy: FaultProxy, connect: Connect) -> None:
    proxy.set_rules([{"match": "tags/list", "action": "drop", "times": 1}])

    async def scenario() -> TagList:
        async with connect(proxy) as client:
            with pytest.raises(UnavailableError):
                await client.tags("library/hello")
            return await client.tags("library/hello")

    assert asyncio.run(scenario()) == TagList(["latest"], truncated=False)


# --- TLS ----------------------------------------------------------------------------------------


def test_tls_registry_is_trusted_through_the_ca_bundle(
    registry_factory: RegistryFactory, test_ca: TestCA, tmp_path: Path, connect: Connect
) -> None:
    registry = registry_factory(SMALL, tls=test_ca)
    trusted = RegistrySettings(ca_bundle=str(test_ca.ca_file))

    async def scenario(settings: RegistrySettings) -> TagList:
        async with connect(registry, settings=settings) as client:
            return await client.tags("org/b")

    assert asyncio.run(scenario(trusted)) == TagList(["2.0.0"], truncated=False)
    other_ca = TestCA(tmp_path / "other-ca", name="other-ca")
    with pytest.raises(TLSError, match=f"TLS handshake with {registry.host} failed"):
        asyncio.run(scenario(RegistrySettings(ca_bundle=str(other_ca.ca_file))))
    with pytest.raises(TLSError):
        asyncio.run(scenario(RegistrySettings()))


def insecure(server: Registry | FaultProxy, **options: Any) -> RegistrySettings:
    """Settings for a plain-HTTP test server: listed as insecure, plus `options`."""
    return RegistrySettings(insecure_registries=frozenset({server.host}), **options)
