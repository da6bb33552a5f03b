"""Every input of the command line, made hostile: exit 2 and a message naming what is wrong,
never a traceback. Requests, cassettes, `--now`, source manifests and secret files, each nested
past Python's recursion limit, out of range or unreadable, through `main` as a user calls it."""

from collections.abc import Callable
from pathlib import Path

import pytest

from hooks.__main__ import main
from hooks.replay import EXIT_OK, EXIT_USAGE
from tests.reliability.test_hostile_input import deep_child_request

NOW = "2026-08-20T10:00:00Z"
DEEP_JSON = b"[" * 100_000 + b"]" * 100_000
SOURCE = """apiVersion: aim.silogen.ai/v1alpha1
kind: AIMClusterModelSource
metadata: {name: hostile}
spec:
  registry: 127.0.0.1:9
  filters: [{image: models/x}]
"""

Write = Callable[[str, bytes | str], Path]


@pytest.fixture
def write(tmp_path: Path) -> Write:
    def put(name: str, content: bytes | str) -> Path:
        path = tmp_path / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    return put


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str]:
    """`python -m hooks *args` in process: (exit code, stderr); an exception fails the test."""
    code = main([str(arg) for arg in args], env={})
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (DEEP_JSON, "JSON nested too deeply"),
        (b"[" * 2_000 + b"]" * 2_000, "JSON nested too deeply"),
        (b'{"parent": {"kind": "AIMClusterModelSource"}, "x": ' + b"1" * 5_000 + b"}", "not JSON"),
        (b"\xff\xfe\x00", "not JSON"),
    ],
    ids=["100,000 deep", "2,000 deep", "5,000 digits", "not UTF-8"],
)
@pytest.mark.parametrize("hook", [None, "modelsource-sync"], ids=["inferred", "named"])
def test_a_hostile_request_exits_2(
    capsys: pytest.CaptureFixture[str], write: Write, content: bytes, message: str, hook: str | None
) -> None:
    path = write("request.json", content)
    named = ["--hook", hook] if hook else []
    code, err = run(capsys, "replay", path, "--now", NOW, *named)
    assert code == EXIT_USAGE
    if hook and message == "not JSON" and content.startswith(b"{"):
        # The service reads a model-source sync shaped (hooks/jsonio.py `loads_shaped`): a member
        # it skips is read as JSON syntax only, so the 5,000 digits (valid JSON, beyond what
        # Python converts) are skipped and the request's own flaw answers.
        message = "parent.metadata must be a JSON object"
    assert message in err


def test_a_model_nested_as_deep_as_the_service_reads_is_replayed_and_printed(
    capsys: pytest.CaptureFixture[str], write: Write
) -> None:
    path = write("request.json", deep_child_request(1_020))
    code = main(["replay", str(path), "--now", NOW], env={})
    out, err = capsys.readouterr()
    assert code == EXIT_OK
    assert '"name":"deep-model"' in out
    assert "nests too deeply to indent" in err


@pytest.mark.parametrize(
    "now",
    [
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00Z",
    ],
)
def test_a_now_out_of_range_exits_2(
    capsys: pytest.CaptureFixture[str], write: Write, now: str
) -> None:
    path = write("request.json", deep_child_request(10))
    code, err = run(capsys, "replay", path, "--now", now)
    assert code == EXIT_USAGE
    assert "is not a time from 1970 to 9000" in err


def test_a_cassette_nested_too_deeply_exits_2(
    capsys: pytest.CaptureFixture[str], write: Write
) -> None:
    path = write("request.json", deep_child_request(10))
    cassette = write("cassette.json", DEEP_JSON)
    code, err = run(capsys, "replay", path, "--now", NOW, "--cassette", cassette)
    assert code == EXIT_USAGE
    assert "nested too deeply" in err


DEEP_YAML = "a: " + "[" * 100_000 + "]" * 100_000 + "\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (DEEP_YAML, "YAML nested too deeply"),
        ("".join("  " * i + "k:\n" for i in range(3_000)), "YAML nested too deeply"),
        (SOURCE.replace("filters:", "x: " + "[" * 3_000 + "]" * 3_000 + "\n  filters:"), "deeply"),
        (SOURCE.replace("filters:", "maxModels: 1" + "0" * 5_000 + "\n  filters:"), "cannot be"),
    ],
    ids=["100,000 deep", "3,000 mappings", "deep spec", "5,000 digits"],
)
def test_a_hostile_manifest_exits_2(
    capsys: pytest.CaptureFixture[str], write: Write, content: str, message: str
) -> None:
    code, err = run(capsys, "preview", write("source.yaml", content))
    assert code == EXIT_USAGE
    assert message in err


def test_a_hostile_secret_file_exits_2(capsys: pytest.CaptureFixture[str], write: Write) -> None:
    source = write("source.yaml", SOURCE)
    code, err = run(capsys, "preview", source, "--secret", write("secret.yaml", DEEP_YAML))
    assert code == EXIT_USAGE
    assert "YAML nested too deeply" in err
