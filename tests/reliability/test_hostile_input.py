"""Hostile input: whatever arrives, the sync hook answers 200 with a status a user can read, or 400
with an error saying what is wrong; never a 500, never fewer children than it received.

10,000 generated requests (tests/reliability/hostile.py) go through the Flask app in-process,
with a scan that answers at once (every other filter's registry is down, the others find one
image), so that the 10,000 cases take about a minute. A smaller run goes over real HTTP
through the real registry scanner, with every registry, the Docker Hub API and the GitHub API
down.

A 400 is fair only when a mutation broke the envelope Metacontroller always sends (the parent,
its metadata and name, the shape of `children` and `related`): an invalid spec, junk in a status,
a broken secret or an odd child must be answered with a status.
"""

import json
import logging
import math
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings

from hooks import jsonio
from hooks.app import create_app
from hooks.reference import ImageRef
from hooks.registry.config import RegistrySettings
from hooks.registry.credentials import Keychain
from hooks.registry.targets import ScanTarget, TargetResult
from hooks.settings import Settings
from tests.harness.loopback import free_port
from tests.hooks.emulator import SYNC_SCHEMA, floats_in, response_schema, status_validator
from tests.hooks.endpoints import EveryHost
from tests.hooks.wire import (
    API_VERSION,
    MODEL_GROUP,
    encode,
    observed_child,
    source,
    source_related,
    sync_request,
)
from tests.manifests import crdschema
from tests.reliability.conftest import Figures, Serve
from tests.reliability.hostile import HostileCase, hostile_cases
from tests.reliability.planted import Planted

IN_PROCESS_CASES = 10_000
OVER_HTTP_CASES = 250
STATES = {"Pending", "Progressing", "Ready", "Degraded", "Failed"}
NOW = datetime(2026, 8, 20, 10, 0, tzinfo=UTC)
RUN_SETTINGS = settings(
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.filter_too_much,
    ],
)


def half_down(targets: Sequence[ScanTarget], keychain: Keychain) -> list[TargetResult]:
    """A scan that answers at once: even filters' registries are down, odd ones find an image."""
    return [
        TargetResult(key=t.key, error="registry down (hostile-input test)")
        if t.key % 2 == 0
        else TargetResult(
            key=t.key, images=(ImageRef(t.registry, t.repository.replace("*", "x"), "1.0.0"),)
        )
        for t in targets
    ]


def short(value: object) -> str:
    """A value for an assertion message, cut: answers may hold strings of a megabyte."""
    text = repr(value)
    return text if len(text) <= 2000 else f"{text[:2000]}... ({len(text)} characters)"


def check_answer(case: HostileCase, status: int, body: bytes) -> str:
    """What a hostile request must get back; returns the kind of answer, for the figures."""
    assert status in (200, 400), (status, body[:500])
    reply = json.loads(body)
    if status == 400:
        assert case.may_be_refused, short(reply)
        assert isinstance(reply["error"], str) and reply["error"], short(reply)
        return "400"
    assert set(reply) <= {"status", "children", "resyncAfterSeconds"}, set(reply)
    names = [c["metadata"]["name"] for c in reply["children"]]
    assert len(names) == len(set(names)), "a child answered twice"
    observed = set(case.observed)
    missing = observed - set(names)
    assert not missing, f"children dropped: {sorted(missing)[:5]} ({len(missing)})"
    state = reply["status"]
    assert state["status"] in STATES, short(state)
    assert not floats_in(state), floats_in(state)
    invalid = crdschema.errors(status_validator("AIMClusterModelSource"), state)
    assert not invalid, short(invalid)
    resync = reply.get("resyncAfterSeconds")
    assert resync is None or (resync > 0 and math.isfinite(resync)), resync
    # Existing children come back as they came, junk included (leaving one out deletes it): the
    # strict schema applies to the rest of the answer and to the children the hook made.
    made = [c for c in reply["children"] if c["metadata"]["name"] not in observed]
    errors = [
        e.message for e in response_schema(SYNC_SCHEMA).iter_errors(reply | {"children": made})
    ]
    assert not errors, short(errors)
    return "200"


@pytest.fixture
def client() -> FlaskClient:
    """The app in-process, with the scan that answers at once."""
    app = create_app(Settings(), scan=half_down, clock=lambda: NOW)
    return app.test_client()


