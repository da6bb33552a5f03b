"""Link pagination and Retry-After, as registries and APIs really send them."""

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from hooks.registry.transport import next_link, retry_after_seconds
from tests.shared import shared_path

NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)


def fixture_headers(name: str) -> httpx.Headers:
    document = json.loads(shared_path(f"registry/api-fixtures/{name}").read_text())
    return httpx.Headers(document["headers"])


@pytest.mark.parametrize(
    ("fixture", "request_url", "expected"),
    [
        (
            "oci/catalog_page1.headers.json",
            "http://127.0.0.1:5000/v2/_catalog?n=2",
            "http://127.0.0.1:5000/v2/_catalog?last=aim-llama-3-1-8b&n=2",
        ),
        (
            "oci/tags_list_page1.headers.json",
            "https://nexus.example.com:8443/v2/amdenterpriseai/aim-llama-3-1-8b/tags/list?n=3",
            "https://nexus.example.com:8443/v2/amdenterpriseai/aim-llama-3-1-8b/tags/list"
            "?last=0.8.1-rc1&n=3",
        ),
        (
            "ghcr/tags_list_page1.headers.json",
            "https://ghcr.io/v2/silogen/aim-llama/tags/list",
            "https://ghcr.io/v2/silogen/aim-llama/tags/list?last=0.8.1-rc1&n=3",
        ),
        (
            "github/org_packages_container.headers.json",
            "https://api.github.com/orgs/x/packages?package_type=container",
            "https://api.github.com/organizations/9919/packages?package_type=container&per_page=2&page=2",
        ),
    ],
)
def test_next_link_of_fixture_is_resolved_against_the_request_url(
    fixture: str, request_url: str, expected: str
) -> None:
    assert next_link(fixture_headers(fixture), httpx.URL(request_url)) == httpx.URL(expected)


def test_relative_link_keeps_the_port_and_scheme_of_the_request() -> None:
    headers = httpx.Headers({"Link": '</v2/_catalog?last=a%2Fb&n=10>; rel="next"'})
    url = next_link(headers, httpx.URL("https://reg.example.com:8443/v2/_catalog?n=10"))
    assert url == httpx.URL("https://reg.example.com:8443/v2/_catalog?last=a%2Fb&n=10")
    assert url is not None and url.params["last"] == "a/b"


def test_next_is_found_among_several_links_and_header_lines() -> None:
    headers = httpx.Headers(
        [
            ("Link", '<https://api.example.com/p?page=1>; rel="prev"'),
            ("Link", '<https://api.example.com/p?page=9>; rel="last", <?page=3>; rel=next'),
        ]
    )
    url = next_link(headers, httpx.URL("https://api.example.com/p?page=2"))
    assert url == httpx.URL("https://api.example.com/p?page=3")


def test_rel_with_several_values_and_other_parameters() -> None:
    headers = httpx.Headers({"Link": '</page/2>; title="x"; rel="next last"'})
    assert next_link(headers, httpx.URL("https://h/page/1")) == httpx.URL("https://h/page/2")


@pytest.mark.parametrize("link", [None, '</v2/_catalog?last=z>; rel="prev"', "garbage"])
def test_no_next_link(link: str | None) -> None:
    headers = httpx.Headers({} if link is None else {"Link": link})
    assert next_link(headers, httpx.URL("https://h/v2/_catalog")) is None


@pytest.mark.parametrize(
    ("fixture", "seconds"),
    [
        ("oci/error_toomanyrequests.headers.json", 60.0),
        ("dockerhub/hub_api_429.headers.json", 30.0),
    ],
)
def test_retry_after_seconds_of_fixture(fixture: str, seconds: float) -> None:
    assert retry_after_seconds(fixture_headers(fixture), NOW) == seconds


def test_retry_after_http_date_counts_from_now() -> None:
    later = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    assert retry_after_seconds(httpx.Headers({"Retry-After": later}), NOW) == 90.0
    earlier = format_datetime(NOW - timedelta(seconds=90), usegmt=True)
    assert retry_after_seconds(httpx.Headers({"Retry-After": earlier}), NOW) == 0.0


def test_docker_hub_x_retry_after_is_an_epoch() -> None:
    epoch = str(int((NOW + timedelta(seconds=42)).timestamp()))
    assert retry_after_seconds(httpx.Headers({"X-Retry-After": epoch}), NOW) == 42.0


@pytest.mark.parametrize("headers", [{}, {"Retry-After": "soon"}, {"X-Retry-After": "later"}])
def test_unusable_retry_after_is_none(headers: dict[str, str]) -> None:
    assert retry_after_seconds(httpx.Headers(headers), NOW) is None
