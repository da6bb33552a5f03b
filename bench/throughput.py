"""Throughput: concurrent gated syncs against the hook service as deployed (gunicorn).

The service runs with hooks/gunicorn_config.py unchanged (AIM_WORKERS=2, AIM_THREADS=8 unless
the environment says otherwise) on this machine's cores; wrk (Debian's `wrk`, a C load
generator, so the client costs little of the shared CPU) posts the same gated sync with 100
children over kept-alive connections on 127.0.0.1 for a fixed time. Metacontroller's default is
5 sync workers per controller; 16 connections saturate the service. Reported: requests per
second, p50/p95/p99 latency and errors (any non-200 counts), and the cores each hook worker
kept busy: wrk's connections are kept alive, gunicorn's gthread workers keep the connections
they accepted, and each worker has a listening socket of its own over which the kernel spreads
connections by their addresses (reuse_port), so at 5 connections the split between the two
workers is chance (all five on one of them in 1 run of 16); a last row loads one worker alone
(and the floor with one), a share no split moves. The baseline, loaded the same way in the
same run: the floor of bench/floor.py (gunicorn as deployed reading the body and writing an
answer of the hook's size, no hook code); the hook's rate is given as a share of the floor's.

Run: .venv/bin/python -m bench.throughput   (needs wrk: apt-get install wrk)
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench.bodies import gated_body
from bench.environment import have
from bench.floor import ANSWER_BYTES
from bench.floor import APP as FLOOR_APP
from bench.report import machine, print_table, process_cpu_seconds
from bench.servers import Gunicorn

CHILDREN = 100
# (workers, connections): the deployed workers at Metacontroller's 5 connections and at 16, and
# one worker at 16, whose share of the floor no split of connections between workers moves.
LOADS: tuple[tuple[int | None, tuple[int, ...]], ...] = ((None, (5, 16)), (1, (16,)))
SECONDS = 10
SCRIPT = Path(__file__).with_name("post_body.lua")


def wrk(url: str, body_file: Path, connections: int) -> dict[str, int]:
    """One bounded wrk run; the figures its script prints."""
    out = subprocess.run(
        [
            "wrk",
            f"--threads={min(2, connections)}",
            f"--connections={connections}",
            f"--duration={SECONDS}s",
            "--timeout=10s",
            f"--script={SCRIPT}",
            f"{url}/sync/modelsource",
            "--",
            str(body_file),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=SECONDS + 60,
    ).stdout
    figures = {}
    for line in out.splitlines():
        if line.startswith("bench "):
            _, name, value = line.split()
            figures[name] = int(value)
    return figures


def load(server: Gunicorn, body: Path, connections: int) -> tuple[dict[str, int], str]:
    """wrk's figures for one load of `server`, and the cores each worker kept busy meanwhile."""
    pids = server.worker_pids()
    before = [process_cpu_seconds(pid) for pid in pids]
    figures = wrk(server.url, body, connections)
    seconds = figures["duration_us"] / 1e6
    busy = " + ".join(
        f"{(process_cpu_seconds(pid) - cpu) / seconds:.2f}"
        for pid, cpu in zip(pids, before, strict=True)
    )
    return figures, busy


def rows_for(workers: int | None, connections: Sequence[int], body: Path) -> list[list[object]]:
    """The hook and the floor, each with `workers` (the deployed number when None), loaded at
    each number of connections; one table row per number."""
    with Gunicorn(workers=workers) as server:
        count = len(server.worker_pids())
        answer_bytes = len(
            httpx.post(f"{server.url}/sync/modelsource", content=body.read_bytes()).content
        )
        hook = {c: load(server, body, c) for c in connections}
    floor_env = {ANSWER_BYTES: str(answer_bytes)}
    with Gunicorn(app=FLOOR_APP, env=floor_env, workers=workers) as floor:
        base = {c: wrk(floor.url, body, c) for c in connections}
    rows: list[list[object]] = []
    for c in connections:
        (f, busy), b = hook[c], base[c]
        seconds = f["duration_us"] / 1e6
        rate = f["requests"] / seconds
        floor_rate = b["requests"] / (b["duration_us"] / 1e6)
        rows.append(
            [
                CHILDREN,
                count,
                c,
                f"{seconds:.1f}",
                f["requests"],
                f"{rate:.0f}",
                f["p50_us"] / 1000,
                f["p95_us"] / 1000,
                f["p99_us"] / 1000,
                f["errors"] + b["errors"],
                f"{floor_rate:.0f}",
                f"{rate / floor_rate:.2f}",
                busy,
            ]
        )
    return rows


def main() -> None:
    """Start the service, load it at each concurrency, print the table."""
    if not have("wrk", "apt-get install wrk", "the throughput benchmark"):
        return
    print(f"machine: {machine()}; server: gunicorn with hooks/gunicorn_config.py; client: wrk")
    with tempfile.NamedTemporaryFile(suffix=".json") as body_file:
        body_file.write(gated_body(CHILDREN, datetime.now(UTC)))
        body_file.flush()
        body = Path(body_file.name)
        rows = [row for workers, cs in LOADS for row in rows_for(workers, cs, body)]
    print_table(
        "Gated syncs per second under gunicorn",
        [
            "children",
            "workers",
            "connections",
            "seconds",
            "requests",
            "requests/s",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "errors",
            "floor requests/s",
            "share of floor",
            "hook workers' CPU (cores)",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
