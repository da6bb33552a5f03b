"""Golden files: recorded requests replayed through the app, answers compared byte for byte.

`tests/fixtures/<case>/request.json` is a request exactly as Metacontroller sends it (compact,
unstructured keys sorted, `<>&` escaped); `response.json` is the expected answer as
`json.dumps(answer, sort_keys=True, indent=2)`. None of the cases needs a registry: the registry
endpoints point at a closed port, so a case that scanned by mistake would answer differently.

A changed answer fails with a diff. Rewriting the golden answers is deliberate:
`UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/hooks/test_golden.py` (then review the diff).
"""

import difflib
import json
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from hooks.app import create_app
from hooks.registry.config import RegistrySettings
from hooks.settings import Settings
from tests.harness.wsgiserver import WsgiServer
from tests.hooks.conftest import START
from tests.hooks.emulator import Clock, HookClient

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CLOSED = "http://127.0.0.1:9"
# Half an hour after the scan the recorded statuses describe: no scan is due yet.
REPLAY_TIME = START + timedelta(minutes=30)
CASES = {
    "modelsource-sync-not-due": "/sync/modelsource",
    "modelsource-sync-invalid-spec": "/sync/modelsource",
    "modelsource-sync-config-missing": "/sync/modelsource",
    "modelsource-customize": "/customize/modelsource",
    "config-sync-degraded": "/sync/config",
}


@pytest.fixture(scope="module")
def replay() -> Iterator[HookClient]:
    """The app with a fixed clock and no reachable registry, over real HTTP."""
    settings = Settings(
        registry=RegistrySettings(
            endpoints={"docker.io": CLOSED, "ghcr.io": CLOSED},
            dockerhub_api_url=CLOSED,
            github_api_url=CLOSED,
        )
    )
    app = create_app(settings, clock=Clock(REPLAY_TIME))
    with WsgiServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        yield HookClient(http)


def golden_text(answer: object) -> str:
    return json.dumps(answer, sort_keys=True, indent=2) + "\n"


def test_every_recorded_request_is_replayed() -> None:
    recorded = sorted(p.parent.name for p in FIXTURES.glob("*/request.json"))
    assert recorded == sorted(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_recorded_request_gives_the_golden_answer(replay: HookClient, case: str) -> None:
    path = CASES[case]
    body = (FIXTURES / case / "request.json").read_bytes()
    request = json.loads(body)
    if path.startswith("/sync"):
        answer = replay.sync(request, path)
    else:
        answer = replay.customize(request, path)
    actual = golden_text(answer)
    golden = FIXTURES / case / "response.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(actual)
    expected = golden.read_text() if golden.exists() else ""
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                f"{case}/response.json (golden)",
                f"{case} (answer)",
            )
        )
        pytest.fail(
            f"the answer differs from the golden file (UPDATE_GOLDEN=1 rewrites it):\n{diff}"
        )


def test_recorded_requests_are_shaped_as_metacontroller_sends_them() -> None:
    for case in CASES:
        body = (FIXTURES / case / "request.json").read_bytes()
        assert b"\n" not in body and b": " not in body, f"{case}: not compact"
        for char in (b"<", b">", b"&"):
            assert char not in body, f"{case}: {char!r} is not escaped as Go escapes it"
        request = json.loads(body)
        assert list(request)[:2] == ["controller", "parent"]
        assert list(request["controller"])[:3] == ["kind", "apiVersion", "metadata"]
        parent = request["parent"]
        assert json.dumps(parent, sort_keys=True) == json.dumps(parent), f"{case}: parent keys"
