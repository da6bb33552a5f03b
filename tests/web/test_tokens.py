"""The hook token from a mounted Secret (AIM_HOOK_TOKEN_FILE): one token per line, re-read when
the kubelet updates the file, so that a rotation can accept the old and the new token at once.

The file is written as the kubelet writes a Secret volume (its AtomicWriter): the content in a
fresh timestamped directory, `..data` a symlink swapped to it, `tokens` a symlink through
`..data`. Requests go over real HTTP to the app in a threaded server.
"""

import os
from itertools import count
from pathlib import Path

import httpx
import pytest

from hooks.settings import SettingsError, settings_from_env
from tests.web.conftest import LogLines, Serve
from tests.web.hook_requests import source_sync

OLD = "old-hook-token-4f1c2a"
NEW = "new-hook-token-9b7e3d"
HOOK = "/customize/modelsource"


class SecretVolume:
    """A directory laid out as the kubelet lays out a Secret volume with the key `tokens`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.versions = count()

    @property
    def path(self) -> Path:
        return self.root / "tokens"

    def write(self, text: str) -> None:
        version = self.root / f"..2026_12_06_{next(self.versions)}"
        version.mkdir()
        (version / "tokens").write_text(text)
        staged = self.root / "..data_tmp"
        staged.symlink_to(version.name)
        os.replace(staged, self.root / "..data")
        if not self.path.is_symlink():
            self.path.symlink_to("..data/tokens")


@pytest.fixture
def volume(tmp_path: Path) -> SecretVolume:
    volume = SecretVolume(tmp_path)
    volume.write(f"{OLD}\n")
    return volume


def status(http: httpx.Client, token: str) -> int:
    body = source_sync("rotated", "registry.test", ["models/a"])
    body.pop("children")  # a customize request: no scan, no registry
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return http.post(HOOK, json=body, headers=headers).status_code


def test_a_rotation_accepts_both_tokens_then_only_the_new_one(
    volume: SecretVolume, serve: Serve
) -> None:
    http = serve(settings_from_env({"AIM_HOOK_TOKEN_FILE": str(volume.path)}))
    assert (status(http, OLD), status(http, NEW)) == (200, 401)

    volume.write(f"{OLD}\n{NEW}\n")  # step 1: the new token added, both accepted
    assert (status(http, OLD), status(http, NEW)) == (200, 200)

    volume.write(f"{NEW}\n")  # step 3: the old one removed
    assert (status(http, OLD), status(http, NEW)) == (401, 200)


def test_the_access_log_says_which_line_a_token_matched_never_the_token(
    volume: SecretVolume, serve: Serve, log_lines: LogLines
) -> None:
    http = serve(settings_from_env({"AIM_HOOK_TOKEN_FILE": str(volume.path)}))
    volume.write(f"  {OLD}  \n\n{NEW}\r\n")
    status(http, NEW)
    status(http, OLD)
    status(http, "neither")
    calls = [line for line in log_lines() if line["message"] == "hook call"]
    assert [(c["http"], c.get("token_line")) for c in calls] == [(200, 2), (200, 1), (401, None)]
    reload = [line for line in log_lines() if line["message"] == "hook token file read"]
    assert [line["tokens"] for line in reload] == [2]
    text = repr(log_lines())
    assert OLD not in text and NEW not in text


def test_a_file_emptied_by_mistake_keeps_the_tokens_read_before(
    volume: SecretVolume, serve: Serve, log_lines: LogLines
) -> None:
    http = serve(settings_from_env({"AIM_HOOK_TOKEN_FILE": str(volume.path)}))
    volume.write("\n")
    assert (status(http, OLD), status(http, NEW)) == (200, 401)
    (warning,) = [line for line in log_lines() if line["level"] == "WARNING"]
    assert warning["message"].startswith("hook token file unusable")
    assert OLD not in repr(warning)


def test_the_token_from_the_environment_still_works(serve: Serve) -> None:
    http = serve(settings_from_env({"AIM_HOOK_TOKEN": OLD}))
    assert (status(http, OLD), status(http, NEW)) == (200, 401)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        ("\n \n", "holds no token"),
        ("x" * 70_000, "larger than"),
    ],
    ids=["missing", "empty", "huge"],
)
def test_an_unusable_token_file_stops_the_service_at_start(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "tokens"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SettingsError, match=f"AIM_HOOK_TOKEN_FILE: .*{message}"):
        settings_from_env({"AIM_HOOK_TOKEN_FILE": str(path)})


def test_a_token_and_a_token_file_together_are_refused(volume: SecretVolume) -> None:
    with pytest.raises(SettingsError, match="not both"):
        settings_from_env({"AIM_HOOK_TOKEN": OLD, "AIM_HOOK_TOKEN_FILE": str(volume.path)})
