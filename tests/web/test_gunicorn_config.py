"""hooks/gunicorn_config.py as gunicorn reads it (`--print-config`), without starting a server."""

import subprocess
from pathlib import Path

import pytest

from tests.harness.loopback import free_port
from tests.harness.processes import gunicorn_command

PROJECT = Path(__file__).resolve().parents[2]
# Go's http.Transport keeps an idle connection 90 s (IdleConnTimeout); Metacontroller's webhook
# client is one.
METACONTROLLER_IDLE_SECONDS = 90


def printed_config(env: dict[str, str]) -> dict[str, str]:
    """`gunicorn --print-config` with the service's configuration: setting name -> value."""
    command = [*gunicorn_command(free_port()), "--print-config"]
    result = subprocess.run(
        command, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    pairs = (line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    return {name.strip(): value.strip() for name, value in pairs}


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The configuration as the image runs it (no AIM_* variable set)."""
    metrics = tmp_path_factory.mktemp("metrics")
    return printed_config({"PROMETHEUS_MULTIPROC_DIR": str(metrics)})


def test_the_server_keeps_idle_connections_longer_than_metacontroller(
    deployed: dict[str, str],
) -> None:
    """The client, not the server, must be the one to close an idle connection: otherwise a
    request sent as the server closes it fails."""
    assert int(deployed["keepalive"]) > METACONTROLLER_IDLE_SECONDS


def test_gunicorn_builds_no_access_lines(deployed: dict[str, str]) -> None:
    """The app logs each hook call itself; gunicorn's logger would build every request's access
    fields for a line the logging configuration then drops (hooks/gunicorn_config.py)."""
    assert "NoAccessLogger" in deployed["logger_class"]


def test_each_worker_listens_on_a_socket_of_its_own(deployed: dict[str, str]) -> None:
    """SO_REUSEPORT: the kernel, not an accept race, spreads connections over the workers."""
    assert deployed["reuse_port"] == "True"


def test_a_unix_socket_stays_one_socket_shared_by_the_workers(tmp_path: Path) -> None:
    """Each worker binding its own would remove the path of the one bound before it."""
    config = printed_config(
        {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "AIM_BIND": f"unix:{tmp_path}/hooks.sock"}
    )
    assert config["reuse_port"] == "False"
