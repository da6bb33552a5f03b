"""The web layer over real HTTP: status codes, JSON errors, health, body limit, bearer token, and
the service under gunicorn with the project's gunicorn configuration.

Metacontroller treats anything but 200 as a failed sync and changes nothing, so a body that is not
a hook request is a 400 (with a JSON error saying why), never a guess that could drop children.
"""

import os
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from hooks.settings import Settings
from tests.harness.loopback import free_port
from tests.harness.processes import gunicorn_command, stop_process, wait_until_healthy
from tests.hooks.conftest import HookEnv
from tests.hooks.emulator import HookClient, check_sync_answer
from tests.hooks.wire import (
    MODEL_GROUP,
    customize_request,
    encode,
    source,
    source_related,
    sync_request,
)

PROJECT = Path(__file__).resolve().parents[2]
SPEC = {"filters": [{"image": "amdenterpriseai/aim-llama3"}]}
TOKEN = "hook-token-4d1c9e"
START_TIMEOUT = 20.0


def a_sync_request() -> dict[str, object]:
    return sync_request(source("models", SPEC), {}, source_related(SPEC))


def assert_json_error(response: httpx.Response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    for word in words:
        assert word in error


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"not json at all", ["not JSON"]),
        (b"", ["not JSON"]),
        (b"\xff\xfe\x00", ["not JSON"]),
        (b"[1, 2]", ["request body", "JSON object"]),
        (b"null", ["request body", "JSON object"]),
        (b'{"controller": {}}', ["no 'parent'"]),
        (b'{"parent": {"metadata": {}}}', ["parent.metadata.name"]),
        (b'{"parent": "models"}', ["parent", "JSON object"]),
        (b"[" * 100_000 + b"]" * 100_000, ["nested too deeply"]),
    ],
    ids=[
        "text",
        "empty",
        "not-utf8",
        "array",
        "null",
        "no-parent",
        "parent-without-name",
        "parent-not-object",
        "deeply-nested",
    ],
)
def test_a_body_that_is_not_a_sync_request_is_a_400_with_a_json_error(
    hook: HookClient, body: bytes, words: list[str]
) -> None:
    for path in ("/sync/modelsource", "/customize/modelsource", "/sync/config"):
        assert_json_error(hook.post(path, body), 400, *words)


@pytest.mark.parametrize(
    "children",
    [
        {MODEL_GROUP: []},
        {MODEL_GROUP: {"model-a": "not an object"}},
        {MODEL_GROUP: {"model-a": None}},
        [],
    ],
    ids=["group-is-a-list", "child-is-a-string", "child-is-null", "children-is-a-list"],
)
def test_children_of_the_wrong_shape_are_a_400_not_a_guess(
    hook: HookClient, children: object
) -> None:
    request = a_sync_request()
    request["children"] = children
    assert_json_error(hook.post("/sync/modelsource", request), 400, "children")


def test_related_of_the_wrong_shape_is_a_400(hook: HookClient) -> None:
    request = a_sync_request()
    request["related"] = {"Secret.v1": ["kaiwo-system/creds"]}
    assert_json_error(hook.post("/sync/modelsource", request), 400, "related")


def test_unknown_path_is_a_json_404(hook: HookClient) -> None:
    assert_json_error(hook.post("/sync", a_sync_request()), 404)
    assert_json_error(hook.http.get("/metrics-or-anything"), 404)


def test_wrong_method_is_a_json_405(hook: HookClient) -> None:
    assert_json_error(hook.http.get("/sync/modelsource"), 405)
    assert_json_error(hook.http.put("/customize/config", content=b"{}"), 405)
    assert_json_error(hook.post("/healthz", b"{}"), 405)


def test_health_and_readiness_answer_json(hook: HookClient) -> None:
    for path in ("/healthz", "/readyz"):
        response = hook.http.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert isinstance(response.json(), dict)


def test_a_body_over_the_limit_is_a_json_413(hooks_env: HookEnv) -> None:
    small = a_sync_request()
    small["controller"] = {}
    big = a_sync_request()
    limit = len(encode(big)) - 1  # the whole request is one byte too long
    assert len(encode(small)) <= limit
    hook = hooks_env.serve(
        Settings(registry=hooks_env.registry_settings(), max_request_bytes=limit)
    )
    assert hook.post("/sync/modelsource", small).status_code == 200
    assert_json_error(hook.post("/sync/modelsource", big), 413)


