"""The garbage collector around hook calls (hooks/collector.py): paused over a call that does
not scan, on while a call scans, and on again once every call is over, whichever path it took.

A pause that leaked would leave a worker without cyclic garbage collection for good: its memory
would grow with every scan's event loops and clients. The service runs in a real threaded WSGI
server, whose request threads end each response as gunicorn's do (closing it after writing).
"""

import gc
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime

import httpx
import pytest

from bench.bodies import gated_body
from bench.environment import REGISTRY, sync_request
from hooks.app import create_app
from hooks.collector import Collector
from hooks.registry.credentials import Keychain
from hooks.registry.targets import ScanTarget, TargetResult
from hooks.settings import Settings
from tests.harness.wsgiserver import WsgiServer
from tests.hooks.wire import encode

NOW = datetime.now(UTC)


@pytest.fixture(autouse=True)
def collector_enabled() -> Iterator[None]:
    """Each test starts with the collector on and leaves it on, whatever it asserted."""
    gc.enable()
    yield
    gc.enable()


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll `condition` for up to 20 s: the server ends a response after its last byte is sent,
    so just after the client has read it (a bound on a hang, not a timing under test)."""
    deadline = time.monotonic() + 20.0
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


class Observed:
    """What the collector was while the service read its clock and while it scanned."""

    def __init__(self) -> None:
        self.at_clock: list[bool] = []
        self.in_scan: list[bool] = []

    def clock(self) -> datetime:
        self.at_clock.append(gc.isenabled())
        return NOW

    def scan(self, targets: Sequence[ScanTarget], _: Keychain) -> list[TargetResult]:
        self.in_scan.append(gc.isenabled())
        return [TargetResult(target.key) for target in targets]


@pytest.fixture
def observed() -> Observed:
    return Observed()


@pytest.fixture
def hook(observed: Observed) -> Iterator[httpx.Client]:
    app = create_app(Settings(), scan=observed.scan, clock=observed.clock)
    with WsgiServer(app) as server, httpx.Client(base_url=server.url, timeout=30.0) as http:
        yield http


def test_a_gated_sync_runs_without_the_collector_and_leaves_it_on(
    hook: httpx.Client, observed: Observed
) -> None:
    response = hook.post("/sync/modelsource", content=gated_body(100, NOW))
    assert response.status_code == 200, response.text
    assert len(response.json()["children"]) == 100
    assert observed.at_clock == [False]
    assert observed.in_scan == []
    wait_until(gc.isenabled, "the collector is on again after a gated sync")


def test_a_scanning_sync_scans_with_the_collector_on_and_leaves_it_on(
    hook: httpx.Client, observed: Observed
) -> None:
    body = encode(sync_request({"registry": REGISTRY, "filters": [{"image": "org/m"}]}))
    response = hook.post("/sync/modelsource", content=body)
    assert response.status_code == 200, response.text
    assert observed.at_clock == [False]
    assert observed.in_scan == [True]
    wait_until(gc.isenabled, "the collector is on again after a scanning sync")


@pytest.mark.parametrize(
    "body", [b"{not json", b'{"parent": "models"}'], ids=["not-json", "not-a-request"]
)
def test_a_refused_request_leaves_the_collector_on(hook: httpx.Client, body: bytes) -> None:
    assert hook.post("/sync/modelsource", content=body).status_code == 400
    wait_until(gc.isenabled, "the collector is on again after a 400")


def test_a_body_over_the_limit_leaves_the_collector_on() -> None:
    app = create_app(Settings(max_request_bytes=1024))
    with WsgiServer(app) as server, httpx.Client(base_url=server.url, timeout=30.0) as http:
        assert http.post("/sync/modelsource", content=gated_body(10, NOW)).status_code == 413
    wait_until(gc.isenabled, "the collector is on again after a 413")


def test_the_collector_is_on_again_when_the_handler_fails() -> None:
    def failing_clock() -> datetime:
        raise RuntimeError("clock broken")

    app = create_app(Settings(), clock=failing_clock)
    with WsgiServer(app) as server, httpx.Client(base_url=server.url, timeout=30.0) as http:
        assert http.post("/sync/modelsource", content=gated_body(10, NOW)).status_code == 500
    wait_until(gc.isenabled, "the collector is on again after a 500")


def test_an_answer_dropped_unclosed_leaves_the_collector_on() -> None:
    """werkzeug's test client never closes an answer (servers must, PEP 3333): the pause ends
    when the answer is freed instead, not never."""
    client = create_app(Settings()).test_client()
    response = client.post("/sync/modelsource", data=gated_body(10, NOW))
    assert response.status_code == 200
    del response
    assert gc.isenabled()


# --- the counts, threads apart ----------------------------------------------------------------


def test_overlapping_pauses_resume_the_collector_when_the_last_one_ends() -> None:
    """Requests run in threads: the first to finish must not resume it under the other."""
    collector = Collector()
    first, second = collector.pause(), collector.pause()
    assert gc.isenabled()  # not begun yet
    first.start()
    second.start()
    second.start()  # a second start takes nothing twice
    assert not gc.isenabled()
    first.end()
    first.end()  # a second end gives nothing back twice
    assert not gc.isenabled()
    second.end()
    assert gc.isenabled()
    never_begun = collector.pause()
    never_begun.end()
    never_begun.start()  # after its end, a pause cannot begin
    assert gc.isenabled()


def test_a_scan_runs_with_the_collector_whatever_the_other_calls_hold() -> None:
    collector = Collector()
    pause = collector.pause()
    pause.start()
    scanning = threading.Event()
    scan_done = threading.Event()
    seen: list[bool] = []

    def scan() -> None:
        with collector.running():
            scanning.set()
            seen.append(gc.isenabled())
            scan_done.wait(20.0)

    thread = threading.Thread(target=scan)
    thread.start()
    assert scanning.wait(20.0)
    with collector.paused():  # a body parsed meanwhile
        seen.append(gc.isenabled())
    scan_done.set()
    thread.join()
    assert seen == [True, True]
    assert not gc.isenabled()  # the gated call's pause is still held
    pause.end()
    assert gc.isenabled()


def test_a_collector_someone_else_disabled_stays_disabled() -> None:
    collector = Collector()
    gc.disable()
    with collector.paused():
        pass
    with collector.running():
        assert not gc.isenabled()
    assert not gc.isenabled()
