"""Fixtures for the web layer's metrics and logs: the app in a real WSGI server, its log lines.

The metric objects are process-wide (as in the service), so in-process tests compare two
scrapes instead of expecting fresh counters.
"""

import io
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from hooks.app import create_app
from hooks.logs import LogFormatter
from hooks.settings import Settings
from tests.harness.wsgiserver import WsgiServer

Serve = Callable[[Settings], httpx.Client]
LogLines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """`serve(settings)`: the app in a threaded WSGI server on 127.0.0.1, and a client for it."""
    with ExitStack() as stack:

        def start(settings: Settings) -> httpx.Client:
            server = stack.enter_context(WsgiServer(create_app(settings)))
            return stack.enter_context(httpx.Client(base_url=server.url, timeout=30.0))

        yield start


@pytest.fixture
def log_lines() -> Iterator[LogLines]:
    """`log_lines()`: every line logged so far in this test, written by the service's JSON
    formatter and parsed back. The hooks loggers' level is put back afterwards."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LogFormatter(json_lines=True))
    root = logging.getLogger()
    hooks = logging.getLogger("hooks")
    level = hooks.level
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        hooks.setLevel(level)
