"""Access to `../shared`: reference data from public sources, which tests read in place.

Tests read nothing else from it: `conformance/` (node-semver's range table),
`metacontroller/crds/` and `metacontroller/*.schema.json` (Metacontroller's CRDs and response
schemas), `registry/api-fixtures/` (recorded registry and API answers), and, to compare our own
files with them, `metacontroller/fixture-sample.json` (a recorded sync request) and `spec/` (the
user docs). Everything else a test needs is in the repository. In CI (`CI=true`) a missing file is
a failure; elsewhere the test is skipped with the reason.
"""

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"


def in_ci() -> bool:
    """CI sets CI=true: there, a missing prerequisite must fail the run instead of skipping."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(what: str, reason: str) -> None:
    """Fail in CI, skip elsewhere: a missing part must never pass silently in CI."""
    if in_ci():
        pytest.fail(f"{what} is missing in CI: {reason}")
    pytest.skip(f"{what} is missing: {reason}")


def shared_path(relative: str) -> Path:
    """Path of a file under ../shared, failing (CI) or skipping (elsewhere) when it is absent."""
    path = SHARED / relative
    if not path.exists():
        require(f"../shared/{relative}", "clone the project with shared/ beside it")
    return path
