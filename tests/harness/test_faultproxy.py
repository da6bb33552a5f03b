"""Each fault proxy action, seen from an httpx client talking to a real registry through it."""

import hashlib
import socket
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.harness.faultproxy import FaultProxy
from tests.harness.populate import MANIFEST_ACCEPT, plan_from, push_image
from tests.harness.registry import Registry, RegistryFactory
from tests.harness.tls import TestCA

pytestmark = pytest.mark.registry

ProxyFactory = Callable[..., FaultProxy]
REPOSITORY = "amdenterpriseai/aim-model-001"


@pytest.fixture
def proxy(populated_registry: Registry, fault_proxy_factory: ProxyFactory) -> FaultProxy:
    return fault_proxy_factory("127.0.0.1", populated_registry.port)


@pytest.fixture
def client(proxy: FaultProxy) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=proxy.url, timeout=5) as client:
        yield client


def planned_tags(registry: Registry, repository: str = REPOSITORY) -> list[str]:
    assert registry.plan is not None
    return registry.plan.repositories[repository]


def follow_links(client: httpx.Client, url: str, max_pages: int) -> tuple[list[str], list[str]]:
    """Items (tags or repositories) of every page reached, and the URLs requested."""
    items: list[str] = []
    urls: list[str] = []
    next_url: str | None = url
    while next_url is not None and len(urls) < max_pages:
        urls.append(next_url)
        response = client.get(next_url)
        response.raise_for_status()
        body = response.json()
        items += body.get("tags") or body.get("repositories") or []
        next_url = response.links.get("next", {}).get("url")
    return items, urls


def test_requests_pass_through_with_host_and_headers(
    client: httpx.Client, proxy: FaultProxy, populated_registry: Registry
) -> None:
    response = client.get(f"/v2/{REPOSITORY}/tags/list", headers={"X-Probe": "1"})
    assert sorted(response.json()["tags"]) == sorted(planned_tags(populated_registry))
    (seen,) = proxy.requests
    assert (seen.method, seen.path, seen.action) == ("GET", f"/v2/{REPOSITORY}/tags/list", "pass")
    assert seen.headers["host"] == proxy.host
    assert seen.headers["x-probe"] == "1"


def test_keep_alive_connection_serves_many_requests(
    client: httpx.Client, proxy: FaultProxy
) -> None:
    for _ in range(5):
        assert client.get("/v2/").status_code == 200
    assert proxy.stats()["actions"] == {"pass": 5}


def test_head_keeps_the_manifest_content_length(
    client: httpx.Client, populated_registry: Registry
) -> None:
    image = populated_registry.images[REPOSITORY, planned_tags(populated_registry)[0]]
    response = client.head(
        f"/v2/{REPOSITORY}/manifests/{image.tag}", headers={"Accept": MANIFEST_ACCEPT}
    )
    assert response.headers["Docker-Content-Digest"] == image.digest
    assert int(response.headers["Content-Length"]) == len(image.manifest.data)
    assert client.get("/v2/").status_code == 200  # the connection is still in step


def test_status_answers_a_json_error_and_retry_after(
    client: httpx.Client, proxy: FaultProxy
) -> None:
    proxy.set_rules(
        [
            {"match": "GET .*/tags/list", "action": "status", "status": 429, "retry_after": 7},
            {"match": "_catalog", "action": "status", "status": 503},
        ]
    )
    limited = client.get(f"/v2/{REPOSITORY}/tags/list")
    unavailable = client.get("/v2/_catalog")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "7"
    assert limited.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
    assert unavailable.status_code == 503
    assert "errors" in unavailable.json()


def test_times_makes_a_rule_fail_exactly_n_times(client: httpx.Client, proxy: FaultProxy) -> None:
    proxy.set_rules([{"match": "tags/list", "action": "status", "status": 500, "times": 2}])
    statuses = [client.get(f"/v2/{REPOSITORY}/tags/list").status_code for _ in range(4)]
    assert statuses == [500, 500, 200, 200]
    assert proxy.stats()["rules"][0]["hits"] == 2


def test_prob_draws_are_reproducible_with_the_same_seed(
    client: httpx.Client, proxy: FaultProxy
) -> None:
    def run() -> list[int]:
        proxy.set_rules([{"match": "/v2/", "action": "status", "status": 503, "prob": 0.5}], seed=3)
        return [client.get("/v2/").status_code for _ in range(12)]

    first = run()
    assert first == run()
    assert set(first) == {200, 503}


