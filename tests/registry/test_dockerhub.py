"""Listing Docker Hub namespaces through the Hub REST API, against a local Hub look-alike."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import httpx
import pytest

from hooks.registry.clock import Clock
from hooks.registry.config import RegistrySettings
from hooks.registry.dockerhub import DockerHubClient
from hooks.registry.errors import (
    AuthenticationError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    RegistryError,
    UnsupportedError,
)
from tests.harness.apiserver import Reply
from tests.harness.dockerhub_api import DockerHubApi
from tests.registry.conftest import FakeClock

T = TypeVar("T")
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
MODELS = [f"aim-model-{i:03d}" for i in range(250)]


@dataclass
class Listing:
    pages: list[list[str]]
    error: RegistryError | None

    @property
    def names(self) -> list[str]:
        return [name for page in self.pages for name in page]


async def collect(client: DockerHubClient, namespace: str) -> Listing:
    pages: list[list[str]] = []
    try:
        async for page in client.repositories(namespace):
            pages.append(page)
    except RegistryError as error:
        return Listing(pages, error)
    return Listing(pages, None)


def run(
    hub: DockerHubApi,
    scenario: Callable[[DockerHubClient], Awaitable[T]],
    *,
    username: str | None = None,
    secret: str | None = None,
    clock: Clock | None = None,
    insecure: bool = True,
    max_pages: int = 200,
) -> tuple[T, DockerHubClient]:
    """Run `scenario` with a client of `hub`; plain HTTP to the local server is allowed."""
    settings = RegistrySettings(
        dockerhub_api_url=hub.url,
        insecure_registries=frozenset({hub.host} if insecure else ()),
        max_pages=max_pages,
    )

    async def main() -> tuple[T, DockerHubClient]:
        async with httpx.AsyncClient(timeout=5) as http:
            client = DockerHubClient(
                http,
                hub.url,
                username=username,
                secret=secret,
                settings=settings,
                clock=clock or FakeClock(NOW),
            )
            return await scenario(client), client

    return asyncio.run(main())


def list_namespace(hub: DockerHubApi, namespace: str, **options: object) -> Listing:
    listing, _ = run(hub, lambda client: collect(client, namespace), **options)  # type: ignore[arg-type]
    return listing


def listing_requests(hub: DockerHubApi) -> list[str]:
    return [r.path for r in hub.requests if r.method == "GET"]


def test_namespace_of_250_repositories_arrives_in_three_pages_of_full_names() -> None:
    with DockerHubApi({"amdenterpriseai": MODELS}) as hub:
        listing, client = run(hub, lambda c: collect(c, "amdenterpriseai"))

    assert listing.error is None
    assert [len(page) for page in listing.pages] == [100, 100, 50]
    assert listing.names == [f"amdenterpriseai/{name}" for name in MODELS]
    assert [r.query["page_size"] for r in hub.requests] == [["100"]] * 3
    assert client.request_count == 3


def test_exactly_the_page_cap_is_a_complete_listing() -> None:
    with DockerHubApi({"amdenterpriseai": MODELS[:200]}) as hub:
        listing = list_namespace(hub, "amdenterpriseai", max_pages=2)

    assert listing.error is None
    assert len(listing.names) == 200


def test_anonymous_listing_sees_public_repositories_only_and_sends_no_credentials() -> None:
    with DockerHubApi({"amd": ["aim-public"]}, private={"amd": ["aim-private"]}) as hub:
        listing, client = run(hub, lambda c: collect(c, "amd"))

    assert listing.names == ["amd/aim-public"]
    assert all("authorization" not in r.headers for r in hub.requests)
    assert listing_requests(hub) == ["/v2/namespaces/amd/repositories"]
    assert client.token_request_count == 0


def test_credentials_list_private_repositories_with_one_sign_in_for_all_pages() -> None:
    users = {"alice": "dckr_pat_alice"}
    with DockerHubApi({"amd": MODELS}, private={"amd": ["aim-private"]}, users=users) as hub:
        listing, client = run(
            hub, lambda c: collect(c, "amd"), username="alice", secret="dckr_pat_alice"
        )

    assert listing.error is None
    assert "amd/aim-private" in listing.names
    assert len(listing.names) == 251
    sign_ins = [r for r in hub.requests if r.method == "POST"]
    assert [r.path for r in sign_ins] == ["/v2/auth/token"]
    assert json.loads(sign_ins[0].body) == {"identifier": "alice", "secret": "dckr_pat_alice"}
    (token,) = hub.issued_tokens
    listings = [r for r in hub.requests if r.method == "GET"]
    assert [r.headers["authorization"] for r in listings] == [f"Bearer {token}"] * 3
    assert (client.request_count, client.token_request_count) == (4, 1)


def test_hub_token_is_reused_until_a_minute_before_its_ten_minutes_end() -> None:
    clock = FakeClock(NOW)

    async def three_listings(client: DockerHubClient) -> list[Listing]:
        first = await collect(client, "amd")
        clock.advance(8 * 60 + 59)
        second = await collect(client, "amd")
        clock.advance(1)
        third = await collect(client, "amd")
        return [first, second, third]

    with DockerHubApi({"amd": ["aim-a"]}, users={"alice": "pat"}) as hub:
        listings, client = run(hub, three_listings, username="alice", secret="pat", clock=clock)

    assert [listing.error for listing in listings] == [None, None, None]
    assert client.token_request_count == 2
    first_token, renewed = hub.issued_tokens
    bearers = [r.headers["authorization"] for r in hub.requests if r.method == "GET"]
    assert bearers == [f"Bearer {first_token}"] * 2 + [f"Bearer {renewed}"]


def test_refused_hub_token_fails_the_listing_and_the_next_listing_signs_in_again() -> None:
    with DockerHubApi({"amd": ["aim-a"]}, users={"alice": "pat"}) as hub:

        async def revoked_between_listings(client: DockerHubClient) -> list[Listing]:
            first = await collect(client, "amd")
            hub.revoke_tokens()
            refused = await collect(client, "amd")
            again = await collect(client, "amd")
            return [first, refused, again]

        listings, client = run(hub, revoked_between_listings, username="alice", secret="pat")

    first, refused, again = listings
    assert first.names == again.names == ["amd/aim-a"]
    assert isinstance(refused.error, AuthenticationError)
    assert client.token_request_count == 2


def test_namespace_that_shrinks_while_it_is_read_ends_at_the_page_past_its_end() -> None:
    with DockerHubApi({"amd": MODELS}) as hub:

        async def shrunk_after_first_page(client: DockerHubClient) -> Listing:
            pages: list[list[str]] = []
            async for page in client.repositories("amd"):
                pages.append(page)
                hub.publish("amd", MODELS[:50])
            return Listing(pages, None)

        listing, _ = run(hub, shrunk_after_first_page)

    assert listing.names == [f"amd/{name}" for name in MODELS[:100]]
    assert [r.query.get("page") for r in hub.requests] == [None, ["2"]]


def test_secret_travels_only_in_the_sign_in_body() -> None:
    secret = "dckr_pat_do_not_leak"
    with DockerHubApi({"amd": MODELS}, users={"alice": secret}) as hub:
        listing = list_namespace(hub, "amd", username="alice", secret=secret)

    assert listing.error is None
    for request in hub.requests:
        assert secret not in json.dumps([request.path, request.query, request.headers])
        assert (secret in request.body.decode()) == (request.path == "/v2/auth/token")


def test_wrong_secret_is_an_authentication_error_naming_the_user_not_the_secret() -> None:
    with DockerHubApi({"amd": ["aim-a"]}, users={"alice": "right"}) as hub:
        listing = list_namespace(hub, "amd", username="alice", secret="wrong-secret")

    assert isinstance(listing.error, AuthenticationError)
    assert '"alice"' in str(listing.error)
    assert "wrong-secret" not in str(listing.error)
    assert listing.pages == []
    assert listing_requests(hub) == []


def test_rate_limit_with_retry_after_seconds_reports_the_wait() -> None:
    with DockerHubApi({"amd": ["aim-a"]}) as hub:
        hub.throttle(retry_after="30")
        listing = list_namespace(hub, "amd")

    assert isinstance(listing.error, RateLimitedError)
    assert listing.error.retry_after == 30.0
    assert "retry after 30s" in str(listing.error)


def test_rate_limit_with_x_retry_after_epoch_reports_the_wait_from_the_clock() -> None:
    with DockerHubApi({"amd": ["aim-a"]}) as hub:
        hub.throttle(x_retry_after=str(int(NOW.timestamp()) + 45))
        listing = list_namespace(hub, "amd", clock=FakeClock(NOW))

    assert isinstance(listing.error, RateLimitedError)
    assert listing.error.retry_after == 45.0


def test_rate_limit_on_a_later_page_keeps_the_pages_already_read() -> None:
    with DockerHubApi({"amd": MODELS}) as hub:

        async def throttled_after_first_page(client: DockerHubClient) -> Listing:
            pages: list[list[str]] = []
            try:
                async for page in client.repositories("amd"):
                    pages.append(page)
                    hub.throttle(retry_after="5")
            except RegistryError as error:
                return Listing(pages, error)
            return Listing(pages, None)

        listing, _ = run(hub, throttled_after_first_page)

    assert isinstance(listing.error, RateLimitedError)
    assert listing.names == [f"amd/{name}" for name in MODELS[:100]]


def test_unknown_namespace_is_not_found_by_name() -> None:
    with DockerHubApi({"amd": ["aim-a"]}) as hub:
        listing = list_namespace(hub, "nobody")

    assert isinstance(listing.error, NotFoundError)
    assert str(listing.error) == 'Docker Hub namespace "nobody" not found'


def test_wildcard_namespace_cannot_be_listed_and_sends_nothing() -> None:
    with DockerHubApi({"amd": ["aim-a"]}) as hub:
        listing = list_namespace(hub, "amd*")

    assert isinstance(listing.error, UnsupportedError)
    assert str(listing.error) == (
        'a wildcard in the Docker Hub namespace ("amd*") cannot be listed; '
        "name the namespace exactly"
    )
    assert hub.requests == []


def test_page_cap_reports_truncation_after_the_pages_it_read() -> None:
    with DockerHubApi({"amd": MODELS}) as hub:
        listing = list_namespace(hub, "amd", max_pages=2)

    assert isinstance(listing.error, ProtocolError)
    assert "more than 2 pages" in str(listing.error)
    assert len(listing.names) == 200
    assert len(hub.requests) == 2


def test_next_page_on_another_host_is_refused_before_any_credential_goes_there() -> None:
    with (
        DockerHubApi({}) as elsewhere,
        DockerHubApi({"amd": MODELS}, users={"alice": "pat"}, link_base=elsewhere.url) as hub,
    ):
        listing = list_namespace(hub, "amd", username="alice", secret="pat")

    assert isinstance(listing.error, ProtocolError)
    assert "another host" in str(listing.error)
    assert len(listing.names) == 100
    assert elsewhere.requests == []


def test_next_link_that_loops_back_is_refused() -> None:
    with DockerHubApi({"amd": MODELS}, looping_page=2) as hub:
        listing = list_namespace(hub, "amd")

    assert isinstance(listing.error, ProtocolError)
    assert "loop" in str(listing.error)
    assert len(listing.names) == 200


@pytest.mark.parametrize(
    "body",
    [
        pytest.param([{"name": "aim-a"}], id="array-instead-of-page"),
        pytest.param({"count": 1, "next": None, "results": [{"id": 1}]}, id="result-without-name"),
        pytest.param({"count": 1, "next": 2, "results": []}, id="next-not-a-url"),
        pytest.param(b"<html>maintenance</html>", id="not-json"),
    ],
)
def test_page_that_is_not_a_repository_list_is_a_protocol_error(body: object) -> None:
    with DockerHubApi({"amd": ["aim-a"]}) as hub:
        hub.stub("/v2/namespaces/amd/repositories", Reply(200, body))
        listing = list_namespace(hub, "amd")

    assert isinstance(listing.error, ProtocolError)
    assert listing.pages == []


def test_secret_is_not_sent_over_plain_http_to_a_host_not_listed_as_insecure() -> None:
    with DockerHubApi({"amd": ["aim-a"]}, users={"alice": "pat"}) as hub:
        listing = list_namespace(hub, "amd", username="alice", secret="pat", insecure=False)

    assert isinstance(listing.error, UnsupportedError)
    assert "plain HTTP" in str(listing.error)
    assert hub.requests == []
