"""The fault campaign: every registry fault against every kind of source, nothing lost, nothing
leaked.

For each fault (latency beyond the scan deadline, a stall beyond the request timeout, 429 with
and without Retry-After, 500/502/503, reset and dropped connections, truncated and non-JSON
bodies, a Link that loops, endless pages, a token endpoint that fails or answers garbage, TLS
with an untrusted CA), and once without any fault as a baseline, every scenario (a wildcard,
exact repositories with versions, an exact tag, all of them mixed with a filter on a registry
the fault spares), each with 0, 3 or 400 models already owned, is synced the way Metacontroller
does it: the answer applied, and the sync repeated while the scan is still in progress. Then:

- every existing child is in every answer (Metacontroller deletes the others);
- the status names each broken filter with the cause, and no other filter; what the spared
  filters find is created;
- `resyncAfterSeconds` is the backoff of a first failure (30 s, or the registry's Retry-After);
- every answer is a 200 that arrived within the webhook timeout (the client waits no longer),
  valid for Metacontroller's strict schema and the CRD, and no exception was logged;
- no planted credential, nor a token issued for it, appears in any answer, log line, stderr or
  metrics, and each server received only the credentials meant for it.
"""

import json
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from tests.harness.tokenserver import claims_of
from tests.hooks.emulator import HookClient, Metacontroller
from tests.hooks.expected import condition
from tests.hooks.wire import MODEL_GROUP
from tests.reliability.conftest import Figures, Serve, World
from tests.reliability.planted import REGISTRY_TOKEN, Planted, basic_auth
from tests.reliability.scenarios import (
    CHILD_COUNTS,
    FAULTS,
    OTHER,
    OTHER_SECRET,
    PRIMARY,
    REGISTRY_SECRET,
    SCENARIOS,
    SECURE,
    SYNC_INTERVAL_SECONDS,
    Fault,
    Scenario,
    sync_case,
)

# A scan cut by its deadline continues in the next call; the one after settles it.
MAX_ROUNDS = 3
CONTINUE_AFTER_SECONDS = 1


@dataclass
class CaseRun:
    """One (fault, scenario, owned models) case, synced until its status settled."""

    scenario: Scenario
    children: str
    controller: Metacontroller
    received: int

    @property
    def reply(self) -> dict[str, Any]:
        """The last answer."""
        return self.controller.replies[-1]


def run_case(
    hook: HookClient, fault: Fault, scenario: Scenario, children: str, secrets: list[Any]
) -> CaseRun:
    """Sync one case as Metacontroller would, until the scan no longer continues."""
    request = sync_case(scenario, children, fault.primary, secrets)
    controller = Metacontroller.from_request(hook, request)
    for _ in range(MAX_ROUNDS):
        reply = controller.sync()  # a 200 valid for the strict schema, every child kept
        if reply["status"]["status"] != "Progressing":
            break
        assert reply["resyncAfterSeconds"] == CONTINUE_AFTER_SECONDS
    return CaseRun(scenario, children, controller, len(request["children"][MODEL_GROUP]))


def filter_error(message: str, image: str) -> str | None:
    """The error a status message gives for one filter (`filter "{image}": {error}`), if any."""
    marker = f'filter "{image}": '
    start = message.find(marker)
    if start < 0:
        return None
    rest = message[start + len(marker) :]
    end = rest.find('; filter "')
    return rest if end < 0 else rest[:end]


def check_status(run: CaseRun, fault: Fault) -> None:
    """The settled status names exactly the broken filters, each with the fault's cause."""
    status = run.reply["status"]
    broken = [f for f in run.scenario.filters if f.kind in fault.affects]
    spared = [f for f in run.scenario.filters if f.kind not in fault.affects]
    expected = "Failed" if not spared else "Degraded" if broken else "Ready"
    if expected == "Failed" and fault.retry_after and run.received == 0:
        # A first scan (no models, no status yet) that only waits out a Retry-After is Pending
        # (docs/decisions.md §5).
        expected = "Pending"
    where = f"{fault.name} / {run.scenario.name} / {run.children}"
    assert status["status"] == expected, (where, status)
    message = condition(status, "Degraded")["message"]
    for f in broken:
        error = filter_error(message, f.image)
        assert error is not None and fault.matches_cause(error), (where, f.image, message)
    for f in spared:
        assert filter_error(message, f.image) is None, (where, f.image, message)
    reasons = {c["reason"] for c in status["conditions"]}
    assert "InternalError" not in reasons, (where, status)
    resync = run.reply["resyncAfterSeconds"]
    assert resync == (fault.expected_resync() if broken else SYNC_INTERVAL_SECONDS), where
    created = run.scenario.model_names(fault.primary, tuple(spared))
    assert created <= set(run.controller.children), (where, created - set(run.controller.children))