def test_status_rule_headers_and_body_override(client: httpx.Client, proxy: FaultProxy) -> None:
    proxy.set_rules(
        [
            {
                "match": "/v2/",
                "action": "status",
                "status": 401,
                "headers": {"WWW-Authenticate": 'Bearer realm="http://elsewhere/token"'},
                "body": '{"details":"custom"}',
            }
        ]
    )
    response = client.get("/v2/")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="http://elsewhere/token"'
    assert response.json() == {"details": "custom"}


def test_drop_closes_without_a_response(client: httpx.Client, proxy: FaultProxy) -> None:
    proxy.set_rules([{"match": "/v2/", "action": "drop"}])
    with pytest.raises(httpx.RemoteProtocolError, match="without sending"):
        client.get("/v2/")


def test_reset_is_a_connection_reset(client: httpx.Client, proxy: FaultProxy) -> None:
    proxy.set_rules([{"match": "/v2/", "action": "reset"}])
    with pytest.raises(httpx.ReadError):
        client.get("/v2/")


def test_truncate_cuts_the_body_mid_way(client: httpx.Client, proxy: FaultProxy) -> None:
    proxy.set_rules([{"match": "tags/list", "action": "truncate"}])
    with pytest.raises(
        httpx.RemoteProtocolError,
        match="peer closed connection without sending complete message body",
    ):
        client.get(f"/v2/{REPOSITORY}/tags/list")


def test_stall_runs_into_the_client_read_timeout(proxy: FaultProxy) -> None:
    proxy.set_rules([{"match": "/v2/", "action": "stall", "ms": 30_000}])
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{proxy.url}/v2/", timeout=0.3)


def test_delay_answers_late_but_answers(proxy: FaultProxy) -> None:
    proxy.set_rules([{"match": "/v2/", "action": "delay", "ms": 600, "times": 1}])
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{proxy.url}/v2/", timeout=0.1)
    proxy.set_rules([{"match": "/v2/", "action": "delay", "ms": 200}])
    assert httpx.get(f"{proxy.url}/v2/", timeout=5).status_code == 200


def test_latency_applies_to_every_request(proxy: FaultProxy) -> None:
    proxy.set_rules([], latency_ms=600)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{proxy.url}/v2/", timeout=0.1)
    proxy.set_rules([], latency_ms=50)
    assert httpx.get(f"{proxy.url}/v2/", timeout=5).status_code == 200


def test_redirect_to_another_host_name_drops_authorization(proxy: FaultProxy) -> None:
    proxy.set_rules([{"match": "GET /v2/_catalog", "action": "redirect", "host": "localhost"}])
    with httpx.Client(timeout=5, follow_redirects=True) as client:
        response = client.get(f"{proxy.url}/v2/_catalog", headers={"Authorization": "Bearer t"})
    assert response.status_code == 200
    assert response.url.host == "localhost"
    first, second = proxy.requests
    assert (first.action, second.action) == ("redirect", "pass")
    assert first.headers["authorization"] == "Bearer t"
    assert "authorization" not in second.headers


def test_redirect_to_the_same_url_loops_until_the_client_gives_up(proxy: FaultProxy) -> None:
    proxy.set_rules([{"match": "/v2/", "action": "redirect"}])
    with (
        httpx.Client(timeout=5, follow_redirects=True, max_redirects=3) as client,
        pytest.raises(httpx.TooManyRedirects),
    ):
        client.get(f"{proxy.url}/v2/")


