"""Client CPU per registry request: the product's httpx client against httpx's own transport and
against aiohttp alone.

3,000 `GET /v2/<repository>/tags/list` at 16 in flight against the harness registry (Debian's
docker-registry on 127.0.0.1, no fault proxy: nothing else in this process), each body read in
full as hooks/registry/transport.py reads it (raw). Reported: the CPU time of this process per
request (user and system: the event loop, the HTTP client, the socket calls), the wall time,
and the ratio to aiohttp alone, the floor under any client written against httpx's API here.

- "product": hooks/registry/pool.py's RegistryClient over its AiohttpTransport, as a scan uses
  them;
- "httpx, default transport": `httpx.AsyncClient` over httpcore, what the scanner used before
  its connection pools were split (2026-12-06) and replaced (bench/README.md);
- "aiohttp alone": one `aiohttp.ClientSession`, no httpx above it.

Run: .venv/bin/python -m bench.client_cpu
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence

import aiohttp
import httpx

from bench.environment import require_registry
from bench.report import machine, median, print_table
from hooks.registry.pool import AiohttpTransport, RegistryClient
from tests.harness.populate import synthetic_plan
from tests.harness.registry import Registry

REQUESTS = 3_000
IN_FLIGHT = 16
RUNS = 3

# One batch of `count` requests to the repositories (round robin) of a registry at `base`.
Batch = Callable[[str, Sequence[str], int], Awaitable[None]]


async def _with_httpx(
    client: httpx.AsyncClient, base: str, names: Sequence[str], count: int
) -> None:
    limit = asyncio.Semaphore(IN_FLIGHT)

    async def one(name: str) -> None:
        async with limit, client.stream("GET", f"{base}/v2/{name}/tags/list") as response:
            body = b"".join([chunk async for chunk in response.aiter_raw()])
            assert response.status_code == 200 and body, response.status_code

    await asyncio.gather(*(one(names[i % len(names)]) for i in range(count)))


async def product(base: str, names: Sequence[str], count: int) -> None:
    transport = AiohttpTransport(IN_FLIGHT, ssl.create_default_context())
    async with RegistryClient(transport=transport, timeout=10.0) as client:
        await _with_httpx(client, base, names, count)


async def httpx_default(base: str, names: Sequence[str], count: int) -> None:
    limits = httpx.Limits(max_connections=IN_FLIGHT)
    async with httpx.AsyncClient(limits=limits, timeout=10.0, trust_env=False) as client:
        await _with_httpx(client, base, names, count)


async def aiohttp_alone(base: str, names: Sequence[str], count: int) -> None:
    limit = asyncio.Semaphore(IN_FLIGHT)
    connector = aiohttp.TCPConnector(limit=IN_FLIGHT)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:

        async def one(name: str) -> None:
            async with limit, session.get(f"{base}/v2/{name}/tags/list") as response:
                assert response.status == 200 and await response.read()

        await asyncio.gather(*(one(names[i % len(names)]) for i in range(count)))


def measure(batch: Batch, base: str, names: Sequence[str]) -> tuple[float, float]:
    """(median CPU seconds per request, median wall seconds) over RUNS batches, each after a
    warm-up batch that opens the connections."""
    cpus: list[float] = []
    walls: list[float] = []

    async def run() -> None:
        await batch(base, names, IN_FLIGHT)
        cpu, wall = time.process_time(), time.perf_counter()
        await batch(base, names, REQUESTS)
        cpus.append((time.process_time() - cpu) / REQUESTS)
        walls.append(time.perf_counter() - wall)

    for _ in range(RUNS):
        asyncio.run(run())
    return median(cpus), median(walls)


def main() -> None:
    """Measure each client and print the table."""
    require_registry()
    plan = synthetic_plan(50, seed=1)
    names = sorted(plan.repositories)
    clients: list[tuple[str, Batch]] = [
        ("product (httpx over hooks/registry/pool.py)", product),
        ("httpx, default transport", httpx_default),
        ("aiohttp alone", aiohttp_alone),
    ]
    print(f"machine: {machine()}; {REQUESTS} tag lists at {IN_FLIGHT} in flight, {RUNS} runs")
    with Registry(plan) as registry:
        base = f"http://127.0.0.1:{registry.port}"
        measured = [(name, *measure(batch, base, names)) for name, batch in clients]
    floor = measured[-1][1]
    print_table(
        "Client CPU per registry request (median of the runs)",
        ["client", "CPU ms/request", "wall s", "CPU vs aiohttp alone"],
        [[name, f"{cpu * 1000:.3f}", wall, f"{cpu / floor:.1f}×"] for name, cpu, wall in measured],
    )


if __name__ == "__main__":
    main()
