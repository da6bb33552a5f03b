"""Cost curve: full scans of 200, 2,000 and 10,000 repositories, per repository.

For each size, a registry of that many repositories (3 tags each: the tags do not change what
is measured) behind the fault proxy (no added latency: the cost measured is the hook's), and two
sources: one wildcard over every repository (`maxModels` 100, so the models created stay the
same while the matches grow) and one matching ten repositories whatever the catalog. The
benchmark plays Metacontroller, as bench/continuation.py does: it calls the product's sync hook
in this process, writes the status and the new children back, and calls again while the status
is Progressing. Reported per size: calls, wall and CPU seconds of the whole settled scan, both
per repository and as a ratio to the 200-repository run measured first (flat is the goal:
within 1.5x), and the peak memory traced (tracemalloc, a separate run) of each source, which
should grow with matches, never with the catalog. The registry's own CPU per repository is
printed beside the hook's: with no added latency the wall time is mostly the registry's, and
distribution's catalog walks its storage for every page (100 names each), which costs more per
page the larger the catalog.

Run: .venv/bin/python -m bench.cost_curve   (AIM_SCAN_DEADLINE_SECONDS sets the deadline)
"""

from __future__ import annotations

import os
import sys
import time
import tracemalloc
from typing import Any

from bench.environment import (
    REGISTRY,
    PlayedSource,
    product_settings,
    proxied_registry,
    require_registry,
)
from bench.proxy import ProxyProcess
from bench.report import cpu_seconds, machine, print_table, process_cpu_seconds
from hooks.settings import settings_from_env
from tests.harness.populate import plan_from

SIZES = (200, 2_000, 10_000)
TAGS = ("1.0.0", "1.1.0", "2.0.0")
MAX_CALLS = 40
MIB = 1024 * 1024
EVERY = {"registry": REGISTRY, "filters": [{"image": "org/model-*"}], "maxModels": 100}
TEN = {"registry": REGISTRY, "filters": [{"image": "org/model-0000*"}]}


def settle(proxy: ProxyProcess, spec: dict[str, Any]) -> tuple[int, int, str]:
    """Sync until the scan settles: (calls, models, final status)."""
    settings = product_settings(
        proxy, scan_deadline=settings_from_env(os.environ).registry.scan_deadline
    )
    source, calls = PlayedSource(spec, settings), 0
    while source.state == "Progressing" and calls < MAX_CALLS:
        calls += 1
        source.sync()
    return calls, len(source.observed), source.state


def peak_mib(proxy: ProxyProcess, spec: dict[str, Any]) -> float:
    """The peak memory traced while a scan of `spec` settles."""
    tracemalloc.start()
    try:
        settle(proxy, spec)
        return tracemalloc.get_traced_memory()[1] / MIB
    finally:
        tracemalloc.stop()


def measure(size: int) -> dict[str, Any]:
    plan = plan_from({f"org/model-{n:05d}": list(TAGS) for n in range(size)})
    with proxied_registry(plan) as (registry, proxy):
        proxy.take_requests()
        registry_cpu = process_cpu_seconds(registry.pid)
        wall, cpu = time.perf_counter(), cpu_seconds()
        calls, models, state = settle(proxy, EVERY)
        wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
        registry_cpu = process_cpu_seconds(registry.pid) - registry_cpu
        requests = len(proxy.take_requests())
        return {
            "size": size,
            "calls": calls,
            "state": state,
            "models": models,
            "requests": requests,
            "wall": wall,
            "cpu": cpu,
            "registry_cpu": registry_cpu,
            "every_mib": peak_mib(proxy, EVERY),
            "ten_mib": peak_mib(proxy, TEN),
        }


def main() -> None:
    require_registry()
    sizes = [int(arg) for arg in sys.argv[1:]] or list(SIZES)
    print(f"machine: {machine()}; sizes {sizes}, {len(TAGS)} tags each, no added latency")
    runs = [measure(size) for size in sizes]
    base = runs[0]
    base_wall, base_cpu = base["wall"] / base["size"], base["cpu"] / base["size"]
    rows = [
        [
            f"{run['size']:,}",
            run["calls"],
            run["state"],
            run["requests"],
            run["wall"],
            run["cpu"],
            1000 * run["wall"] / run["size"],
            1000 * run["cpu"] / run["size"],
            (run["wall"] / run["size"]) / base_wall,
            (run["cpu"] / run["size"]) / base_cpu,
            1000 * run["registry_cpu"] / run["size"],
            run["every_mib"],
            run["ten_mib"],
        ]
        for run in runs
    ]
    print_table(
        "Full scans: cost per repository against the first size, peak memory by matches",
        [
            "repositories",
            "calls",
            "status",
            "requests",
            "wall s",
            "CPU s",
            "wall ms/repo",
            "CPU ms/repo",
            "wall ratio",
            "CPU ratio",
            "registry CPU ms/repo",
            "peak MiB, every repo",
            "peak MiB, 10 repos",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
