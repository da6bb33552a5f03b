"""Listing ghcr.io packages through the GitHub REST API, against a local GitHub look-alike."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest

from hooks.registry.config import RegistrySettings
from hooks.registry.errors import (
    AccessDeniedError,
    AuthenticationError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    RegistryError,
    UnsupportedError,
)
from hooks.registry.github import GitHubPackagesClient
from tests.harness.apiserver import Reply
from tests.harness.github_api import GitHubApi
from tests.registry.conftest import FakeClock

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TOKEN = "ghp_classic_read_packages"
MODELS = [f"aim-model-{i:03d}" for i in range(250)]


@dataclass
class Listing:
    pages: list[list[str]]
    error: RegistryError | None
    request_count: int

    @property
    def names(self) -> list[str]:
        return [name for page in self.pages for name in page]


def list_owner(
    api: GitHubApi,
    owner: str,
    *,
    token: str | None = TOKEN,
    max_pages: int = 200,
    insecure: bool = True,
) -> Listing:
    """All pages of `owner`'s packages, with the error that ended the listing early, if any."""
    settings = RegistrySettings(
        github_api_url=api.url,
        insecure_registries=frozenset({api.host} if insecure else ()),
        max_pages=max_pages,
    )

    async def main() -> Listing:
        pages: list[list[str]] = []
        async with httpx.AsyncClient(timeout=5) as http:
            client = GitHubPackagesClient(
                http, api.url, token=token, settings=settings, clock=FakeClock(NOW)
            )
            try:
                async for page in client.packages(owner):
                    pages.append(page)
            except RegistryError as error:
                return Listing(pages, error, client.request_count)
            return Listing(pages, None, client.request_count)

    return asyncio.run(main())


def paths(api: GitHubApi) -> list[str]:
    return [request.path for request in api.requests]


def test_org_packages_arrive_in_three_pages_by_following_link() -> None:
    with GitHubApi(orgs={"silogen": MODELS}, tokens={TOKEN}) as api:
        listing = list_owner(api, "silogen")

    assert listing.error is None
    assert [len(page) for page in listing.pages] == [100, 100, 50]
    assert listing.names == [f"silogen/{name}" for name in MODELS]
    # Page 1 by login, then wherever Link points: GitHub's numeric organization path.
    assert paths(api) == ["/orgs/silogen/packages"] + ["/organizations/9919/packages"] * 2
    assert api.requests[0].query == {"package_type": ["container"], "per_page": ["100"]}
    assert [r.query["page"] for r in api.requests[1:]] == [["2"], ["3"]]
    assert listing.request_count == 3


def test_user_owner_is_listed_through_the_users_endpoint_after_the_org_404() -> None:
    with GitHubApi(users={"octocat": ["hello_docker"]}, tokens={TOKEN}) as api:
        listing = list_owner(api, "octocat")

    assert listing.names == ["octocat/hello_docker"]
    assert paths(api) == ["/orgs/octocat/packages", "/users/octocat/packages"]
    assert listing.request_count == 2


def test_package_names_with_a_slash_keep_it_in_the_repository_name() -> None:
    with GitHubApi(orgs={"silogen": ["models/aim-llama", "aim-gemma"]}, tokens={TOKEN}) as api:
        listing = list_owner(api, "silogen")

    assert listing.names == ["silogen/models/aim-llama", "silogen/aim-gemma"]


def test_every_request_carries_the_github_headers_and_the_token() -> None:
    with GitHubApi(users={"octocat": MODELS}, tokens={TOKEN}) as api:
        list_owner(api, "octocat")

    assert len(api.requests) == 4
    for request in api.requests:
        assert request.headers["accept"] == "application/vnd.github+json"
        assert request.headers["x-github-api-version"] == "2022-11-28"
        assert request.headers["authorization"] == f"Bearer {TOKEN}"


def test_without_a_token_the_error_says_how_to_enable_listing_and_nothing_is_sent() -> None:
    with GitHubApi(orgs={"silogen": MODELS}, tokens={TOKEN}) as api:
        listing = list_owner(api, "silogen", token=None)

    assert isinstance(listing.error, UnsupportedError)
    message = str(listing.error)
    assert "ghcr.io entry" in message
    assert "imagePullSecrets" in message
    assert "read:packages" in message
    assert api.requests == []


def test_wildcard_owner_cannot_be_listed() -> None:
    with GitHubApi(orgs={"silogen": MODELS}, tokens={TOKEN}) as api:
        listing = list_owner(api, "silo*")

    assert isinstance(listing.error, UnsupportedError)
    assert '"silo*"' in str(listing.error)
    assert api.requests == []


