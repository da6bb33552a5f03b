"""Full scan: the product's sync against the floor client, a sequential lister and `skopeo
list-tags` in a loop.

Two sources over the harness's synthetic registry (200 model repositories with 1-30 tags each,
3,006 tags, plus decoys): one wildcard filter over the 200 repositories, and 20 exact
repositories with version ranges. Each client runs with the fault proxy adding 0 ms and 20 ms
to every request. Reported: wall time, the client process's CPU time (in all, and per request
the proxy received), requests, images matched (the same for every client, or the comparison is
void), and three baselines from the same run:

- the ideal, as issue 14 defines it: `(ceil(repositories / concurrency) + catalog pages) ×
  round trip`, the round trip being the median of 15 lone tag lists through the proxy on a
  kept-alive connection, measured just before the clients run;
- the floor: aiohttp alone at the product's concurrency, listing the same repositories the same
  way (tag lists started as catalog pages arrive) and nothing else: no httpx, no auth, no
  retries, no planning. On this machine it shares the two cores with the registry and the
  proxy, so it is what the harness allows, which the ideal does not know;
- the sequential lister, which is what the Go controller does for Docker Hub: one repository
  after another, with httpx (the simplest correct client: catalog pages, then each
  repository's tags).

skopeo has no catalog: its loop gets the repository names from the sequential lister's catalog
listing (those requests are counted in its column). A last table gives the peak traced memory
of the product's sync (tracemalloc) against tags listed and images matched.

The registry runs with GOMAXPROCS=1 (bench/environment.py says why).

Run: .venv/bin/python -m bench.full_scan   (skopeo column: apt-get install skopeo)
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import subprocess
import time
import tracemalloc
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx

from bench.environment import (
    REGISTRY,
    have,
    product_settings,
    proxied_registry,
    require_registry,
    sync_once,
)
from bench.proxy import ProxyProcess
from bench.report import cpu_seconds, machine, median, print_table
from hooks.modelsource.filters import ImageFilter, build_filters
from hooks.modelsource.spec import parse_spec
from tests.harness.populate import synthetic_plan

LATENCIES_MS = (0, 20)
PRODUCT_RUNS = 3
MODELS = "amdenterpriseai/aim-model-"
ENDLESS_REPOSITORIES = 10
MAX_TAGS = 10_000  # the product's cap on the tags of one repository (RegistrySettings)
RANGES = ([">=1.0.0"], ["^2.0.0"], ["~0.5.0 || >=3.0.0-0"], ["1.x || 2.1 - 2.9"])


@dataclass(frozen=True)
class Scenario:
    """A source spec and how many tag lists (repositories) a scan of it needs."""

    name: str
    spec: dict[str, Any]
    repositories: int
    catalog_pages: int
    probe: str  # a repository whose tag list times the round trip


def scenarios(plan_repositories: Iterable[str]) -> list[Scenario]:
    """The wildcard source over every model repository, and the 20 exact repositories."""
    names = sorted(plan_repositories)
    models = [n for n in names if n.startswith(MODELS)]
    wildcard = {"registry": REGISTRY, "filters": [{"image": f"{MODELS}*"}], "maxModels": 10000}
    exact = {
        "registry": REGISTRY,
        "filters": [
            {"image": name, "versions": RANGES[i % len(RANGES)]}
            for i, name in enumerate(models[:20])
        ],
        "maxModels": 10000,
    }
    # distribution's catalog pages hold 100 names by default, and the product asks for 100.
    pages = math.ceil(len(names) / 100)
    return [
        Scenario("wildcard, 200 repositories", wildcard, len(models), pages, models[0]),
        Scenario("20 exact repositories, version ranges", exact, 20, 0, models[0]),
    ]


def image_filters(spec: dict[str, Any]) -> list[ImageFilter]:
    """The product's own reading of the filters, so every client matches the same images."""
    return [f for f in build_filters(parse_spec(spec)) if isinstance(f, ImageFilter)]


def catalog(client: httpx.Client) -> list[str]:
    """Every repository name, following `Link: rel="next"` from page to page."""
    names: list[str] = []
    url: str | None = "/v2/_catalog"
    while url:
        response = client.get(url)
        response.raise_for_status()
        names.extend(response.json().get("repositories") or [])
        url = response.links.get("next", {}).get("url")
    return names


def httpx_tags(client: httpx.Client, repository: str) -> list[str]:
    """One repository's tags, following `Link: rel="next"`."""
    tags: list[str] = []
    url: str | None = f"/v2/{repository}/tags/list"
    while url:
        response = client.get(url)
        response.raise_for_status()
        tags.extend(response.json().get("tags") or [])
        url = response.links.get("next", {}).get("url")
    return tags


