"""Throughput: concurrent gated syncs against the hook service as deployed (gunicorn).

The service runs with hooks/gunicorn_config.py unchanged (AIM_WORKERS=2, AIM_THREADS=8 unless
the environment says otherwise) on this machine's cores; wrk (Debian's `wrk`, a C load
generator, so the client costs little of the shared CPU) posts the same gated sync with 100
children over kept-alive connections on 127.0.0.1 for a fixed time. Metacontroller's default is
5 sync workers per controller; 16 connections saturate the service. Reported: requests per
second, p50/p95/p99 latency and errors (any non-200 counts), and the cores each hook worker
kept busy: wrk's connections are kept alive, and gunicorn's gthread workers keep the connections
they accepted, so at 5 connections one worker may hold all of them while the other idles. The
baseline, loaded the same way in the same run: the floor of bench/floor.py (gunicorn as
deployed reading the body and writing an answer of the hook's size, no hook code); the hook's
rate is given as a share of the floor's.

Run: .venv/bin/python -m bench.throughput   (needs wrk: apt-get install wrk)
"""

from __future__ import annotations

import subprocess
import tempfile
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
CONNECTIONS = (5, 16)
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


def main() -> None:
    """Start the service, load it at each concurrency, print the table."""
    if not have("wrk", "apt-get install wrk", "the throughput benchmark"):
        return
    print(f"machine: {machine()}; server: gunicorn with hooks/gunicorn_config.py; client: wrk")
    with tempfile.NamedTemporaryFile(suffix=".json") as body_file:
        body_file.write(gated_body(CHILDREN, datetime.now(UTC)))
        body_file.flush()
        body = Path(body_file.name)
        with Gunicorn() as server:
            workers = len(server.worker_pids())
            answer_bytes = len(
                httpx.post(f"{server.url}/sync/modelsource", content=body.read_bytes()).content
            )
            hook, busy = {}, {}
            for connections in CONNECTIONS:
                pids = server.worker_pids()
                before = [process_cpu_seconds(pid) for pid in pids]
                hook[connections] = wrk(server.url, body, connections)
                seconds = hook[connections]["duration_us"] / 1e6
                busy[connections] = " + ".join(
                    f"{(process_cpu_seconds(pid) - cpu) / seconds:.2f}"
                    for pid, cpu in zip(pids, before, strict=True)
                )
        with Gunicorn(app=FLOOR_APP, env={ANSWER_BYTES: str(answer_bytes)}) as floor:
            base = {c: wrk(floor.url, body, c) for c in CONNECTIONS}
        rows: list[list[object]] = []
        for connections in CONNECTIONS:
            f = hook[connections]
            seconds = f["duration_us"] / 1e6
            rate = f["requests"] / seconds
            floor_rate = base[connections]["requests"] / (base[connections]["duration_us"] / 1e6)
            rows.append(
                [
                    CHILDREN,
                    workers,
                    connections,
                    f"{seconds:.1f}",
                    f["requests"],
                    f"{rate:.0f}",
                    f["p50_us"] / 1000,
                    f["p95_us"] / 1000,
                    f["p99_us"] / 1000,
                    f["errors"] + base[connections]["errors"],
                    f"{floor_rate:.0f}",
                    f"{rate / floor_rate:.2f}",
                    busy[connections],
                ]
            )
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
