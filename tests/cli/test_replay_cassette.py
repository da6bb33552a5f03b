"""`replay --record` then `--cassette`: the same response, offline, with no credential on tape."""

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cli.hook_requests import config_sync, customize, source_sync
from tests.cli.runner import HooksCLI, cli_env
from tests.harness.populate import plan_from
from tests.harness.registry import BasicAuth, Registry, RegistryFactory, TokenAuth
from tests.harness.tokenserver import TokenServer

pytestmark = pytest.mark.registry

NOW = "2026-08-20T10:00:00Z"
PLAN = plan_from(
    {
        "amdenterpriseai/aim-llama": ["0.8.4", "0.9.0", "0.7.1"],
        "amdenterpriseai/aim-qwen": ["1.0.0"],
        "other/tool": ["1.0.0"],
    }
)
# The images the fixture's filter (amdenterpriseai/aim-*, >=0.8.4) selects from PLAN.
SELECTED = {
    "amdenterpriseai/aim-llama:0.8.4",
    "amdenterpriseai/aim-llama:0.9.0",
    "amdenterpriseai/aim-qwen:1.0.0",
}
PASSWORD = "planted-password-7f3a9c"
IDENTITY_TOKEN = "planted-identity-token-51d2e8"

RequestBuilder = Callable[[str], dict[str, Any]]
HOOK_REQUESTS: dict[str, RequestBuilder] = {
    "modelsource-sync": source_sync,
    "modelsource-customize": lambda registry: customize(source_sync(registry)),
    "config-sync": config_sync,
    "config-customize": lambda registry: customize(config_sync(registry)),
}


def write_request(tmp_path: Path, doc: dict[str, Any]) -> Path:
    # Compact, as Metacontroller sends it.
    path = tmp_path / "request.json"
    path.write_text(json.dumps(doc, separators=(",", ":")))
    return path


def created_images(response: dict[str, Any], registry: str) -> set[str]:
    """repository:tag of the children that point at `registry`."""
    prefix = f"{registry}/"
    return {
        child["spec"]["image"].removeprefix(prefix)
        for child in response["children"]
        if child["spec"]["image"].startswith(prefix)
    }


def record_then_replay(
    hooks_cli: HooksCLI, tmp_path: Path, request: Path, stop: Callable[[], None], registry: str
) -> tuple[str, Path]:
    """Record with the registry up, stop it, replay; assert both runs print the same bytes."""
    env = cli_env(AIM_INSECURE_REGISTRIES=registry)
    cassette = tmp_path / "cassette.json"
    recorded = hooks_cli("replay", request, "--now", NOW, "--record", cassette, env=env)
    assert recorded.returncode == 0, recorded.stderr
    stop()
    replayed = hooks_cli("replay", request, "--now", NOW, "--cassette", cassette, env=env)
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout == recorded.stdout
    assert "not in the cassette" not in replayed.stderr
    return recorded.stdout, cassette


@pytest.mark.parametrize("hook", list(HOOK_REQUESTS))
def test_replay_from_cassette_prints_the_recorded_response_byte_for_byte(
    hook: str, hooks_cli: HooksCLI, registry_factory: RegistryFactory, tmp_path: Path
) -> None:
    registry = registry_factory(plan=PLAN)
    request = write_request(tmp_path, HOOK_REQUESTS[hook](registry.host))

    output, cassette = record_then_replay(
        hooks_cli, tmp_path, request, registry.stop, registry.host
    )

    response = json.loads(output)
    exchanges = json.loads(cassette.read_text())
    if hook == "modelsource-sync":
        assert created_images(response, registry.host) == SELECTED
        assert exchanges, "the scan's registry traffic was not recorded"
    elif hook == "config-sync":
        assert response["status"]["status"] == "Ready"
    else:
        assert "relatedResources" in response
        assert exchanges == []


def test_the_same_replay_twice_gives_identical_output(
    hooks_cli: HooksCLI, registry_factory: RegistryFactory, tmp_path: Path
) -> None:
    registry = registry_factory(plan=PLAN)
    request = write_request(tmp_path, source_sync(registry.host))
    output, cassette = record_then_replay(
        hooks_cli, tmp_path, request, registry.stop, registry.host
    )

    env = cli_env(AIM_INSECURE_REGISTRIES=registry.host)
    again = hooks_cli("replay", request, "--now", NOW, "--cassette", cassette, env=env)

    assert again.returncode == 0, again.stderr
    assert again.stdout == output


