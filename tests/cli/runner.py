"""Running `python -m hooks` as a user does: a subprocess in the project root."""

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

HooksCLI = Callable[..., subprocess.CompletedProcess[str]]


def cli_env(**variables: str) -> dict[str, str]:
    """The test's environment without the service's own AIM_* settings, plus `variables`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIM_")}
    env.update(variables)
    return env