def test_paginate_serves_sorted_pages_with_relative_links(
    client: httpx.Client, proxy: FaultProxy, populated_registry: Registry
) -> None:
    tags = planned_tags(populated_registry)
    proxy.set_rules([{"match": "tags/list", "action": "paginate"}])
    first = client.get(f"/v2/{REPOSITORY}/tags/list?n=3")
    assert first.json()["tags"] == sorted(tags)[:3]
    assert first.headers["Link"].startswith(f"</v2/{REPOSITORY}/tags/list?last=")
    items, urls = follow_links(client, f"/v2/{REPOSITORY}/tags/list?n=3", max_pages=50)
    assert items == sorted(tags)
    assert len(urls) == -(-len(tags) // 3)


def test_paginate_uses_the_page_size_when_the_client_gives_no_n(
    client: httpx.Client, proxy: FaultProxy, populated_registry: Registry
) -> None:
    proxy.set_rules([{"match": "_catalog", "action": "paginate", "page_size": 60}])
    assert populated_registry.plan is not None
    items, urls = follow_links(client, "/v2/_catalog", max_pages=50)
    assert items == sorted(populated_registry.plan.repositories)
    assert len(urls) == 4


def test_link_loop_points_back_at_the_same_page(client: httpx.Client, proxy: FaultProxy) -> None:
    proxy.set_rules([{"match": "tags/list", "action": "link_loop"}])
    _, urls = follow_links(client, f"/v2/{REPOSITORY}/tags/list?n=5", max_pages=4)
    assert urls == [f"/v2/{REPOSITORY}/tags/list?n=5"] * 4


def test_endless_pages_never_run_out_and_never_repeat(
    client: httpx.Client, proxy: FaultProxy
) -> None:
    proxy.set_rules([{"match": "tags/list|_catalog", "action": "endless_pages", "page_size": 10}])
    tags, urls = follow_links(client, f"/v2/{REPOSITORY}/tags/list", max_pages=30)
    repositories, _ = follow_links(client, "/v2/_catalog?n=2", max_pages=3)
    assert len(urls) == 30
    assert len(set(tags)) == len(tags) == 300
    assert len(set(urls)) == 30
    assert len(repositories) == 6
    assert proxy.stats()["actions"] == {"endless_pages": 33}


def test_garbage_is_a_200_whose_body_is_not_json(client: httpx.Client, proxy: FaultProxy) -> None:
    proxy.set_rules([{"match": "tags/list", "action": "garbage"}])
    response = client.get(f"/v2/{REPOSITORY}/tags/list")
    assert response.status_code == 200
    with pytest.raises(ValueError, match="Expecting value"):
        response.json()


def test_tls_client_hello_on_the_plain_port_gets_400_at_once(proxy: FaultProxy) -> None:
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as raw:
        raw.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        answer = raw.recv(1024)
    assert answer.startswith(b"HTTP/1.0 400 Bad Request")


def test_unknown_actions_and_keys_are_refused(proxy: FaultProxy) -> None:
    with pytest.raises(ValueError, match="unknown action"):
        proxy.set_rules([{"match": "x", "action": "explode"}])
    with pytest.raises(ValueError, match="unknown rule keys"):
        proxy.set_rules([{"match": "x", "action": "drop", "tmies": 1}])


def test_chunked_upload_and_push_pass_through(
    registry_factory: RegistryFactory, fault_proxy_factory: ProxyFactory
) -> None:
    registry = registry_factory(plan_from({}))
    proxy = fault_proxy_factory("127.0.0.1", registry.port)
    with httpx.Client(timeout=5) as client:
        started = client.post(f"{proxy.url}/v2/org/chunked/blobs/uploads/")
        location = httpx.URL(started.headers["Location"])
        assert location.port == proxy.port  # Host passed through: the upload comes back to us
        data = b"chunked layer bytes"
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        stored = client.put(
            location.copy_merge_params({"digest": digest}),
            content=iter([data[:7], data[7:]]),  # a generator body is sent chunked
        )
        assert stored.status_code == 201
        pushed = push_image(client, proxy.url, "org/chunked", "1.0.0")
        assert client.get(f"{registry.url}/v2/org/chunked/tags/list").json()["tags"] == ["1.0.0"]
    assert pushed.tag == "1.0.0"


def test_proxy_speaks_tls_on_both_sides(
    registry_factory: RegistryFactory, fault_proxy_factory: ProxyFactory, test_ca: TestCA
) -> None:
    registry = registry_factory(plan_from({"org/model": ["1.0.0"]}), tls=test_ca)
    plain = fault_proxy_factory("127.0.0.1", registry.port, upstream_tls_ca=test_ca)
    secure = fault_proxy_factory("127.0.0.1", registry.port, upstream_tls_ca=test_ca, tls=test_ca)
    assert secure.url.startswith("https://")
    with httpx.Client(timeout=5, verify=test_ca.client_context()) as client:
        assert client.get(f"{plain.url}/v2/_catalog").json() == {"repositories": ["org/model"]}
        assert client.get(f"{secure.url}/v2/_catalog").json() == {"repositories": ["org/model"]}
        # Uploads come back through the plain proxy as http, not the registry's https.
        push_image(client, plain.url, "org/model", "2.0.0")
