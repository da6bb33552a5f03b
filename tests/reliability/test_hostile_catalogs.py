"""Hostile registries, scanner side: catalogs too big for one call, or without an end, and
failures by the hundred. Memory must follow the requests in flight, and every listing must end.

Each case runs the real scanner against a `HostileCatalog` on 127.0.0.1 and records its
figure (wall time, peak memory traced by tracemalloc while the scan ran, calls) in the
reliability figures printed at the end of the run. Assertions are about memory and outcomes,
never about time: the bounds sit far below what the code before the fix needed.
"""

import json
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import pytest

from hooks.metacontroller import parse_sync_request
from hooks.modelsource.controller import sync_source
from hooks.registry.config import RegistrySettings
from hooks.registry.credentials import Keychain
from hooks.registry.scanner import scan_registries
from hooks.registry.targets import ScanTarget, TargetResult
from tests.harness.apiserver import Reply
from tests.hooks import wire
from tests.registry.scanning import targets_for
from tests.reliability.conftest import Figures
from tests.reliability.hostile_catalog import HostileCatalog

T = TypeVar("T")
MIB = 1024 * 1024
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def measured(work: Callable[[], T]) -> tuple[T, float, float]:
    """(answer, seconds, peak MiB traced while `work` ran)."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        answer = work()
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] / MIB
    finally:
        tracemalloc.stop()
    return answer, seconds, peak


def settings_for(registry: HostileCatalog, **options: Any) -> RegistrySettings:
    options.setdefault("concurrency", 4)
    options.setdefault("request_timeout", 5.0)
    options.setdefault("scan_deadline", 3.0)
    return RegistrySettings(insecure_registries=frozenset({registry.host}), **options)


def wildcard(registry: HostileCatalog, image: str) -> list[ScanTarget]:
    return targets_for({"registry": registry.host, "filters": [{"image": image}]})


@pytest.fixture
def hostile() -> Iterator[Callable[..., HostileCatalog]]:
    started: list[HostileCatalog] = []

    def start(*args: Any, **options: Any) -> HostileCatalog:
        server = HostileCatalog(*args, **options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


# --- item 3: one catalog page of many names ----------------------------------------------------


@pytest.mark.parametrize(("count", "bound_mib", "deadline"), [(100_000, 48, 3), (900_000, 160, 10)])
def test_one_huge_catalog_page_is_read_in_bounded_memory_and_continues(
    count: int,
    bound_mib: int,
    deadline: float,
    hostile: Callable[..., HostileCatalog],
    figures: Figures,
) -> None:
    """Every name of the page used to be kept and given a task in one loop that never yielded
    (100,000 names: 22.9 s past a 20 s deadline, 544 MiB; 900,000: 5.5 GiB, no tag list
    started). Now names go to a few workers as they are read, one call reads at most its
    budget of names, and the next call continues from the cursor."""
    names = [f"m/{i:06d}" for i in range(count)]  # 900,000: an 11 MB page
    registry = hostile(names, one_page=True)
    settings = settings_for(registry, max_response_bytes=16 * MIB, scan_deadline=deadline)
    [target] = wildcard(registry, "m/*")

    [result], seconds, peak = measured(
        lambda: scan_registries([target], Keychain(), settings=settings)
    )

    listed = sum(1 for r in registry.requests if r.path.endswith("/tags/list"))
    figures.hostile_registry[f"one catalog page of {count:,} names"] = (
        f"{seconds:.1f} s, peak {peak:.0f} MiB traced, {listed} tag lists, "
        f"continues after {result.resume_after}"
    )
    assert peak < bound_mib
    assert listed > 0
    assert not result.finished and result.error is None
    assert result.resume_after is not None and result.resume_after in names
    assert {image.repository for image in result.images} == {
        name for name in names if name <= result.resume_after
    }


def test_names_outside_the_grammar_are_skipped_and_counted(
    hostile: Callable[..., HostileCatalog],
) -> None:
    bad = ["models/../../etc", "models/UPPER", "models/new\nline", "models/" + "a" * 300, "x\0y"]
    registry = hostile(["models/good", *bad])
    [result] = scan_registries(wildcard(registry, "*"), Keychain(), settings=settings_for(registry))

    assert [image.repository for image in result.images] == ["models/good"]
    assert result.error is None
    assert result.warnings == (
        f"5 repository name(s) listed by {registry.host} are not valid repository names and "
        "were skipped",
    )


# --- item 11: the page cap continues in the next call --------------------------------------------


def continue_scan(
    registry: HostileCatalog, target: ScanTarget, settings: RegistrySettings, calls: int
) -> list[TargetResult]:
    """Call after call from where the last stopped, as the controller continues a scan."""
    results: list[TargetResult] = []
    for _ in range(calls):
        [result] = scan_registries([target], Keychain(), settings=settings)
        results.append(result)
        if result.finished:
            break
        target = replace(target, resume_after=result.resume_after)
    return results


def test_a_catalog_over_the_page_cap_continues_in_the_next_call(
    hostile: Callable[..., HostileCatalog], figures: Figures
) -> None:
    """A well-behaved catalog of 100,000 repositories used to fail on every call at the page
    cap (200 pages, 20,000 names) and never got past it. The same at a fifth of the scale:
    20,000 names under a cap of 40 pages."""
    names = [f"models/m{i:07d}" for i in range(20_000)]
    registry = hostile(names)
    settings = settings_for(registry, scan_deadline=60.0, max_pages=40)
    [target] = wildcard(registry, "models/none-*")

    results, seconds, peak = measured(lambda: continue_scan(registry, target, settings, 10))

    pages = sum(1 for r in registry.requests if r.path == "/v2/_catalog")
    figures.hostile_registry["catalog of 20,000 names, 100 a page, cap 40 pages"] = (
        f"{len(results)} calls, {pages} pages, {seconds:.1f} s, peak {peak:.0f} MiB traced"
    )
    assert [r.error for r in results] == [None] * len(results)
    assert results[-1].finished
    assert len(results) == 6  # 4,000 names a call; the sixth finds the end
    assert [r.resume_after for r in results[:-1]] == [
        names[i - 1] for i in range(4_000, 20_001, 4_000)
    ]


# --- a catalog that never ends -------------------------------------------------------------------


def test_a_catalog_that_never_ends_stops_after_the_continuation_bound(
    hostile: Callable[..., HostileCatalog], figures: Figures
) -> None:
    """Endless pages of new names kept a source Progressing for ever; now a continued scan
    stops after `max_continuation_seconds` with the filter's error, and the source settles."""
    registry = hostile(endless=True)
    settings = settings_for(registry, max_pages=5, max_continuation_seconds=600.0)
    spec = {"registry": registry.host, "filters": [{"image": "endless/*"}, {"image": "x/*"}]}
    scan = partial(scan_registries, settings=settings)
    status: dict[str, Any] | None = None
    states: list[str] = []
    now = NOW
    for _ in range(12):
        parent = wire.source("endless", spec, status=status)
        request = parse_sync_request(wire.sync_request(parent, {}, wire.source_related(spec)))
        answer = sync_source(request, scan=scan, now=now, operator_namespace=wire.NAMESPACE)
        status = answer.response.to_json()["status"]
        states.append(status["status"])
        if status["status"] != "Progressing":
            break
        now += timedelta(minutes=4)

    assert status is not None
    figures.hostile_registry["catalog that never ends"] = (
        f"settled {status['status']} after {len(states)} calls (bound 600 s, 4 min a call)"
    )
    assert states[-1] == "Failed"
    assert states[:-1] == ["Progressing"] * (len(states) - 1)
    degraded = next(c for c in status["conditions"] if c["type"] == "Degraded")
    assert "did not end within 600s of continued scans" in degraded["message"]


