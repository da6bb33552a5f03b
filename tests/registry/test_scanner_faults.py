"""The scanner against a real registry behind a fault proxy: every failure is a filter's result.

Whatever the registry does (rate limits, 5xx, dropped or stalled connections, garbage, looping or
endless pages, redirects), `scan_registries` returns one result per target, keeps what it could
read and says what went wrong. What the scanner did is read from the proxy's request log, never
from the wall clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from hooks.reference import ImageRef
from hooks.registry.clock import SYSTEM_CLOCK
from hooks.registry.config import RegistrySettings
from hooks.registry.credentials import Keychain
from hooks.registry.scanner import scan_registries
from hooks.registry.targets import ScanTarget, TargetResult
from tests.harness.faultproxy import FaultProxy
from tests.harness.populate import plan_from
from tests.harness.registry import BasicAuth, Registry, RegistryFactory
from tests.registry.conftest import ALICE, JumpingClock
from tests.registry.scanning import sent_authorizations, targets_for

pytestmark = pytest.mark.registry

FaultProxies = Callable[..., FaultProxy]
REPOSITORIES = [f"org/model-{n:02d}" for n in range(40)]
PLAN = plan_from({name: ["1.0.0", "1.1.0", "latest"] for name in REPOSITORIES})
TAGS = "GET /v2/org/model-00/tags/list"


@pytest.fixture(scope="module")
def registry(registry_binary: Path) -> Iterator[Registry]:
    """40 repositories of three tags each; the tests only read it."""
    with Registry(PLAN, binary=registry_binary) as started:
        yield started


@pytest.fixture
def proxy(registry: Registry, fault_proxy_factory: FaultProxies) -> FaultProxy:
    return fault_proxy_factory("127.0.0.1", registry.port)


def scan(
    registry: Registry,
    proxy: FaultProxy,
    targets: list[ScanTarget],
    keychain: Keychain | None = None,
    **options: Any,
) -> list[TargetResult]:
    """Scan through the proxy with a short request timeout and a deadline that fit the tests."""
    options.setdefault("request_timeout", 1.0)
    options.setdefault("scan_deadline", 4.0)
    clock = options.pop("clock", SYSTEM_CLOCK)
    settings = RegistrySettings(
        endpoints={registry.host: proxy.url},
        insecure_registries=frozenset({registry.host}),
        **options,
    )
    return scan_registries(targets, keychain or Keychain(), settings=settings, clock=clock)


def one(registry: Registry, image: str, **filter_options: Any) -> list[ScanTarget]:
    return targets_for({"registry": registry.host, "filters": [{"image": image, **filter_options}]})


def images_of(registry: Registry, *repositories: str) -> set[ImageRef]:
    return {ImageRef(registry.host, r, tag=t) for r in repositories for t in PLAN.repositories[r]}


def actions(proxy: FaultProxy, path: str) -> list[str]:
    """What the proxy did with each request for `path`, in order."""
    return [r.action for r in proxy.requests if r.path == path]


# --- rate limits ---------------------------------------------------------------------------------


def test_retry_after_that_fits_the_deadline_is_waited_out_and_the_scan_succeeds(
    registry: Registry, proxy: FaultProxy
) -> None:
    proxy.set_rules(
        [{"match": TAGS, "action": "status", "status": 429, "retry_after": 1, "times": 1}]
    )
    [result] = scan(registry, proxy, one(registry, "org/model-00"))

    assert (result.error, result.retry_after) == (None, None)
    assert set(result.images) == images_of(registry, "org/model-00")
    assert actions(proxy, "/v2/org/model-00/tags/list") == ["status", "pass"]


def test_retry_after_beyond_the_deadline_is_the_filters_error_with_its_wait(
    registry: Registry, proxy: FaultProxy
) -> None:
    proxy.set_rules([{"match": TAGS, "action": "status", "status": 429, "retry_after": 60}])
    [result] = scan(registry, proxy, one(registry, "org/model-00"))

    assert result.images == ()
    assert result.error is not None
    assert "rate limited" in result.error
    assert result.retry_after == 60
    assert result.finished
    assert actions(proxy, "/v2/org/model-00/tags/list") == ["status"]


def test_rate_limit_without_retry_after_is_an_error_at_once(
    registry: Registry, proxy: FaultProxy
) -> None:
    proxy.set_rules([{"match": TAGS, "action": "status", "status": 429}])
    [result] = scan(registry, proxy, one(registry, "org/model-00"))

    assert result.error is not None
    assert "rate limited" in result.error
    assert result.retry_after is None
    assert actions(proxy, "/v2/org/model-00/tags/list") == ["status"]


def test_retry_after_zero_forever_is_retried_a_few_times_only(
    registry: Registry, proxy: FaultProxy
) -> None:
    proxy.set_rules([{"match": TAGS, "action": "status", "status": 429, "retry_after": 0}])
    [result] = scan(registry, proxy, one(registry, "org/model-00"))

    assert result.error is not None
    assert "rate limited" in result.error
    assert len(actions(proxy, "/v2/org/model-00/tags/list")) == 4  # the call and 3 waits


# --- transient and persistent failures -----------------------------------------------------------


@pytest.mark.parametrize(("status", "times"), [(500, 1), (502, 1), (503, 2)])
def test_transient_server_errors_are_retried_and_then_succeed(
    registry: Registry, proxy: FaultProxy, status: int, times: int
) -> None:
    proxy.set_rules([{"match": TAGS, "action": "status", "status": status, "times": times}])
    [result] = scan(registry, proxy, one(registry, "org/model-00"))

    assert result.error is None
    assert set(result.images) == images_of(registry, "org/model-00")
    assert actions(proxy, "/v2/org/model-00/tags/list") == ["status"] * times + ["pass"]


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ({"action": "status", "status": 503}, "failed with 503"),
        ({"action": "drop"}, "was dropped"),
        ({"action": "reset"}, "was dropped"),
        ({"action": "truncate"}, "was dropped"),
    ],
)
def test_persistent_failures_are_retried_twice_then_the_filters_error(
    registry: Registry, proxy: FaultProxy, action: Mapping[str, Any], message: str
) -> None:
    proxy.set_rules([{"match": TAGS, **action}])
    [result] = scan(registry, proxy, one(registry, "org/model-00"))

    assert result.images == ()
    assert result.error is not None
    assert message in result.error
    assert "org/model-00" in result.error
    assert len(actions(proxy, "/v2/org/model-00/tags/list")) == 3


def test_garbage_instead_of_json_is_a_protocol_error_not_retried(
    registry: Registry, proxy: FaultProxy
) -> None:
    proxy.set_rules([{"match": TAGS, "action": "garbage"}])
    [result] = scan(registry, proxy, one(registry, "org/model-00"))

    assert result.error is not None
    assert "not JSON" in result.error
    assert actions(proxy, "/v2/org/model-00/tags/list") == ["garbage"]


def test_a_stall_shorter_than_the_deadline_times_out_as_the_filters_error(
    registry: Registry, proxy: FaultProxy
) -> None:
    proxy.set_rules([{"match": TAGS, "action": "stall", "ms": 5000}])
    [result] = scan(registry, proxy, one(registry, "org/model-00"), request_timeout=0.2)

    assert result.finished
    assert result.error is not None
    assert "did not answer in time" in result.error
    assert len(actions(proxy, "/v2/org/model-00/tags/list")) == 3


def test_a_stall_beyond_the_deadline_returns_unfinished_at_the_deadline(
    registry: Registry, proxy: FaultProxy
) -> None:
    """A ten-minute deadline against a registry that stalls for a minute: on a clock that jumps
    while the scan waits, the deadline comes first, and the stalled target is unfinished."""
    proxy.set_rules([{"match": TAGS, "action": "stall"}])  # 60 s of real time
    exact, other = scan(
        registry,
        proxy,
        targets_for(
            {
                "registry": registry.host,
                "filters": [{"image": "org/model-00"}, {"image": "org/model-01"}],
            }
        ),
        request_timeout=30.0,
        scan_deadline=600.0,
        clock=JumpingClock(),
    )

    assert (exact.finished, exact.images, exact.error) == (False, (), None)
    assert other.finished
    assert set(other.images) == images_of(registry, "org/model-01")


def test_a_long_retry_after_is_waited_out_on_the_scans_clock(
    registry: Registry, proxy: FaultProxy
) -> None:
    proxy.set_rules(
        [{"match": TAGS, "action": "status", "status": 429, "retry_after": 120, "times": 1}]
    )
    [result] = scan(
        registry, proxy, one(registry, "org/model-00"), scan_deadline=600.0, clock=JumpingClock()
    )

    assert (result.finished, result.error) == (True, None)
    assert set(result.images) == images_of(registry, "org/model-00")
    assert actions(proxy, "/v2/org/model-00/tags/list") == ["status", "pass"]


# --- paging trouble and redirects ----------------------------------------------------------------


def test_a_tags_link_that_loops_is_an_error(registry: Registry, proxy: FaultProxy) -> None:
    proxy.set_rules([{"match": TAGS, "action": "link_loop"}])
    [result] = scan(registry, proxy, one(registry, "org/model-00"))

    assert result.error is not None
    assert "loop back to a page already read" in result.error
    assert len(actions(proxy, "/v2/org/model-00/tags/list")) == 1


def test_endless_tag_pages_stop_at_the_page_cap(registry: Registry, proxy: FaultProxy) -> None:
    proxy.set_rules([{"match": TAGS, "action": "endless_pages"}])
    [result] = scan(registry, proxy, one(registry, "org/model-00"), max_pages=5)

    assert result.error is not None
    assert "more than 5 pages" in result.error
    assert len(actions(proxy, "/v2/org/model-00/tags/list")) == 5


def test_a_catalog_that_fails_midway_keeps_the_repositories_read_before(
    populated_registry: Registry, fault_proxy_factory: FaultProxies
) -> None:
    proxy = fault_proxy_factory("127.0.0.1", populated_registry.port)
    proxy.set_rules([{"match": "GET /v2/_catalog.*last=", "action": "status", "status": 503}])
    [result] = scan(populated_registry, proxy, one(populated_registry, "amdenterpriseai/aim-*"))

    # Page one (aim-base, aim-model-001 .. 099) stands; the page after it failed three times,
    # each retry continuing after the last name read.
    assert populated_registry.plan is not None
    first_page = [r for r in sorted(populated_registry.plan.repositories)][:100]
    assert {i.repository for i in result.images} == set(first_page)
    assert result.finished
    assert result.error is not None
    assert "listing the repositories" in result.error
    assert "503" in result.error
    retried = [r.target for r in proxy.requests if r.action == "status"]
    assert len(retried) == 3
    assert all("last=amdenterpriseai%2Faim-model-099" in target for target in retried)


def test_a_catalog_link_that_loops_keeps_the_first_page_and_reports_the_loop(
    registry: Registry, proxy: FaultProxy
) -> None:
    proxy.set_rules([{"match": "GET /v2/_catalog", "action": "link_loop"}])
    [result] = scan(registry, proxy, one(registry, "org/model-0*"))

    assert result.finished
    assert result.error is not None
    assert "loop back to a page already read" in result.error
    assert set(result.images) == images_of(registry, *REPOSITORIES[:10])


def test_a_redirect_to_another_host_never_carries_the_credentials(
    registry_factory: RegistryFactory, fault_proxy_factory: FaultProxies
) -> None:
    guarded = registry_factory(PLAN, auth=BasicAuth({"alice": "secret"}))
    proxy = fault_proxy_factory("127.0.0.1", guarded.port)
    proxy.set_rules([{"match": "GET .*/tags/list", "action": "redirect", "host": "localhost"}])
    # The redirect goes to localhost: a network sources may reach, for this test.
    [result] = scan(
        guarded,
        proxy,
        one(guarded, "org/model-0*"),
        Keychain([(guarded.host, ALICE)]),
        denied_networks=(),
    )

    assert result.images == ()
    assert result.error is not None
    assert "localhost" in result.error
    redirected = [r for r in proxy.requests if r.headers.get("host", "").startswith("localhost")]
    assert len(redirected) == 10
    assert sent_authorizations(redirected) == set()
    assert sent_authorizations(proxy.requests) != set()  # the registry itself did get them


# --- partial results and the deadline ------------------------------------------------------------


def test_a_wildcard_keeps_the_repositories_that_worked_and_names_those_that_failed(
    registry: Registry, proxy: FaultProxy
) -> None:
    proxy.set_rules(
        [
            {"match": "GET /v2/org/model-03/tags/list", "action": "status", "status": 500},
            {"match": "GET /v2/org/model-07/tags/list", "action": "status", "status": 403},
        ]
    )
    [result] = scan(registry, proxy, one(registry, "org/model-0*"))

    worked = [r for r in REPOSITORIES[:10] if r not in ("org/model-03", "org/model-07")]
    assert set(result.images) == images_of(registry, *worked)
    assert result.finished
    assert result.error is not None
    assert result.error.startswith("2 of 10 repositories could not be read")
    assert "org/model-03" in result.error
    assert "org/model-07" in result.error
    assert result.error.index("org/model-03") < result.error.index("org/model-07")


def test_many_failed_repositories_are_counted_and_the_first_ones_named(
    registry: Registry, proxy: FaultProxy
) -> None:
    proxy.set_rules(
        [{"match": r"GET /v2/org/model-[01]\d/tags/list", "action": "status", "status": 403}]
    )
    [result] = scan(registry, proxy, one(registry, "org/model-*"))

    assert set(result.images) == images_of(registry, *REPOSITORIES[20:])
    assert result.error is not None
    assert result.error.startswith("20 of 40 repositories could not be read")
    assert result.error.endswith("; and 10 more")
    assert "org/model-09" in result.error
    assert "org/model-10" not in result.error


def test_a_bug_in_one_target_is_its_error_and_the_others_still_get_their_results(
    registry: Registry, proxy: FaultProxy
) -> None:
    def broken(tag: str) -> bool:
        raise KeyError(tag)

    wildcard, exact = targets_for(
        {
            "registry": registry.host,
            "filters": [{"image": "org/model-0*"}, {"image": "org/model-01"}],
        }
    )
    results = scan(registry, proxy, [replace(wildcard, selects_tag=broken), exact])

    assert [r.key for r in results] == [0, 1]
    assert results[0].error is not None
    assert "internal error (KeyError)" in results[0].error
    assert set(results[1].images) == images_of(registry, "org/model-01")
    assert results[1].error is None


def test_a_wildcard_cut_by_the_deadline_resumes_where_it_stopped_until_it_finishes(
    registry: Registry, proxy: FaultProxy
) -> None:
    proxy.set_rules([], latency_ms=100)
    [target] = one(registry, "org/model-*")
    seen: list[ImageRef] = []
    results: list[TargetResult] = []
    for _ in range(8):
        before = len(proxy.requests)
        [result] = scan(registry, proxy, [target], concurrency=2, scan_deadline=0.8)
        requests = proxy.requests[before:]
        listed = [r for r in requests if r.path.endswith("/tags/list")]
        catalog = [r for r in requests if r.path == "/v2/_catalog"]
        if target.resume_after is not None:
            # Continues after the resume point: neither listed again, nor read from the catalog.
            assert all(
                r.path.removeprefix("/v2/").removesuffix("/tags/list") > target.resume_after
                for r in listed
            )
            assert all("last=" in r.target for r in catalog)
        results.append(result)
        seen.extend(result.images)
        if result.finished:
            break
        assert result.resume_after is not None
        assert result.resume_after != target.resume_after  # it moved on
        assert len(listed) < len(REPOSITORIES)
        # An unfinished result reports exactly the repositories up to its resume point.
        assert {i.repository for i in result.images} == {
            r for r in REPOSITORIES if r <= result.resume_after and r > (target.resume_after or "")
        }
        target = replace(target, resume_after=result.resume_after)

    assert len(results) > 1
    assert not results[0].finished
    assert results[-1].finished
    assert len(seen) == len(set(seen))  # nothing reported twice
    assert set(seen) == images_of(registry, *REPOSITORIES)
    assert all(r.error is None for r in results)


def test_a_catalog_longer_than_the_deadline_still_makes_progress_call_after_call(
    registry: Registry, proxy: FaultProxy
) -> None:
    """Tags are listed as catalog pages arrive, and the resume point moves over every name
    read, so a catalog that takes longer to list than the deadline allows still settles."""
    # 8 catalog pages of 5 names, 100 ms each: 0.8 s to list, against a 0.5 s deadline.
    proxy.set_rules(
        [{"match": r"GET /v2/_catalog", "action": "paginate", "page_size": 5}], latency_ms=100
    )
    [target] = one(registry, "org/model-*")
    listed: list[str] = []
    seen: list[ImageRef] = []
    calls = 0
    while True:
        calls += 1
        assert calls <= 20, "the scan never settled"
        before = len(proxy.requests)
        [result] = scan(registry, proxy, [target], concurrency=4, scan_deadline=0.5)
        requests = proxy.requests[before:]
        listed += [r.path.removeprefix("/v2/").removesuffix("/tags/list") for r in requests]
        seen.extend(result.images)
        assert result.error is None
        if result.finished:
            break
        # Each call moved on, and reports exactly the repositories up to where it stopped.
        assert result.resume_after is not None and result.resume_after > (target.resume_after or "")
        assert {i.repository for i in result.images} == {
            r for r in REPOSITORIES if (target.resume_after or "") < r <= result.resume_after
        }
        target = replace(target, resume_after=result.resume_after)

    assert calls > 1
    tag_lists = [path for path in listed if path.startswith("org/")]
    assert set(tag_lists) == set(REPOSITORIES)
    assert len(seen) == len(set(seen))  # nothing reported twice
    assert set(seen) == images_of(registry, *REPOSITORIES)


def test_tag_lists_start_before_the_catalog_is_read_to_its_end(
    registry: Registry, proxy: FaultProxy
) -> None:
    proxy.set_rules(
        [{"match": r"GET /v2/_catalog", "action": "paginate", "page_size": 10}], latency_ms=50
    )
    [result] = scan(registry, proxy, one(registry, "org/model-*"))

    assert result.finished and result.error is None
    assert set(result.images) == images_of(registry, *REPOSITORIES)
    paths = [r.path for r in proxy.requests]
    last_catalog_page = max(i for i, path in enumerate(paths) if path == "/v2/_catalog")
    first_tag_list = min(i for i, path in enumerate(paths) if path.endswith("/tags/list"))
    assert first_tag_list < last_catalog_page


def test_wildcards_resuming_at_different_points_share_one_catalog_listing(
    registry: Registry, proxy: FaultProxy
) -> None:
    """The catalog is listed once, from the earlier resume point, page by page for both."""
    proxy.set_rules([{"match": r"GET /v2/_catalog", "action": "paginate", "page_size": 7}])
    early, late = targets_for(
        {
            "registry": registry.host,
            "filters": [{"image": "org/model-*", "versions": [">=1.1.0"]}, {"image": "org/*"}],
        }
    )
    early = replace(early, resume_after="org/model-09")
    late = replace(late, resume_after="org/model-29")

    first, second = scan(registry, proxy, [early, late])

    assert (first.error, second.error) == (None, None)
    assert first.finished and second.finished
    assert set(first.images) == {ImageRef(registry.host, r, tag="1.1.0") for r in REPOSITORIES[10:]}
    assert set(second.images) == images_of(registry, *REPOSITORIES[30:])
    catalog = [r.target for r in proxy.requests if r.path == "/v2/_catalog"]
    assert "last=org%2Fmodel-09" in catalog[0] or "last=org/model-09" in catalog[0]
    assert len(catalog) == len(set(catalog)) == 5  # 30 names after model-09, 7 a page
    listed = [r.path for r in proxy.requests if r.path.endswith("/tags/list")]
    assert sorted(listed) == sorted(set(listed))  # each repository once, for both targets
    assert len(listed) == 30


def test_a_wildcard_past_its_continuation_bound_does_not_hold_up_a_shared_listing(
    registry: Registry, proxy: FaultProxy
) -> None:
    """One name a page: the stopped wildcard's share of the catalog fills at once; the other
    must still read the catalog to its end, long before the deadline."""
    proxy.set_rules([{"match": r"GET /v2/_catalog", "action": "paginate", "page_size": 1}])
    stopped, going = targets_for(
        {"registry": registry.host, "filters": [{"image": "org/*"}, {"image": "org/model-*"}]}
    )
    stopped = replace(stopped, resume_after="org/model-00", continued_seconds=7200.0)

    first, second = scan(
        registry,
        proxy,
        [stopped, going],
        scan_deadline=20.0,
        max_continuation_seconds=3600.0,
    )

    assert first.finished and first.images == ()
    assert first.error is not None and "did not end within 3600s" in first.error
    assert (second.finished, second.error) == (True, None)
    assert set(second.images) == images_of(registry, *REPOSITORIES)


def test_a_tag_list_that_cannot_finish_before_the_deadline_is_not_started(
    registry: Registry, proxy: FaultProxy
) -> None:
    """Every tag list a call sends is one it reports: none is cut in flight by the deadline
    and sent again by the next call. Tag lists take 300 ms here, one at a time, within 1 s:
    the third would still run at the deadline, so it waits for the next call."""
    proxy.set_rules([{"match": r"GET /v2/org/.*/tags/list", "action": "delay", "ms": 300}])
    [target] = one(registry, "org/model-*")
    listed: list[str] = []
    for _ in range(3):
        before = len(proxy.requests)
        [result] = scan(registry, proxy, [target], concurrency=1, scan_deadline=1.0)
        sent = [
            r.path.removeprefix("/v2/").removesuffix("/tags/list")
            for r in proxy.requests[before:]
            if r.path.endswith("/tags/list")
        ]
        assert not result.finished
        assert sent and {i.repository for i in result.images} == set(sent)
        listed += sent
        target = replace(target, resume_after=result.resume_after)

    assert len(listed) == len(set(listed))