def assert_no_credentials(cassette: Path, *secrets: str) -> None:
    text = cassette.read_text()
    for secret in secrets:
        assert secret not in text
    # Every JWT starts with the base64 of '{"': no registry token was written either.
    assert "eyJ" not in text
    assert "<redacted>" in text


def test_basic_auth_password_never_reaches_the_cassette(
    hooks_cli: HooksCLI, registry_factory: RegistryFactory, tmp_path: Path
) -> None:
    registry = registry_factory(plan=PLAN, auth=BasicAuth({"alice": PASSWORD}))
    credential = {"username": "alice", "password": PASSWORD}
    request = write_request(tmp_path, source_sync(registry.host, credential))

    output, cassette = record_then_replay(
        hooks_cli, tmp_path, request, registry.stop, registry.host
    )

    assert created_images(json.loads(output), registry.host) == SELECTED
    basic = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    assert_no_credentials(cassette, PASSWORD, basic)


def start_token_registry(
    registry_factory: RegistryFactory, token_server: Callable[..., TokenServer]
) -> tuple[Registry, TokenServer]:
    server = token_server(users={"alice": PASSWORD}, refresh_tokens={IDENTITY_TOKEN: "alice"})
    return registry_factory(plan=PLAN, auth=TokenAuth(server)), server


@pytest.mark.parametrize(
    "credential",
    [{"username": "alice", "password": PASSWORD}, {"identitytoken": IDENTITY_TOKEN}],
    ids=["password", "identity-token"],
)
def test_token_service_tokens_never_reach_the_cassette(
    credential: dict[str, str],
    hooks_cli: HooksCLI,
    registry_factory: RegistryFactory,
    token_server: Callable[..., TokenServer],
    tmp_path: Path,
) -> None:
    registry, server = start_token_registry(registry_factory, token_server)
    request = write_request(tmp_path, source_sync(registry.host, credential))
    realm = server.realm

    def stop() -> None:
        registry.stop()
        server.stop()

    output, cassette = record_then_replay(hooks_cli, tmp_path, request, stop, registry.host)

    token_answers = [
        e["body"] for e in json.loads(cassette.read_text()) if e["url"].startswith(realm)
    ]
    assert token_answers, "the recording never asked the token service"
    assert all('"<redacted>"' in body for body in token_answers)
    assert created_images(json.loads(output), registry.host) == SELECTED
    basic = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    assert_no_credentials(cassette, PASSWORD, basic, IDENTITY_TOKEN)


def test_a_cassette_replays_offline_without_resolving_a_host(
    hooks_cli: HooksCLI, tmp_path: Path
) -> None:
    """A cassette of a registry nobody configured (recorded where its name resolved to a public
    address) replays without looking the name up: offline, and whatever it resolves to here.
    `localhost` resolves to loopback, which a live scan would refuse."""
    registry = "localhost:5999"
    base = f"https://{registry}/v2"
    pages = {
        f"{base}/_catalog?n=100": {"repositories": ["amdenterpriseai/aim-qwen"]},
        f"{base}/amdenterpriseai/aim-qwen/tags/list": {"tags": ["1.0.0"]},
    }
    exchanges = [
        {
            "method": "GET",
            "url": url,
            "request_headers": [],
            "status": 200,
            "response_headers": ["content-type: application/json"],
            "body": json.dumps(page),
        }
        for url, page in pages.items()
    ]
    cassette = tmp_path / "cassette.json"
    cassette.write_text(json.dumps(exchanges))
    request = write_request(tmp_path, source_sync(registry))

    replayed = hooks_cli("replay", request, "--now", NOW, "--cassette", cassette, env=cli_env())

    assert replayed.returncode == 0, replayed.stderr
    assert "not in the cassette" not in replayed.stderr
    created = created_images(json.loads(replayed.stdout), registry)
    assert created == {"amdenterpriseai/aim-qwen:1.0.0"}