def test_with_a_token_configured_only_the_right_bearer_token_is_served(
    hooks_env: HookEnv,
) -> None:
    hook = hooks_env.serve(Settings(registry=hooks_env.registry_settings(), hook_token=TOKEN))
    request = a_sync_request()
    for path in ("/sync/modelsource", "/customize/modelsource", "/sync/config"):
        assert_json_error(hook.post(path, request), 401, "bearer token")
        for wrong in (
            f"Bearer {TOKEN}x",
            f"Basic {TOKEN}",
            TOKEN,
            "Bearer",
            f"Bearer {TOKEN[:-1]}",
        ):
            assert_json_error(hook.post(path, request, {"Authorization": wrong}), 401)
    assert hooks_env.registry_calls() == 0
    answer = hook.post("/sync/modelsource", request, {"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    check_sync_answer(request, answer.json())
    customize = customize_request(request["parent"])
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert hook.post("/customize/modelsource", customize, headers).status_code == 200
    # Probes carry no token.
    assert hook.http.get("/healthz").status_code == 200


def test_without_a_token_configured_any_authorization_is_ignored(hook: HookClient) -> None:
    response = hook.post("/sync/modelsource", a_sync_request(), {"Authorization": "Bearer x"})
    assert response.status_code == 200


@pytest.fixture
def gunicorn(hooks_env: HookEnv, tmp_path: Path) -> Iterator[str]:
    """The service as the image runs it: gunicorn with hooks/gunicorn_config.py, env settings."""
    port = free_port()
    settings = hooks_env.registry_settings()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AIM_REGISTRY_ENDPOINTS": ",".join(f"{h}={u}" for h, u in settings.endpoints.items()),
        "AIM_DOCKERHUB_API_URL": hooks_env.hub.url,
        "AIM_GITHUB_API_URL": hooks_env.github.url,
        "AIM_SCAN_DEADLINE_SECONDS": "10",
        "AIM_WORKERS": "1",
        "AIM_THREADS": "4",
        "AIM_LOG_LEVEL": "WARNING",
    }
    # A file, not a pipe: nothing reads stderr while the service runs, and a full pipe blocks it.
    stderr = tmp_path / "gunicorn-stderr.log"
    with stderr.open("wb") as log:
        process = subprocess.Popen(
            gunicorn_command(port), cwd=PROJECT, env=env, stdout=subprocess.DEVNULL, stderr=log
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(process, url, START_TIMEOUT, stderr.read_text)
        yield url
    finally:
        stop_process(process)


def test_the_service_runs_under_gunicorn_with_its_configuration(gunicorn: str) -> None:
    with httpx.Client(base_url=gunicorn, timeout=30) as http:
        health = http.get("/healthz")
        assert health.status_code == 200
        hook = HookClient(http)
        reply = hook.sync(a_sync_request())
    assert reply["status"]["status"] == "Ready"
    assert len(reply["children"]) == 3


METACONTROLLER_WORKERS = 5


def test_concurrent_syncs_of_different_sources_do_not_mix(hook: HookClient) -> None:
    """Metacontroller syncs different parents at once (5 workers per controller)."""
    specs = {
        f"source-{n}": {"filters": [{"image": image}]}
        for n, image in enumerate(
            [
                "amdenterpriseai/aim-*",
                "amdenterpriseai/aim-llama3",
                "silogen/aim-llama",
                "silogen/aim-mistral:2.0.0",
                "org/very-broad-pattern-1",
                "ghcr.io/silogen/aim-google-gemma-3-1b-it",
                "amdenterpriseai/aim-base",
                "org/narrow",
            ]
        )
    }
    expected = {"source-0": 7, "source-1": 3, "source-2": 6, "source-3": 1, "source-4": 50}
    expected |= {"source-5": 2, "source-6": 2, "source-7": 1}

    def sync(name: str) -> dict[str, object]:
        spec = specs[name]
        return hook.sync(sync_request(source(name, spec), {}, source_related(spec)))

    # As many at once as Metacontroller's workers, within the app's scan slots (threads - 1).
    with ThreadPoolExecutor(max_workers=METACONTROLLER_WORKERS) as pool:
        replies = dict(zip(specs, pool.map(sync, specs), strict=True))
    for name, reply in replies.items():
        children = reply["children"]
        assert isinstance(children, list)
        assert len(children) == expected[name], name
        labels = {c["metadata"]["labels"]["aim.silogen.ai/model-source"] for c in children}
        assert labels == {name}


def test_gunicorn_refuses_to_start_with_a_bad_setting_and_names_it() -> None:
    env = {"PATH": os.environ.get("PATH", ""), "AIM_SCAN_DEADLINE_SECONDS": "inf"}
    finished = subprocess.run(
        gunicorn_command(free_port()),
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert finished.returncode != 0
    assert "AIM_SCAN_DEADLINE_SECONDS='inf' is not a finite number" in finished.stderr