def test_unknown_owner_is_not_found_after_asking_as_org_and_as_user() -> None:
    with GitHubApi(orgs={"silogen": MODELS}, tokens={TOKEN}) as api:
        listing = list_owner(api, "nobody")

    assert isinstance(listing.error, NotFoundError)
    assert '"nobody"' in str(listing.error)
    assert paths(api) == ["/orgs/nobody/packages", "/users/nobody/packages"]


def test_spent_primary_rate_limit_waits_until_the_reset_epoch() -> None:
    with GitHubApi(orgs={"silogen": MODELS}, tokens={TOKEN}) as api:
        api.rate_limit(status=403, reset=int(NOW.timestamp()) + 600)
        listing = list_owner(api, "silogen")

    assert isinstance(listing.error, RateLimitedError)
    assert listing.error.retry_after == 600.0
    assert listing.error.status == 403


def test_secondary_rate_limit_with_retry_after_waits_that_long() -> None:
    with GitHubApi(orgs={"silogen": MODELS}, tokens={TOKEN}) as api:
        api.rate_limit(status=429, retry_after="90", reset=int(NOW.timestamp()) + 3000)
        listing = list_owner(api, "silogen")

    assert isinstance(listing.error, RateLimitedError)
    assert listing.error.retry_after == 90.0


def test_rate_limit_on_a_later_page_keeps_the_pages_already_read() -> None:
    with GitHubApi(orgs={"silogen": MODELS}, tokens={TOKEN}) as api:
        api.stub(
            "/organizations/9919/packages",
            Reply(403, {"message": "API rate limit exceeded"}, {"x-ratelimit-remaining": "0"}),
        )
        listing = list_owner(api, "silogen")

    assert isinstance(listing.error, RateLimitedError)
    assert listing.names == [f"silogen/{name}" for name in MODELS[:100]]


def test_invalid_argument_answer_asks_for_a_classic_token() -> None:
    with GitHubApi(orgs={"silogen": MODELS}, tokens={TOKEN}) as api:
        api.invalid_argument()
        listing = list_owner(api, "silogen")

    assert isinstance(listing.error, AccessDeniedError)
    assert "classic personal access token with read:packages" in str(listing.error)
    assert paths(api) == ["/orgs/silogen/packages"]


def test_forbidden_without_rate_limit_is_access_denied() -> None:
    with GitHubApi(orgs={"silogen": MODELS}, tokens={TOKEN}) as api:
        api.stub("/orgs/silogen/packages", Reply(403, {"message": "Resource not accessible"}))
        listing = list_owner(api, "silogen")

    assert isinstance(listing.error, AccessDeniedError)
    assert "read:packages" in str(listing.error)


def test_refused_token_is_an_authentication_error_that_does_not_repeat_it() -> None:
    with GitHubApi(orgs={"silogen": MODELS}, tokens={TOKEN}) as api:
        listing = list_owner(api, "silogen", token="ghp_revoked_token")

    assert isinstance(listing.error, AuthenticationError)
    assert "ghp_revoked_token" not in str(listing.error)
    assert "ghcr.io entry" in str(listing.error)


def test_page_cap_reports_truncation_after_the_pages_it_read() -> None:
    with GitHubApi(orgs={"silogen": MODELS}, tokens={TOKEN}) as api:
        listing = list_owner(api, "silogen", max_pages=2)

    assert isinstance(listing.error, ProtocolError)
    assert "more than 2 pages" in str(listing.error)
    assert len(listing.names) == 200


def test_link_to_another_host_is_refused_before_the_token_goes_there() -> None:
    with (
        GitHubApi(tokens={TOKEN}) as elsewhere,
        GitHubApi(orgs={"silogen": MODELS}, tokens={TOKEN}, link_base=elsewhere.url) as api,
    ):
        listing = list_owner(api, "silogen")

    assert isinstance(listing.error, ProtocolError)
    assert "another host" in str(listing.error)
    assert len(listing.names) == 100
    assert elsewhere.requests == []


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"packages": []}, id="object-instead-of-array"),
        pytest.param([{"id": 197}], id="package-without-name"),
        pytest.param(b"not json", id="not-json"),
    ],
)
def test_page_that_is_not_a_package_list_is_a_protocol_error(body: object) -> None:
    with GitHubApi(orgs={"silogen": MODELS}, tokens={TOKEN}) as api:
        api.stub("/orgs/silogen/packages", Reply(200, body))
        listing = list_owner(api, "silogen")

    assert isinstance(listing.error, ProtocolError)
    assert listing.pages == []


def test_token_is_not_sent_over_plain_http_to_a_host_not_listed_as_insecure() -> None:
    with GitHubApi(orgs={"silogen": MODELS}, tokens={TOKEN}) as api:
        listing = list_owner(api, "silogen", insecure=False)

    assert isinstance(listing.error, UnsupportedError)
    assert "plain HTTP" in str(listing.error)
    assert api.requests == []
