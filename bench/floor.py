"""The floor under a gated sync: what gunicorn, as deployed, costs with no hook code at all.

A WSGI app served with hooks/gunicorn_config.py that reads the whole request body and answers
a fixed body of the size the hook's answer has (BENCH_FLOOR_ANSWER_BYTES), with no JSON work.
bench.gated_sync and bench.throughput measure it in the same run as the hook and report the
hook's figures as ratios to it: the part above 1× is the hook's own work (parsing, the sync,
encoding), the rest is reading and writing bytes through gunicorn on this machine.

Served as `gunicorn ... "bench.floor:create_app()"`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

ANSWER_BYTES = "BENCH_FLOOR_ANSWER_BYTES"
# What gunicorn is told to serve (bench.servers.Gunicorn(app=...)).
APP = "bench.floor:create_app()"

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def create_app() -> WsgiApp:
    """The floor app; the answer's size comes from the environment."""
    answer = b"0" * int(os.environ.get(ANSWER_BYTES, "1"))
    healthy = b'{"status":"ok"}'

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        body = healthy
        if environ["REQUEST_METHOD"] == "POST":
            environ["wsgi.input"].read()
            body = answer
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]

    return app
