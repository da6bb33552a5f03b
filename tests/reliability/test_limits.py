"""Limits and hardening: what bounds a request, a registry answer and the time a sync may take,
and who may call the hooks at all.

- the hook endpoints refuse a body over `AIM_MAX_REQUEST_BYTES` with a JSON 413;
- a registry answer over the size cap, a tag list over the tag cap, a listing over the page
  cap are each reported in the status (as the filter's error, or the truncation as a warning),
  never a crash, never hidden;
- every outbound call has a timeout: the registry (see the fault campaign), its token realm, the
  Docker Hub API and the GitHub API;
- with a bearer token configured, only that exact token is served (compared in constant time
  in hooks/app.py; here its behaviour: a token of another length, another scheme, non-ASCII
  bytes or none at all is a 401, never a 500).

The container's non-root user and read-only root filesystem are checked with the other
manifests (tests/manifests/test_dockerfile.py and test_metacontroller.py), the NetworkPolicy in
tests/manifests/test_networkpolicy.py.
"""

import json
import os
import socket
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.bodies import gated_body
from hooks import jsonio
from hooks.app import PARSED_MEMORY_PER_BODY_BYTE, create_app
from hooks.modelsource.pipeline import NO_SCAN_SLOT_RESYNC_SECONDS
from hooks.settings import Settings
from tests.harness.faultproxy import FaultProxy
from tests.harness.processes import gunicorn_service
from tests.hooks.emulator import Metacontroller, check_sync_answer
from tests.hooks.expected import condition
from tests.hooks.wire import (
    CONFIG_GROUP,
    SECRET_GROUP,
    customize_request,
    encode,
    related,
    source,
    sync_request,
)
from tests.reliability.conftest import WEBHOOK_TIMEOUT_SECONDS, Serve, World
from tests.reliability.planted import Planted
from tests.reliability.scenarios import PRIMARY, REGISTRY_SECRET, SCENARIOS, sync_case
from tests.web.hook_requests import source_sync

# Each hook's path, and the namespace of the parent its body carries (namespaced hooks refuse a
# parent without one).
HOOK_PATHS = {
    "/sync/modelsource": None,
    "/customize/modelsource": None,
    "/sync/config": None,
    "/customize/config": None,
    "/sync/namespaced-modelsource": "team-a",
    "/customize/namespaced-modelsource": "team-a",
    "/sync/namespaceconfig": "team-a",
    "/customize/namespaceconfig": "team-a",
}
LIMIT = 64 * 1024
TOKEN = "hook-token-7c2f9d41e0"
BULK = "bulk/many-tags"
UNRESOLVABLE = "unresolvable.test"
NOW = datetime(2026, 8, 20, 10, 0, tzinfo=UTC)
STUCK_THREADS = 4
STUCK_REGISTRY = "stuck.test"


def bulk_request(planted: Planted, **spec: Any) -> dict[str, Any]:
    """A source on registry.test that lists the 150 tags of bulk/many-tags."""
    full = {
        "registry": PRIMARY,
        "filters": [{"image": BULK}],
        "imagePullSecrets": [{"name": REGISTRY_SECRET}],
        **spec,
    }
    secrets = [planted.login_secret(REGISTRY_SECRET, PRIMARY)]
    return sync_request(source("bulk", full), {}, related([CONFIG_GROUP, SECRET_GROUP], secrets))


def messages(reply: dict[str, Any]) -> tuple[str, str]:
    """The Ready and the Degraded condition messages."""
    status = reply["status"]
    return condition(status, "Ready")["message"], condition(status, "Degraded")["message"]


# --- the request body limit ------------------------------------------------------------------