@pytest.fixture
def quiet_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """The hook's own log records (INFO and up) for the secret search, not every library's."""
    caplog.set_level(logging.INFO)
    yield caplog


def check_logs(records: list[logging.LogRecord], text: str, planted: Planted) -> None:
    """No exception logged (a caught bug), and no planted credential in any record."""
    failures = [r.getMessage() for r in records if r.exc_info or r.levelno >= logging.ERROR]
    assert failures == []
    assert planted.hits(text) == []


def test_ten_thousand_hostile_requests_get_a_200_or_a_clear_400_and_keep_every_child(
    client: FlaskClient, planted: Planted, figures: Figures, quiet_logs: pytest.LogCaptureFixture
) -> None:
    answers: Counter[str] = Counter()

    @settings(RUN_SETTINGS, max_examples=IN_PROCESS_CASES)
    @given(hostile_cases(planted))
    def check(case: HostileCase) -> None:
        response = client.post(
            "/sync/modelsource", data=case.body(), content_type="application/json"
        )
        body = response.get_data()
        answers[check_answer(case, response.status_code, body)] += 1
        assert planted.hits(body) == []

    check()
    assert sum(answers.values()) >= IN_PROCESS_CASES
    assert answers["200"] > answers["400"]
    check_logs(quiet_logs.records, quiet_logs.text, planted)
    figures.hostile.update({f"in-process {kind}": n for kind, n in answers.items()})
    figures.texts_searched += planted.texts_searched


def test_hostile_requests_over_http_with_every_registry_down(
    serve: Serve, planted: Planted, figures: Figures, quiet_logs: pytest.LogCaptureFixture
) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    hook = serve(
        Settings(
            registry=RegistrySettings(
                endpoints=EveryHost(down),
                dockerhub_api_url=down,
                github_api_url=down,
                scan_deadline=0.15,
                request_timeout=0.15,
            )
        )
    )
    answers: Counter[str] = Counter()

    @settings(RUN_SETTINGS, max_examples=OVER_HTTP_CASES)
    @given(hostile_cases(planted))
    def check(case: HostileCase) -> None:
        response = hook.post("/sync/modelsource", case.body())
        answers[check_answer(case, response.status_code, response.content)] += 1
        assert planted.hits(response.content) == []

    check()
    assert answers["200"] > answers["400"]
    check_logs(quiet_logs.records, quiet_logs.text, planted)
    figures.hostile.update({f"over HTTP {kind}": n for kind, n in answers.items()})
    figures.texts_searched += planted.texts_searched


DEEPEST_READ = 1024  # orjson's nesting limit, the deepest body `jsonio.loads` reads
PLACEHOLDER = "deep-value-placeholder"


def deep_child_request(levels: int) -> bytes:
    """A sync whose one existing model nests so that the whole request is `levels` deep."""
    spec = {"registry": "registry.example", "filters": [{"image": "models/*"}]}
    parent = source("deep", spec)
    child = observed_child(
        {
            "apiVersion": API_VERSION,
            "kind": "AIMClusterModel",
            "metadata": {"name": "deep-model"},
            "spec": {"image": "registry.example/models/a:1", "extra": PLACEHOLDER},
        },
        parent,
        1,
    )
    body = encode(sync_request(parent, {"deep-model": child}, source_related(spec)))
    # request > children > group > child > spec > extra: five levels before the deep value.
    inner = levels - 5
    return body.replace(f'"{PLACEHOLDER}"'.encode(), b"[" * inner + b"]" * inner)


@pytest.mark.parametrize("levels", [980, 1000, 1020, DEEPEST_READ])
def test_a_model_nested_as_deep_as_the_parser_reads_is_kept_not_a_500(
    client: FlaskClient, levels: int
) -> None:
    body = deep_child_request(levels)
    response = client.post("/sync/modelsource", data=body, content_type="application/json")
    assert response.status_code == 200, response.get_data()[:300]
    (child,) = jsonio.loads(response.get_data())["children"]
    sent = jsonio.loads(body)["children"][MODEL_GROUP]["deep-model"]
    assert jsonio.dumps(child["spec"]) == jsonio.dumps(sent["spec"])


def test_a_request_nested_deeper_than_the_parser_reads_is_a_400(client: FlaskClient) -> None:
    body = deep_child_request(DEEPEST_READ + 1)
    response = client.post("/sync/modelsource", data=body, content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in response.get_json()["error"]