@dataclass(frozen=True)
class Marks:
    """How many requests each server had received before a test's syncs."""

    registry: int
    token: int
    other: int
    decoy: int

    @classmethod
    def of(cls, world: World) -> "Marks":
        return cls(
            len(world.proxy.requests),
            len(world.token_server.requests),
            len(world.other_proxy.requests),
            len(world.decoy.requests),
        )


def check_credentials_went_home(world: World, marks: Marks) -> list[str | None]:
    """Each server received only its own credentials; returns every Authorization sent.

    registry.test gets bearer tokens from its token server, never the password; its token realm
    gets the planted Basic credentials, never other.test's token; other.test gets its registry
    token and nothing else; the Hub and GitHub API decoy gets nothing at all.
    """
    to_registry = [r.headers.get("authorization") for r in world.proxy.requests[marks.registry :]]
    for value in filter(None, to_registry):
        scheme, _, token = value.partition(" ")
        assert scheme == "Bearer", value
        assert claims_of(token)["iss"] == world.token_server.issuer
    to_realm = [r.headers.get("authorization") for r in world.token_server.requests[marks.token :]]
    assert set(to_realm) <= {None, basic_auth()}, set(to_realm)
    to_other = [r.headers.get("authorization") for r in world.other_proxy.requests[marks.other :]]
    assert set(to_other) <= {None, f"Bearer {REGISTRY_TOKEN}"}, set(to_other)
    assert world.decoy.requests[marks.decoy :] == []
    return to_registry + to_realm + to_other


def search_for_leaks(
    planted: Planted, hook: HookClient, runs: list[CaseRun], logs: str, output: str
) -> list[str]:
    """Planted credentials in answers, logs, stderr/stdout and metrics (when served)."""
    answers = [json.dumps(reply) for run in runs for reply in run.controller.replies]
    metrics = hook.http.get("/metrics")
    served = [metrics.text] if metrics.status_code == 200 else []
    return planted.hits(*answers, logs, output, *served)


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every log record of every library, at DEBUG: the widest net for a leaked secret."""
    caplog.set_level(logging.DEBUG)
    yield caplog


@pytest.mark.parametrize("fault", FAULTS, ids=lambda fault: fault.name)
def test_a_fault_keeps_every_child_and_the_status_names_the_filter_and_the_cause(
    fault: Fault,
    calm_world: World,
    serve: Serve,
    planted: Planted,
    figures: Figures,
    debug_logs: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    world = calm_world
    overrides: dict[str, Any] = {"scan_deadline": 1.0, "request_timeout": 10.0}
    hook = serve(world.settings(**(overrides if fault.slow else {})))
    world.proxy.set_rules(fault.rules)
    world.token_server.fail_mode = fault.token_fail
    secrets = [
        planted.login_secret(REGISTRY_SECRET, PRIMARY, SECURE),
        planted.token_secret(OTHER_SECRET, OTHER, "registrytoken"),
    ]
    marks = Marks.of(world)
    cases = [(scenario, children) for scenario in SCENARIOS for children in CHILD_COUNTS]

    # Metacontroller syncs different sources at once: so do the cases of one fault.
    with ThreadPoolExecutor(max_workers=len(cases)) as pool:
        runs = list(pool.map(lambda case: run_case(hook, fault, *case, secrets), cases))

    for run in runs:
        check_status(run, fault)
    dropped = sum(len(run.controller.deleted) for run in runs)
    assert dropped == 0
    errors = [r for r in debug_logs.records if r.exc_info is not None or r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
    planted.saw_authorizations(check_credentials_went_home(world, marks))
    captured = capfd.readouterr()
    hits = search_for_leaks(planted, hook, runs, debug_logs.text, captured.out + captured.err)
    assert hits == []

    figures.faults.add(fault.name)
    figures.cases += len(runs)
    figures.rounds += sum(len(run.controller.replies) for run in runs)
    figures.children_received += sum(run.received for run in runs)
    figures.children_dropped += dropped
    figures.texts_searched += planted.texts_searched
    figures.secret_hits += len(hits)
