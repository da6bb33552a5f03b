"""Gated sync: the cost of a sync that has nothing to scan, by number of existing children.

Every Metacontroller resync and every status write-back calls the hook; when no scan is due the
hook must answer with every child and the status unchanged. This sends such a request (100,
1,000 and 10,000 children, built with tests/hooks/wire.py exactly as Metacontroller encodes it)
to the hook service under gunicorn (hooks/gunicorn_config.py, one worker so its memory is the
service's), one request at a time over a kept-alive connection, and reports the time from
sending the request to the last byte of the answer (median, p95), the worker's CPU time per
request (less sensitive to other work on the machine than the wall time), and the worker's peak
resident memory (VmHWM in /proc/PID/status). The baseline, measured in the same run with the
same body: the floor of bench/floor.py (gunicorn reading the body and writing an answer of the
same size, no hook code); the hook's median is given as a ratio to the floor's.

Run: .venv/bin/python -m bench.gated_sync
"""

from __future__ import annotations

import http.client
import time
from datetime import UTC, datetime

import orjson

from bench.bodies import gated_body
from bench.floor import ANSWER_BYTES
from bench.floor import APP as FLOOR_APP
from bench.report import machine, median, percentile, print_table
from bench.servers import Gunicorn

# (children, requests measured): about 15 s per size at most.
SIZES = ((100, 300), (1_000, 150), (10_000, 40))
WARMUP = 3


def post(connection: http.client.HTTPConnection, body: bytes) -> tuple[float, bytes]:
    """(seconds until the whole answer was read, the answer) of one sync over `connection`."""
    started = time.perf_counter()
    connection.request(
        "POST", "/sync/modelsource", body, headers={"Content-Type": "application/json"}
    )
    response = connection.getresponse()
    answer = response.read()
    elapsed = time.perf_counter() - started
    if response.status != 200:
        raise RuntimeError(f"the hook answered {response.status}: {answer[:300]!r}")
    return elapsed, answer


def check_gated(body: bytes, answer: bytes, children: int) -> None:
    """The answer is the gated one: every child, the status exactly as sent, a resync time."""
    sent = orjson.loads(body)["parent"]["status"]
    got = orjson.loads(answer)
    assert len(got["children"]) == children, len(got["children"])
    assert got["status"] == sent, "a gated sync must return the status unchanged"
    assert got["resyncAfterSeconds"] > 0


def timed(server: Gunicorn, body: bytes, requests: int) -> tuple[list[float], float, bytes]:
    """(seconds per request, the worker's CPU seconds in all, the last answer) of `requests`
    posts of `body`, after a warm-up, one at a time over one kept-alive connection."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        for _ in range(WARMUP):
            _, answer = post(connection, body)
        cpu = server.cpu_seconds()
        times = [post(connection, body)[0] for _ in range(requests)]
        return times, server.cpu_seconds() - cpu, answer
    finally:
        connection.close()


def measure(children: int, requests: int) -> list[object]:
    """One table row: a fresh service, `requests` gated syncs with `children` children, then the
    floor with the same body and an answer of the same size."""
    body = gated_body(children, datetime.now(UTC))
    with Gunicorn(workers=1) as server:
        idle = server.memory_kib("VmRSS")
        times, cpu, answer = timed(server, body, requests)
        peak = server.memory_kib("VmHWM")
    check_gated(body, answer, children)
    floor_env = {ANSWER_BYTES: str(len(answer))}
    with Gunicorn(workers=1, app=FLOOR_APP, env=floor_env) as floor:
        floor_times, _, _ = timed(floor, body, requests)
    return [
        f"{children:,}",
        f"{len(body) / 2**20:.1f}",
        f"{len(answer) / 2**20:.1f}",
        requests,
        median(times) * 1000,
        percentile(times, 0.95) * 1000,
        cpu / requests * 1000,
        median(floor_times) * 1000,
        f"{median(times) / median(floor_times):.1f}×",
        f"{idle / 1024:.0f}",
        f"{peak / 1024:.0f}",
    ]


def main() -> None:
    """Measure every size and print the table."""
    print(f"machine: {machine()}; server: gunicorn, 1 worker (gthread)")
    rows = [measure(children, requests) for children, requests in SIZES]
    print_table(
        "Gated sync through gunicorn, one request at a time",
        [
            "children",
            "request MiB",
            "answer MiB",
            "requests",
            "median ms",
            "p95 ms",
            "server CPU ms",
            "floor median ms",
            "median / floor",
            "idle RSS MiB",
            "peak RSS MiB",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
