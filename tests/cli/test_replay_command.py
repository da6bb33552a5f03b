"""`python -m hooks replay`: which hook, which exit code, what it says when the input is wrong."""

import io
import json
from pathlib import Path
from typing import Any

import pytest

from hooks.__main__ import main
from hooks.replay import EXIT_OK, EXIT_USAGE, HOOKS, infer_hook, replay
from tests.cli.hook_requests import config_sync, customize, source_sync
from tests.cli.runner import HooksCLI

NOW = "2026-08-20T10:00:00Z"
# Nothing listens on the discard port: a request that escaped the cassette would fail anyway.
OFFLINE = "127.0.0.1:9"


def test_the_hook_is_inferred_from_controller_and_request_shape() -> None:
    source, config = source_sync(OFFLINE), config_sync(OFFLINE)

    assert infer_hook(source) == "modelsource-sync"
    assert infer_hook(customize(source)) == "modelsource-customize"
    assert infer_hook(config) == "config-sync"
    assert infer_hook(customize(config)) == "config-customize"


def test_without_a_controller_the_parent_kind_tells_the_hook() -> None:
    parent = source_sync(OFFLINE)["parent"]

    assert infer_hook({"parent": parent}) == "modelsource-customize"
    assert infer_hook({"parent": parent, "finalizing": True}) == "modelsource-sync"
    assert infer_hook({"parent": {**parent, "kind": "AIMClusterConfig"}}) == "config-customize"


@pytest.mark.parametrize(
    "doc",
    [{}, [], "sync", {"parent": {"kind": "Deployment"}, "children": {}}],
    ids=["empty", "list", "string", "other-kind"],
)
def test_a_request_that_does_not_tell_its_hook_infers_none(doc: Any) -> None:
    assert infer_hook(doc) is None


def test_a_file_that_is_not_json_exits_2_with_the_services_message(
    hooks_cli: HooksCLI, tmp_path: Path
) -> None:
    request = tmp_path / "request.json"
    request.write_text("apiVersion: v1\n")

    result = hooks_cli("replay", request)

    assert result.returncode == 2
    assert "body is not JSON" in result.stderr
    assert result.stdout == ""


def test_an_empty_object_exits_2_and_lists_the_hook_names(
    hooks_cli: HooksCLI, tmp_path: Path
) -> None:
    request = tmp_path / "request.json"
    request.write_text("{}")

    result = hooks_cli("replay", request)

    assert result.returncode == 2
    assert "--hook " + "|".join(HOOKS) in result.stderr
    assert result.stdout == ""


def run_replay(
    request: Path,
    env: dict[str, str] | None = None,
    **options: Any,
) -> tuple[int, str, str]:
    """`replay` called in process; (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    arguments: dict[str, Any] = {"hook": None, "now": NOW, "record": None, "cassette": None}
    arguments.update(options)
    code = replay(request, env=env or {}, out=out, err=err, **arguments)
    return code, out.getvalue(), err.getvalue()


def write(tmp_path: Path, content: str) -> Path:
    path = tmp_path / "request.json"
    path.write_text(content)
    return path


def test_a_request_the_service_would_refuse_exits_2_with_its_400_message(tmp_path: Path) -> None:
    code, out, err = run_replay(write(tmp_path, "{}"), hook="config-sync")

    assert (code, out) == (EXIT_USAGE, "")
    assert "answers 400: not a sync request: no 'parent'" in err


def test_a_named_hook_on_a_non_json_body_gets_the_services_message(tmp_path: Path) -> None:
    code, _, err = run_replay(write(tmp_path, "{oops"), hook="modelsource-customize")

    assert code == EXIT_USAGE
    assert "answers 400: body is not JSON" in err


@pytest.mark.parametrize(
    ("options", "env", "message"),
    [
        ({"now": "yesterday"}, {}, "not an RFC 3339 time"),
        ({"now": "2026-08-20T10:00:00"}, {}, "has no UTC offset"),
        ({}, {"AIM_SCAN_CONCURRENCY": "many"}, "AIM_SCAN_CONCURRENCY='many' is not a number"),
        ({"cassette": Path("/nonexistent/cassette.json")}, {}, "cannot read cassette"),
    ],
    ids=["now-garbage", "now-naive", "bad-setting", "missing-cassette"],
)
def test_unusable_options_exit_2_with_what_is_wrong(
    tmp_path: Path, options: dict[str, Any], env: dict[str, str], message: str
) -> None:
    request = write(tmp_path, json.dumps(customize(source_sync(OFFLINE))))

    code, out, err = run_replay(request, env, **options)

    assert (code, out) == (EXIT_USAGE, "")
    assert message in err


def test_an_unreadable_request_file_exits_2(tmp_path: Path) -> None:
    code, _, err = run_replay(tmp_path / "absent.json")

    assert code == EXIT_USAGE
    assert "cannot read" in err


@pytest.mark.parametrize("variable", ["AIM_HOOK_TOKEN", "AIM_HOOK_TOKEN_FILE"])
def test_replay_answers_even_when_the_service_requires_a_bearer_token(
    tmp_path: Path, variable: str
) -> None:
    request = write(tmp_path, json.dumps(customize(source_sync(OFFLINE))))
    tokens = tmp_path / "tokens"
    tokens.write_text("hook-token\n")
    value = str(tokens) if variable == "AIM_HOOK_TOKEN_FILE" else "hook-token"

    code, out, _ = run_replay(request, {variable: value})

    assert code == EXIT_OK
    assert json.loads(out)["relatedResources"]


def test_an_unrecorded_request_becomes_the_filters_error_and_is_reported(tmp_path: Path) -> None:
    request = write(tmp_path, json.dumps(source_sync(OFFLINE)))
    cassette = tmp_path / "cassette.json"
    cassette.write_text("[]")

    code, out, err = run_replay(request, {"AIM_INSECURE_REGISTRIES": OFFLINE}, cassette=cassette)

    assert code == EXIT_OK
    status = json.loads(out)["status"]
    degraded = next(c for c in status["conditions"] if c["type"] == "Degraded")
    assert f"cannot connect to {OFFLINE}" in degraded["message"]
    assert f"not in the cassette, answered as unreachable: GET http://{OFFLINE}/v2/_catalog" in err
    assert err.count("not in the cassette") == 1


def test_record_and_cassette_cannot_be_given_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["replay", "r.json", "--record", "a.json", "--cassette", "b.json"])

    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
