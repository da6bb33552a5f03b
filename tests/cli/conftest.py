"""Fixtures for the CLI tests."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.runner import ROOT, HooksCLI, cli_env


@pytest.fixture
def hooks_cli() -> HooksCLI:
    """`hooks_cli(*args, env={...})` runs `python -m hooks *args` and returns the result."""

    def run(
        *args: str | Path, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "hooks", *map(str, args)],
            cwd=ROOT,
            env=env if env is not None else cli_env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return run
