"""Continuation: a scan too large for one call's deadline, settled over several calls.

A registry of 2,000 repositories (3 tags each, to keep its set-up short: the tags do not change
what is measured), one wildcard filter over all of them, the fault proxy adding 20 ms to every
request, and `RegistrySettings.scan_deadline` cut to 1 s and 3 s. The benchmark plays
Metacontroller: it calls the product's sync hook (in this process), writes the answer's status
back into the parent and the answer's children into the observed children (`wire.observed_child`),
and calls again until the status is no longer Progressing. Reported per deadline: calls, the
hook's total time, requests, catalog pages read (the minimum is 20 at 100 names a page), tag
lists, and repositories whose tags were listed more than once (the target is none), from the
proxy's request log.

Run: .venv/bin/python -m bench.continuation
"""

from __future__ import annotations

import time
from collections import Counter

from bench.environment import (
    REGISTRY,
    PlayedSource,
    product_settings,
    proxied_registry,
    require_registry,
)
from bench.proxy import ProxyProcess, tag_lists_per_repository
from bench.report import machine, print_table
from tests.harness.populate import plan_from

REPOSITORIES = 2_000
TAGS = ("1.0.0", "1.1.0", "2.0.0-rc1")
LATENCY_MS = 20
DEADLINES = (1.0, 3.0)
MAX_CALLS = 60
SPEC = {"registry": REGISTRY, "filters": [{"image": "org/model-*"}], "maxModels": 10000}


def settle(proxy: ProxyProcess, deadline: float) -> tuple[list[list[object]], list[object]]:
    """Call the hook until the scan settles: per-call rows and the summary row."""
    source = PlayedSource(SPEC, product_settings(proxy, scan_deadline=deadline))
    calls: list[list[object]] = []
    listings: Counter[str] = Counter()
    catalog_pages = requests = 0
    hook_seconds = 0.0
    proxy.take_requests()
    while source.state == "Progressing" and len(calls) < MAX_CALLS:
        started = time.perf_counter()
        source.sync()
        seconds = time.perf_counter() - started
        log = proxy.take_requests()
        lists = tag_lists_per_repository(log)
        relisted = sum(1 for repository in lists if repository in listings)
        listings.update(lists)
        pages = sum(1 for _, target in log if target.startswith("/v2/_catalog"))
        catalog_pages += pages
        requests += len(log)
        hook_seconds += seconds
        calls.append(
            [deadline, len(calls) + 1, seconds, len(log), pages, len(lists), relisted, source.state]
        )
    twice = sum(1 for count in listings.values() if count > 1)
    summary: list[object] = [
        deadline,
        len(calls),
        hook_seconds,
        requests,
        catalog_pages,
        sum(listings.values()),
        f"{twice} ({sum(listings.values()) - len(listings)} extra lists)",
        f"{len(source.observed)} / {REPOSITORIES * len(TAGS)}",
        source.state,
    ]
    return calls, summary


def main() -> None:
    """Settle the scan at each deadline and print the tables."""
    require_registry()
    plan = plan_from({f"org/model-{n:04d}": list(TAGS) for n in range(REPOSITORIES)})
    print(
        f"machine: {machine()}; {REPOSITORIES} repositories, {plan.tag_count} tags, latency "
        f"{LATENCY_MS} ms per request; fault proxy in its own process"
    )
    with proxied_registry(plan) as (_, proxy):
        proxy.set_latency(LATENCY_MS)
        per_call: list[list[object]] = []
        summaries: list[list[object]] = []
        for deadline in DEADLINES:
            calls, summary = settle(proxy, deadline)
            per_call.extend(calls)
            summaries.append(summary)
    print_table(
        "Each call",
        [
            "deadline s",
            "call",
            "hook s",
            "requests",
            "catalog pages",
            "tag lists",
            "relisted",
            "status",
        ],
        per_call,
    )
    print_table(
        "Settling a 2,000-repository scan",
        [
            "deadline s",
            "calls",
            "hook s total",
            "requests",
            "catalog pages",
            "tag lists",
            "listed twice",
            "models",
            "final status",
        ],
        summaries,
    )


if __name__ == "__main__":
    main()