def padded(size: int, namespace: str | None = None) -> bytes:
    """A well-formed sync request padded (inside a label value) to exactly `size` bytes; its
    parent in `namespace` when given."""
    parent = source("models", {"filters": []})
    if namespace is not None:
        parent["metadata"]["namespace"] = namespace
    request = sync_request(parent, {}, related([CONFIG_GROUP]))
    base = len(encode(request))
    request["parent"]["metadata"]["labels"] = {"pad": ""}
    request["parent"]["metadata"]["labels"]["pad"] = "x" * (size - len(encode(request)))
    body = encode(request)
    assert len(body) == size > base
    return body


def test_a_body_over_the_limit_is_a_json_413_on_every_hook_and_one_at_the_limit_is_served(
    serve: Serve, world: World
) -> None:
    hook = serve(Settings(registry=world.registry_settings(), max_request_bytes=LIMIT))
    for path, namespace in HOOK_PATHS.items():
        served = hook.post(path, padded(LIMIT, namespace))
        assert served.status_code == 200, (path, served.text)
        refused = hook.post(path, padded(LIMIT + 1, namespace))
        assert refused.status_code == 413, (path, refused.text)
        assert refused.headers["content-type"] == "application/json"
        assert refused.json()["error"]


def test_a_streamed_body_over_the_limit_is_never_served(serve: Serve, world: World) -> None:
    """Without Content-Length (chunked) werkzeug cuts the body at the limit silently; the app
    refuses a body that filled the limit with 413, as it does a declared one."""
    hook = serve(Settings(registry=world.registry_settings(), max_request_bytes=LIMIT))
    body = padded(4 * LIMIT)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    for path in HOOK_PATHS:
        response = hook.http.post(
            path, content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 413, (path, response.text)
        assert response.json()["error"]
    # A chunked body under the limit is read whole and answered.
    for path, namespace in HOOK_PATHS.items():
        small = padded(LIMIT // 2, namespace)
        response = hook.http.post(
            path,
            content=iter([small[:100], small[100:]]),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 200, (path, response.text)


def test_the_largest_real_request_is_served_under_the_default_limits() -> None:
    """A gated sync of a source with 10,000 models (maxModels' ceiling), as Metacontroller sends
    it: well under the default body limit, and its memory bound under the parsed-memory limit
    with room to spare."""
    body = gated_body(10_000, NOW)
    limit = Settings().max_request_bytes
    assert len(body) * 2 < limit
    assert jsonio.parsed_size_bound(body) * 2 < limit * PARSED_MEMORY_PER_BODY_BYTE
    app = create_app(Settings(), scan=lambda targets, keychain: [], clock=lambda: NOW)
    response = app.test_client().post(
        "/sync/modelsource", data=body, content_type="application/json"
    )
    assert response.status_code == 200, response.get_data()[:300]
    assert len(response.get_json()["children"]) == 10_000


def test_a_body_of_tiny_values_is_refused_before_it_is_parsed() -> None:
    """8 MiB of empty objects, a quarter of the size limit, would take 190 MB once parsed (24
    times its size, where a real request takes 2.3): refused with a 413 before any is built."""
    body = b"[" + b",".join([b"{}"] * (8 * 2**20 // 3)) + b"]"
    app = create_app(Settings(), clock=lambda: NOW)
    client = app.test_client()
    tracemalloc.start()
    try:
        response = client.post("/sync/modelsource", data=body, content_type="application/json")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 413, response.get_data()[:300]
    assert "MiB once read" in response.get_json()["error"]
    assert peak < 3 * len(body), f"{peak / 2**20:.0f} MiB held for a {len(body) >> 20} MiB body"


class BlackHole:
    """A registry that accepts connections and never answers, until `release` closes them all
    (and refuses any later one): every scan against it is stuck for as long as the test wants."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        self.released = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.released.is_set():
            with suppress(TimeoutError):
                self.held.append(self.listener.accept()[0])
        self.listener.close()

    def release(self) -> None:
        self.released.set()
        self.thread.join()
        for connection in self.held:
            connection.close()


@pytest.fixture
def stuck_service(tmp_path: Path) -> Iterator[tuple[str, BlackHole]]:
    """gunicorn as deployed, one worker of 4 threads, its registry a black hole."""
    hole = BlackHole()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AIM_WORKERS": "1",
        "AIM_THREADS": str(STUCK_THREADS),
        "AIM_REGISTRY_ENDPOINTS": f"{STUCK_REGISTRY}=http://127.0.0.1:{hole.port}",
        "AIM_SCAN_DEADLINE_SECONDS": "120",
        "AIM_REQUEST_TIMEOUT_SECONDS": "120",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    try:
        with gunicorn_service(env, tmp_path / "stderr.log", 20.0) as (_, url):
            yield url, hole
    finally:
        hole.release()


def test_probes_and_gated_syncs_answer_while_every_scan_slot_is_stuck(
    stuck_service: tuple[str, BlackHole],
) -> None:
    """Twice as many due syncs as threads, against a registry that never answers: scans take
    all threads but one; the other syncs answer at once, keeping everything, to come back
    soon; /healthz, /readyz and a gated sync answer while the scans are still stuck."""
    url, hole = stuck_service
    slots = STUCK_THREADS - 1
    with httpx.Client(base_url=url, timeout=60.0) as http, ThreadPoolExecutor(16) as pool:

        def sync(body: dict[str, Any]) -> httpx.Response:
            return http.post("/sync/modelsource", content=encode(body))

        due = [
            pool.submit(sync, source_sync(f"stuck-{n}", STUCK_REGISTRY, ["models/stuck"]))
            for n in range(2 * STUCK_THREADS)
        ]
        try:
            answered = [future.result() for future in first(due, len(due) - slots)]
            wait_until(lambda: len(hole.held) >= slots, "the scans reach the registry")
            for response in answered:
                assert response.status_code == 200, response.text
                reply = response.json()
                assert reply == {
                    "status": {"discoveredModels": 0},
                    "children": [],
                    "resyncAfterSeconds": NO_SCAN_SLOT_RESYNC_SECONDS,
                }
            assert http.get("/healthz").status_code == 200
            assert http.get("/readyz").status_code == 200
            gated = http.post("/sync/modelsource", content=gated_body(100, datetime.now(UTC)))
            assert gated.status_code == 200, gated.text
            assert len(gated.json()["children"]) == 100
            # All of that while the scans were stuck: none of them has answered yet.
            assert sum(future.done() for future in due) == len(due) - slots
        finally:
            hole.release()
        for future in due:
            assert future.result().status_code == 200


def first(futures: list[Future[httpx.Response]], count: int) -> list[Future[httpx.Response]]:
    """The first `count` futures to finish."""
    done: list[Future[httpx.Response]] = []
    for future in as_completed(futures):
        done.append(future)
        if len(done) == count:
            break
    return done


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll `condition` for up to 20 s (a bound on a hang, not a timing under test)."""
    deadline = time.monotonic() + 20.0
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


# --- registry answer caps, through a sync ----------------------------------------------------


def test_an_answer_over_the_size_cap_is_the_filters_error(
    calm_world: World, serve: Serve, planted: Planted
) -> None:
    hook = serve(calm_world.settings(max_response_bytes=1024))
    reply = hook.sync(bulk_request(planted))
    _, degraded = messages(reply)
    assert reply["status"]["status"] == "Failed"
    assert f'filter "{BULK}": ' in degraded
    assert "sent more than 1024 bytes; stopped reading" in degraded


def test_a_tag_list_over_the_tag_cap_is_cut_and_the_cut_is_reported(
    calm_world: World, serve: Serve, planted: Planted
) -> None:
    hook = serve(calm_world.settings(max_tags_per_repository=100))
    reply = hook.sync(bulk_request(planted, maxModels=1000))
    ready, _ = messages(reply)
    assert reply["status"]["status"] == "Ready"
    assert f'filter "{BULK}": tags of {BULK} truncated at 100' in ready
    assert len(reply["children"]) == 100


def test_a_tag_list_over_the_page_cap_is_the_filters_error(
    calm_world: World, serve: Serve, planted: Planted
) -> None:
    """150 tags served one per page. (A catalog over the page cap continues in the next call
    instead: tests/reliability/test_hostile_catalogs.py.)"""
    world = calm_world
    hook = serve(world.settings(max_pages=3))
    world.proxy.set_rules(
        [{"match": r"^GET /v2/.*/tags/list", "action": "paginate", "page_size": 1}]
    )
    before = len(world.proxy.requests)
    reply = hook.sync(bulk_request(planted))
    _, degraded = messages(reply)
    assert reply["status"]["status"] == "Failed"
    assert "more than 3 pages (the page cap); the list is incomplete" in degraded
    paged = [r for r in world.proxy.requests[before:] if r.action == "paginate"]
    assert len(paged) >= 3


# --- timeouts everywhere ---------------------------------------------------------------------


@pytest.fixture
def stalled(world: World) -> Iterator[FaultProxy]:
    """A server that never answers (a proxy in front of the decoy, stalling every request)."""
    with FaultProxy("127.0.0.1", world.decoy.port) as proxy:
        proxy.set_rules([{"match": "", "action": "stall", "ms": 10_000}])
        yield proxy


Case = Callable[[World, FaultProxy, Planted], tuple[Settings, dict[str, Any]]]


def token_realm(world: World, stalled: FaultProxy, planted: Planted) -> tuple[Settings, Any]:
    world.token_proxy.set_rules([{"match": "/token", "action": "stall", "ms": 10_000}])
    secrets = [planted.login_secret(REGISTRY_SECRET, PRIMARY)]
    return world.settings(request_timeout=0.3), sync_case(SCENARIOS[1], "none", PRIMARY, secrets)


def hub_api(world: World, stalled: FaultProxy, planted: Planted) -> tuple[Settings, Any]:
    spec = {"registry": "docker.io", "filters": [{"image": "someorg/aim-*"}]}
    settings = world.settings(
        request_timeout=0.3,
        dockerhub_api_url=stalled.url,
        endpoints={"docker.io": world.proxy.url},
    )
    return settings, sync_request(source("hub", spec), {}, related([CONFIG_GROUP]))


def github_api(world: World, stalled: FaultProxy, planted: Planted) -> tuple[Settings, Any]:
    spec = {
        "registry": "ghcr.io",
        "filters": [{"image": "someorg/aim-*"}],
        "imagePullSecrets": [{"name": REGISTRY_SECRET}],
    }
    settings = world.settings(
        request_timeout=0.3,
        github_api_url=stalled.url,
        endpoints={"ghcr.io": world.proxy.url},
        insecure_registries=frozenset({stalled.host}),
    )
    secrets = [planted.login_secret(REGISTRY_SECRET, "ghcr.io")]
    return settings, sync_request(
        source("ghcr", spec), {}, related([CONFIG_GROUP, SECRET_GROUP], secrets)
    )


@pytest.mark.parametrize("case", [token_realm, hub_api, github_api], ids=lambda c: c.__name__)
def test_a_server_that_never_answers_costs_a_timeout_and_is_named_in_the_status(
    case: Case, calm_world: World, stalled: FaultProxy, serve: Serve, planted: Planted
) -> None:
    settings, request = case(calm_world, stalled, planted)
    reply = serve(settings).sync(request)
    _, degraded = messages(reply)
    assert reply["status"]["status"] == "Failed"
    assert "did not answer in time" in degraded
    assert reply["resyncAfterSeconds"] == 30


def test_a_host_name_that_never_resolves_costs_the_scan_deadline_not_the_webhook_timeout(
    calm_world: World, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A DNS server that does not answer: the resolver thread hangs for longer than the webhook
    timeout, and the answer still comes at the scan deadline (the client waits no longer than
    Metacontroller would)."""
    resolve = socket.getaddrinfo
    release = threading.Event()

    def unanswered(host: str | bytes | None, *args: Any, **kwargs: Any) -> Any:
        if host in (UNRESOLVABLE, UNRESOLVABLE.encode()):
            release.wait(2 * WEBHOOK_TIMEOUT_SECONDS)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", unanswered)
    settings = calm_world.settings(
        endpoints={UNRESOLVABLE: f"http://{UNRESOLVABLE}:5000"},
        insecure_registries=frozenset({UNRESOLVABLE}),
        scan_deadline=1.0,
        request_timeout=10.0,
    )
    try:
        controller = Metacontroller.from_request(
            serve(settings), sync_case(SCENARIOS[1], "some", UNRESOLVABLE, [])
        )
        first = controller.sync()
        second = controller.sync()
    finally:
        release.set()
    assert first["status"]["status"] == "Progressing"
    assert second["status"]["status"] == "Failed"
    assert "did not finish within its deadline" in messages(second)[1]
    assert controller.deleted == []


# --- the bearer token -------------------------------------------------------------------------


@pytest.fixture
def guarded() -> Any:
    """The app in-process with a bearer token configured (no registry is reached)."""
    app = create_app(Settings(hook_token=TOKEN), scan=lambda targets, keychain: [])
    return app.test_client()


def a_request(path: str) -> bytes:
    parent = source("models", {"filters": []})
    if HOOK_PATHS[path] is not None:
        parent["metadata"]["namespace"] = HOOK_PATHS[path]
    return encode(customize_request(parent) if "customize" in path else sync_request(parent))


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        f"Bearer {TOKEN[:-1]}",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}X",
        f"Bearer {TOKEN * 2}",
        f"Basic {TOKEN}",
        TOKEN,
        "Bearer t\u00f6k\u00e9n",
        f"Bearer {TOKEN.upper()}",
    ],
    ids=[
        "missing",
        "empty",
        "scheme-only",
        "scheme-and-space",
        "shorter",
        "longer",
        "same-length-wrong",
        "twice-as-long",
        "basic-scheme",
        "no-scheme",
        "non-ascii",
        "wrong-case",
    ],
)
def test_a_wrong_or_missing_bearer_token_is_a_401_on_every_hook(
    guarded: Any, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    for path in HOOK_PATHS:
        response = guarded.post(
            path, data=a_request(path), headers=headers, content_type="application/json"
        )
        assert response.status_code == 401, (path, response.get_data())
        assert json.loads(response.get_data())["error"]


@pytest.mark.parametrize(
    "authorization", [f"Bearer {TOKEN}", f"bearer {TOKEN}", f"Bearer {TOKEN} "]
)
def test_the_right_bearer_token_is_served_on_every_hook(guarded: Any, authorization: str) -> None:
    for path in HOOK_PATHS:
        response = guarded.post(
            path,
            data=a_request(path),
            headers={"Authorization": authorization},
            content_type="application/json",
        )
        assert response.status_code == 200, (path, response.get_data())
        if path.startswith("/sync"):
            check_sync_answer(json.loads(a_request(path)), json.loads(response.get_data()))


def test_probes_need_no_token(guarded: Any) -> None:
    for path in ("/healthz", "/readyz"):
        assert guarded.get(path).status_code == 200


def test_the_token_guards_the_service_over_real_http(serve: Serve, world: World) -> None:
    hook = serve(Settings(registry=world.registry_settings(), hook_token=TOKEN))
    body = a_request("/sync/modelsource")
    assert hook.post("/sync/modelsource", body).status_code == 401
    wrong = {"Authorization": f"Bearer {TOKEN[:-1]}?"}
    assert hook.post("/sync/modelsource", body, wrong).status_code == 401
    right = {"Authorization": f"Bearer {TOKEN}"}
    assert hook.post("/sync/modelsource", body, right).status_code == 200
    raw = hook.http.post(
        "/sync/modelsource", content=body, headers=[("Authorization", b"Bearer \xff\xfe\x01")]
    )
    assert raw.status_code == 401