# --- item 16: failures do not pile up ------------------------------------------------------------


def test_failed_tag_lists_are_not_kept_until_the_scan_ends(
    hostile: Callable[..., HostileCatalog], figures: Figures
) -> None:
    """120 repositories answering a 7 MiB 404 held 1 GiB: each failed task kept its exception,
    whose traceback held the answer read. Now memory follows the requests in flight."""
    body = b'{"errors": [{"code": "NAME_UNKNOWN", "message": "' + b"x" * (7 * MIB) + b'"}]}'
    repositories = [f"models/m{i:03d}" for i in range(120)]
    registry = hostile(repositories, tags=Reply(404, body))
    settings = settings_for(registry, scan_deadline=120.0)
    [target] = wildcard(registry, "models/*")

    [result], seconds, peak = measured(
        lambda: scan_registries([target], Keychain(), settings=settings)
    )

    failures_mib = len(repositories) * len(body) / MIB
    figures.hostile_registry["120 tag lists answering a 7 MiB 404"] = (
        f"{seconds:.1f} s, peak {peak:.0f} MiB traced ({failures_mib:.0f} MiB of failures)"
    )
    assert result.finished and result.images == ()
    assert result.error is not None and result.error.startswith("120 of 120 repositories")
    assert peak < failures_mib / 4


# --- item 10: many found images, few models to create -------------------------------------------


def test_images_past_max_models_are_counted_not_kept(
    hostile: Callable[..., HostileCatalog], figures: Figures
) -> None:
    """300 repositories x 10,000 tags with maxModels 10,000 took 1.3 GiB: every image was kept
    (and named) though only the first 10,000 could become models. Here 100 x 5,000 with
    maxModels 1,000: the images past what maxModels could create are counted, not held."""
    tags = [f"1.{i // 100}.{i % 100}" for i in range(5_000)]
    repositories = [f"models/m{i:03d}" for i in range(100)]
    registry = hostile(repositories, tags=Reply(200, json.dumps({"tags": tags}).encode()))
    settings = settings_for(registry, scan_deadline=120.0)
    spec = {"registry": registry.host, "filters": [{"image": "models/*"}], "maxModels": 1_000}
    parent = wire.source("many", spec)
    request = parse_sync_request(wire.sync_request(parent, {}, wire.source_related(spec)))
    scan = partial(scan_registries, settings=settings)

    answer, seconds, peak = measured(
        lambda: sync_source(request, scan=scan, now=NOW, operator_namespace=wire.NAMESPACE)
    )

    reply = answer.response.to_json()
    status = reply["status"]
    figures.hostile_registry["100 repositories x 5,000 tags, maxModels 1,000"] = (
        f"{seconds:.1f} s, peak {peak:.0f} MiB traced, {status['availableModels']:,} available"
    )
    assert status["status"] == "Ready"
    assert len(reply["children"]) == status["discoveredModels"] == 1_000
    assert status["availableModels"] == 500_000
    assert status["modelsLimitReached"] is True
    # The newest of the first repository, then the next repository, as without the bound.
    images = {child["spec"]["image"] for child in reply["children"]}
    assert f"{registry.host}/models/m000:1.49.99" in images
    assert f"{registry.host}/models/m002:1.49.99" not in images
    assert peak < 64
