"""Log lines: one per hook call, one per failed registry call, the parent's name on each, at the
level AIM_LOG_LEVEL sets; JSON for collectors, text on a terminal.

The lines are written by the service's own formatter and read back (`log_lines`);
test_gunicorn.py checks the same under gunicorn, from its stderr.
"""

import io
import json
import logging
import sys
from typing import Any

import pytest

from hooks.app import create_app
from hooks.logs import LogFormatter, StderrHandler, log_fields, parent_name
from hooks.registry.config import RegistrySettings
from hooks.settings import Settings, settings_from_env
from tests.harness.populate import plan_from
from tests.harness.registry import RegistryFactory
from tests.hooks import wire
from tests.hooks.emulator import HookClient
from tests.web.conftest import LogLines, Serve
from tests.web.hook_requests import source_sync
from tests.web.prometheus import increase, scrape

PLAN = plan_from({"models/aim-llama": ["1.0.0", "1.1.0"]})
MISSING = "models/aim-missing"


def hook_calls(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["message"] == "hook call"]


@pytest.mark.registry
def test_every_line_of_a_sync_names_its_parent_registry_failures_included(
    serve: Serve, registry_factory: RegistryFactory, log_lines: LogLines
) -> None:
    registry = registry_factory(plan=PLAN)
    http = serve(Settings(registry=RegistrySettings(insecure_registries={registry.host})))

    reply = HookClient(http).sync(
        source_sync("llama-models", registry.host, ["models/aim-llama", MISSING])
    )

    assert reply["status"]["status"] == "Degraded"
    lines = log_lines()
    (failure,) = [line for line in lines if line["message"] == "registry call failed"]
    assert failure["parent"] == "llama-models"
    assert failure["level"] == "WARNING"
    assert failure["logger"] == "hooks.registry.scanner"
    assert failure["registry"] == registry.host
    assert failure["error_class"] == "NotFoundError"
    assert failure["status"] == 404
    assert MISSING in failure["error"]
    (call,) = hook_calls(lines)
    assert {k: v for k, v in call.items() if k not in ("time", "duration_ms")} == {
        "level": "INFO",
        "logger": "hooks.app",
        "message": "hook call",
        "hook": "sync/modelsource",
        "parent": "llama-models",
        "outcome": "Degraded",
        "scanned": True,
        "created": 2,
        "http": 200,
    }
    assert call["duration_ms"] >= 0
    assert call["time"].endswith("Z")


def test_no_parent_name_outlives_its_request_on_the_thread(
    log_lines: LogLines,
) -> None:
    # Flask's test client answers on this thread, as a gunicorn thread answers one request
    # after another.
    client = create_app(Settings(), scan=lambda targets, keychain: []).test_client()

    first = client.post("/sync/modelsource", data=json.dumps(source_sync("first", "r.io", [])))
    logging.getLogger("hooks.test").info("between the requests")
    second = client.post("/sync/modelsource", data=b"not json")

    assert (first.status_code, second.status_code) == (200, 400)
    lines = log_lines()
    assert [(line.get("parent"), line["message"]) for line in lines] == [
        ("first", "hook call"),
        (None, "between the requests"),
        ("-", "hook call"),
    ]


def test_a_namespaced_parent_is_named_with_its_namespace(log_lines: LogLines) -> None:
    """Two teams' configs of the same name are told apart in the log."""
    client = create_app(Settings(), scan=lambda targets, keychain: []).test_client()
    parent = wire.config("default", {})
    parent["metadata"]["namespace"] = "team-a"
    body = wire.customize_request(parent, config_hook=True)

    assert client.post("/customize/namespaceconfig", data=wire.encode(body)).status_code == 200
    (call,) = hook_calls(log_lines())
    assert (call["hook"], call["parent"]) == ("customize/namespaceconfig", "team-a/default")


@pytest.mark.registry
@pytest.mark.parametrize(("level", "logged"), [("WARNING", False), ("INFO", True)])
def test_the_log_level_is_aim_log_level(
    level: str,
    logged: bool,
    serve: Serve,
    registry_factory: RegistryFactory,
    log_lines: LogLines,
) -> None:
    registry = registry_factory(plan=PLAN)
    env = {"AIM_LOG_LEVEL": level, "AIM_INSECURE_REGISTRIES": registry.host}
    http = serve(settings_from_env(env))

    HookClient(http).sync(source_sync("leveled", registry.host, [MISSING]))

    messages = [line["message"] for line in log_lines()]
    assert "registry call failed" in messages
    assert ("hook call" in messages) is logged


def test_http_errors_raised_before_the_view_are_logged_and_counted(
    serve: Serve, log_lines: LogLines
) -> None:
    http = serve(Settings(max_request_bytes=1024))
    before = scrape(http)

    too_large = http.post("/sync/modelsource", content=b"{" + b" " * 4096 + b"}")
    wrong_method = http.get("/sync/modelsource")
    no_route = http.post("/sync/nothing", content=b"{}")

    assert (too_large.status_code, wrong_method.status_code, no_route.status_code) == (
        413,
        405,
        404,
    )
    assert [(line["hook"], line["outcome"], line["http"]) for line in hook_calls(log_lines())] == [
        ("sync/modelsource", "http-413", 413),
        ("-", "http-405", 405),
        ("-", "http-404", 404),
    ]
    after = scrape(http)
    calls = "aim_hooks_hook_calls_total"
    assert increase(before, after, calls, hook="sync/modelsource", outcome="http-413") == 1
    assert increase(before, after, calls, hook="-", outcome="http-405") == 1
    assert increase(before, after, calls, hook="-", outcome="http-404") == 1


def test_probes_and_metrics_are_not_logged(serve: Serve, log_lines: LogLines) -> None:
    http = serve(Settings())

    for path in ("/healthz", "/readyz", "/metrics"):
        assert http.get(path).status_code == 200

    assert hook_calls(log_lines()) == []


def a_record(message: str = "registry call failed") -> logging.LogRecord:
    record = logging.LogRecord("hooks.registry.scanner", logging.WARNING, "", 0, message, (), None)
    record.__dict__.update(log_fields(registry="ghcr.io", status=401))
    return record


def test_on_a_terminal_lines_are_text_with_the_parent_and_fields() -> None:
    token = parent_name.set("llama-models")
    try:
        line = LogFormatter(json_lines=False).format(a_record())
    finally:
        parent_name.reset(token)

    assert line.endswith(
        " WARNING hooks.registry.scanner [llama-models] registry call failed"
        " registry=ghcr.io status=401"
    )


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("stream", "json_lines"), [(io.StringIO, True), (Terminal, False)])
def test_stderr_gets_json_lines_unless_it_is_a_terminal(
    stream: type[io.StringIO], json_lines: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stderr", stream())
    handler = StderrHandler()
    # The handler writes wherever stderr is now, not where it was when the handler was made.
    written = io.StringIO()
    monkeypatch.setattr(sys, "stderr", written)

    handler.handle(a_record())

    text = written.getvalue()
    assert text.endswith("\n")
    if json_lines:
        assert json.loads(text)["registry"] == "ghcr.io"
    else:
        assert "registry call failed registry=ghcr.io status=401" in text
