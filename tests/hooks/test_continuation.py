"""A scan that spans several calls: what earlier calls found and failed is not forgotten.

The controller takes the scan as a function, so these tests hand it a scripted one: each call
answers as a registry cut off by the deadline would, and the status after the last call must
still name the error of the first.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from hooks.metacontroller import parse_sync_request
from hooks.modelsource.controller import sync_source
from hooks.reference import ImageRef
from hooks.registry.credentials import Keychain
from hooks.registry.targets import ScanTarget, TargetResult
from tests.hooks import wire

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SPEC = {"registry": "models.example.com", "filters": [{"image": "org/aim-*"}]}


class ScriptedScan:
    """Answers call N with the N-th scripted result list and records the targets it got."""

    def __init__(self, script: list[list[TargetResult]]) -> None:
        self.script = script
        self.targets: list[list[ScanTarget]] = []

    def __call__(self, targets: Sequence[ScanTarget], keychain: Keychain) -> list[TargetResult]:
        self.targets.append(list(targets))
        return self.script[len(self.targets) - 1]


def image(repository: str) -> ImageRef:
    return ImageRef("models.example.com", repository, tag="1.0.0")


def run(scan: ScriptedScan, status: dict[str, Any] | None) -> dict[str, Any]:
    parent = wire.source("continued", SPEC, status=status)
    request = parse_sync_request(wire.sync_request(parent, {}, wire.source_related(SPEC)))
    result = sync_source(request, scan=scan, now=NOW, operator_namespace="kaiwo-system")
    return result.response.to_json()


def test_error_of_an_earlier_call_stays_in_the_final_status() -> None:
    scan = ScriptedScan(
        [
            [
                TargetResult(
                    0,
                    images=(image("org/aim-a"),),
                    error="listing tags of org/aim-b: registry failed with 500",
                    finished=False,
                    resume_after="org/aim-b",
                )
            ],
            [TargetResult(0, images=(image("org/aim-c"),))],
        ]
    )
    first = run(scan, None)
    assert first["status"]["status"] == "Progressing"
    second = run(scan, first["status"])
    status = second["status"]
    assert status["status"] == "Failed"
    degraded = next(c for c in status["conditions"] if c["type"] == "Degraded")
    assert "org/aim-b: registry failed with 500" in degraded["message"]
    assert scan.targets[1][0].resume_after == "org/aim-b"


def test_errors_of_a_long_continuation_do_not_grow_the_status_without_bound() -> None:
    calls = 300
    scan = ScriptedScan(
        [
            [
                TargetResult(
                    0,
                    images=(image(f"org/aim-{n:04d}"),),
                    error=f"listing tags of org/aim-{n:04d}x: registry failed with 500",
                    finished=False,
                    resume_after=f"org/aim-{n:04d}x",
                )
            ]
            for n in range(calls)
        ]
    )
    status = None
    sizes = []
    for _ in range(calls):
        status = run(scan, status)["status"]
        sizes.append(len(status["scan"]["progress"]["filters"][0]["error"]))

    assert max(sizes) < 2100
    assert sizes[-1] == sizes[-100]
    assert "org/aim-0000x: registry failed" in status["scan"]["progress"]["filters"][0]["error"]


def test_the_same_error_in_every_call_of_a_continuation_is_listed_once() -> None:
    error = "listing tags of org/aim-b: registry failed with 500"
    scan = ScriptedScan(
        [
            [
                TargetResult(
                    0,
                    images=(image(f"org/aim-{n}"),),
                    error=error,
                    finished=False,
                    resume_after=f"org/aim-{n}",
                )
            ]
            for n in range(5)
        ]
    )
    status = None
    for _ in range(5):
        status = run(scan, status)["status"]

    assert status is not None
    assert status["scan"]["progress"]["filters"][0]["error"] == error
