"""`python -m hooks serve`: gunicorn with the service's configuration."""

import subprocess
import sys
import time

import httpx
import pytest

from hooks.__main__ import main
from tests.cli.runner import ROOT, cli_env
from tests.harness.loopback import free_port

START_TIMEOUT = 20.0


def test_serve_starts_gunicorn_that_answers_healthz() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "hooks", "serve", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=cli_env(AIM_WORKERS="1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        answer = None
        deadline = time.monotonic() + START_TIMEOUT
        while answer is None and process.poll() is None and time.monotonic() < deadline:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1, trust_env=False)
            except httpx.TransportError:
                time.sleep(0.05)
        assert answer is not None, "serve never answered on its port"
        assert answer.status_code == 200
        assert answer.json() == {"status": "ok"}
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert b"Booting worker" in stderr


def test_serve_with_a_bad_setting_exits_2_before_starting_gunicorn(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["serve"], env={"AIM_LOG_LEVEL": "LOUD"})

    assert code == 2
    assert "AIM_LOG_LEVEL='LOUD'" in capsys.readouterr().err