def skopeo_tags(host: str, repository: str) -> list[str]:
    """One repository's tags from `skopeo list-tags` (one process per repository)."""
    out = subprocess.run(
        ["skopeo", "list-tags", "--tls-verify=false", f"docker://{host}/{repository}"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    tags: list[str] = json.loads(out.stdout).get("Tags") or []
    return tags


def one_by_one(
    proxy: ProxyProcess, spec: dict[str, Any], tags_of: Callable[[httpx.Client, str], list[str]]
) -> int:
    """List the source's repositories one after another; the number of images matched."""
    filters = image_filters(spec)
    matched: set[tuple[str, str]] = set()
    listed: dict[str, list[str]] = {}
    with httpx.Client(base_url=proxy.url, timeout=30, trust_env=False) as client:
        names = catalog(client) if any(f.is_wildcard for f in filters) else []
        for f in filters:
            selected = [n for n in names if f.selects_repository(n)] if f.is_wildcard else []
            if not f.is_wildcard and f.selects_repository(f.repository):
                selected = [f.repository]
            for repository in selected:
                if repository not in listed:
                    listed[repository] = tags_of(client, repository)
                matched.update((repository, t) for t in listed[repository] if f.selects_tag(t))
    return len(matched)


async def _floor_scan(url: str, filters: list[ImageFilter], concurrency: int) -> int:
    """The listing with nothing around it: aiohttp alone, `concurrency` connections and workers,
    tag lists started as catalog pages arrive, as the product does."""
    matched: set[tuple[str, str]] = set()
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(url, connector=connector) as session:
        work: asyncio.Queue[str | None] = asyncio.Queue(concurrency)

        async def worker() -> None:
            while (repository := await work.get()) is not None:
                async with session.get(f"/v2/{repository}/tags/list") as response:
                    tags = (await response.json()).get("tags") or []
                for f in filters:
                    if f.selects_repository(repository):
                        matched.update((repository, t) for t in tags if f.selects_tag(t))

        workers = [asyncio.ensure_future(worker()) for _ in range(concurrency)]
        exact = sorted({f.repository for f in filters if not f.is_wildcard})
        for repository in exact:
            await work.put(repository)
        page: str | None = "/v2/_catalog?n=100" if any(f.is_wildcard for f in filters) else None
        while page:
            async with session.get(page) as response:
                names = (await response.json()).get("repositories") or []
                page = response.links.get("next", {}).get("url")
                page = str(page) if page else None
            for name in names:
                if name not in exact and any(f.selects_repository(name) for f in filters):
                    await work.put(name)
        for _ in workers:
            await work.put(None)
        await asyncio.gather(*workers)
    return len(matched)


def floor(proxy: ProxyProcess, spec: dict[str, Any], concurrency: int) -> int:
    """What this machine's registry and proxy allow: the floor client; images matched."""
    return asyncio.run(_floor_scan(proxy.url, image_filters(spec), concurrency))


def round_trip(proxy: ProxyProcess, repository: str, samples: int = 15) -> float:
    """The median seconds of one lone tag list through the proxy, on a kept-alive connection:
    the issue's round trip, measured at the proxy's current latency."""
    times: list[float] = []
    with httpx.Client(base_url=proxy.url, timeout=30, trust_env=False) as client:
        client.get(f"/v2/{repository}/tags/list")  # the connection, opened outside the sample
        for _ in range(samples):
            started = time.perf_counter()
            client.get(f"/v2/{repository}/tags/list").raise_for_status()
            times.append(time.perf_counter() - started)
    proxy.take_requests()
    return median(times)


def product(proxy: ProxyProcess, spec: dict[str, Any]) -> int:
    """The product's sync hook with its scanner; the number of images matched."""
    result = sync_once(spec, product_settings(proxy))
    status = result.response.status
    assert status["status"] == "Ready", status
    available: int = status["availableModels"]
    return available


def measure(
    proxy: ProxyProcess, run: Callable[[], int], runs: int
) -> tuple[float, float, int, int]:
    """(median wall seconds, median CPU seconds, requests per run, images) over `runs` runs."""
    walls: list[float] = []
    cpus: list[float] = []
    requests = images = 0
    for _ in range(runs):
        proxy.take_requests()
        cpu = cpu_seconds()
        started = time.perf_counter()
        images = run()
        walls.append(time.perf_counter() - started)
        cpus.append(cpu_seconds() - cpu)
        requests = len(proxy.take_requests())
    return median(walls), median(cpus), requests, images


def speed_rows(
    proxy: ProxyProcess, scenario: Scenario, latency: int, *, skopeo: bool
) -> list[list[object]]:
    """The table rows of one scenario at one latency (with the skopeo loop when installed)."""
    concurrency = product_settings(proxy).concurrency
    clients: list[tuple[str, int, Callable[[], int], int]] = [
        (f"product sync (c={concurrency})", concurrency, lambda: product(proxy, scenario.spec), 3),
        (
            f"floor: aiohttp alone (c={concurrency})",
            concurrency,
            lambda: floor(proxy, scenario.spec, concurrency),
            3,
        ),
        ("sequential httpx", 1, lambda: one_by_one(proxy, scenario.spec, httpx_tags), 1),
    ]
    if skopeo:
        host = proxy.host
        clients.append(
            (
                "skopeo list-tags loop",
                1,
                lambda: one_by_one(proxy, scenario.spec, lambda _, repo: skopeo_tags(host, repo)),
                1,
            )
        )
    rtt = round_trip(proxy, scenario.probe)
    measured = [(name, c, *measure(proxy, run, runs)) for name, c, run, runs in clients]
    floor_wall, sequential = measured[1][2], measured[2][2]
    minimum = scenario.catalog_pages + scenario.repositories
    rows: list[list[object]] = []
    for name, c, wall, cpu, requests, images in measured:
        ideal = (math.ceil(scenario.repositories / c) + scenario.catalog_pages) * rtt
        rows.append(
            [
                scenario.name,
                f"{latency} ms",
                name,
                wall,
                cpu,
                f"{cpu / requests * 1000:.2f}",
                f"{requests} (min {minimum})",
                images,
                f"{rtt * 1000:.1f}",
                ideal,
                f"{wall / ideal:.2f}×",
                f"{wall / floor_wall:.2f}×",
                f"{sequential / wall:.1f}×",
            ]
        )
    return rows


def memory_rows(proxy: ProxyProcess, plan_tags: dict[str, int]) -> list[list[object]]:
    """Peak traced memory of one product sync, for scans listing many or few tags and matching
    many or few of them. The last case lists 10,000 tags in each of 10 repositories (the fault
    proxy answers their tag lists with endless pages; the product stops at its cap of 10,000
    tags a repository), none of which match."""
    wildcard = {"registry": REGISTRY, "filters": [{"image": f"{MODELS}*"}], "maxModels": 10000}
    few = [">=3.9.0"]
    models = sorted(n for n in plan_tags if n.startswith(MODELS))
    endless = models[:ENDLESS_REPOSITORIES]
    cases = [
        ("wildcard, every tag", wildcard, models, plan_tags),
        ("wildcard, versions >=3.9.0", {**wildcard, "versions": few}, models, plan_tags),
        ("20 exact, versions >=3.9.0", exact_source(models[:20], few), models[:20], plan_tags),
        (
            f"{ENDLESS_REPOSITORIES} exact, 10,000 tags each, versions >=3.9.0",
            exact_source(endless, few),
            endless,
            dict.fromkeys(endless, MAX_TAGS),
        ),
    ]
    proxy.set_latency(0)
    product(proxy, wildcard)  # imports and first-use caches are not the scan's memory
    rows: list[list[object]] = []
    for name, spec, listed, tags in cases:
        pages = [
            {"match": f"^GET /v2/{re.escape(n)}/tags/list", "action": "endless_pages"}
            for n in listed
            if tags is not plan_tags
        ]
        proxy.set_latency(0, pages)
        tracemalloc.start()
        images = product(proxy, spec)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rows.append(
            [name, len(listed), sum(tags[n] for n in listed), images, f"{peak / 2**20:.1f}"]
        )
    proxy.set_latency(0)
    return rows


def exact_source(repositories: Sequence[str], versions: list[str]) -> dict[str, Any]:
    """A source naming each repository exactly, with global version ranges."""
    return {
        "registry": REGISTRY,
        "filters": [{"image": n} for n in repositories],
        "versions": versions,
        "maxModels": 10000,
    }


def main(latencies: Sequence[int] = LATENCIES_MS) -> None:
    """Run every scenario at every latency and print the tables."""
    require_registry()
    plan = synthetic_plan(200, seed=42)
    print(
        f"machine: {machine()}; registry: {plan.tag_count} tags in {len(plan.repositories)} "
        "repositories; fault proxy in its own process"
    )
    with proxied_registry(plan) as (_, proxy):
        skopeo = have("skopeo", "apt-get install skopeo", "the skopeo column")
        rows: list[list[object]] = []
        for latency in latencies:
            proxy.set_latency(latency)
            for scenario in scenarios(plan.repositories):
                rows.extend(speed_rows(proxy, scenario, latency, skopeo=skopeo))
        print_table(
            "Full scan (median of 3 runs for the product and the floor, 1 run for the others; "
            "CPU: the client's process, skopeo's included)",
            [
                "source",
                "latency",
                "client",
                "wall s",
                "CPU s",
                "CPU ms/request",
                "requests",
                "images",
                "round trip ms",
                "ideal s",
                "wall/ideal",
                "wall/floor",
                "vs sequential",
            ],
            rows,
        )
        plan_tags = {name: len(tags) for name, tags in plan.repositories.items()}
        print_table(
            "Memory of one product sync (tracemalloc peak, latency 0)",
            ["source", "repositories listed", "tags listed", "images matched", "peak MiB"],
            memory_rows(proxy, plan_tags),
        )


if __name__ == "__main__":
    main()
