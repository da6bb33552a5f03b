"""Settings from the environment: read once at start, and a bad value is an error naming it."""

import ipaddress

import pytest

from hooks.registry.config import DEFAULT_DENIED_NETWORKS, RegistrySettings, parse_networks
from hooks.settings import SettingsError, settings_from_env


def test_environment_sets_endpoints_trust_limits_and_token() -> None:
    settings = settings_from_env(
        {
            "AIM_REGISTRY_ENDPOINTS": "docker.io=http://127.0.0.1:5001/, index.docker.io=http://x",
            "AIM_INSECURE_REGISTRIES": "private.registry.io, REGISTRY-1.DOCKER.IO",
            "AIM_DOCKERHUB_API_URL": "http://127.0.0.1:5002/",
            "AIM_SCAN_DEADLINE_SECONDS": "7.5",
            "AIM_SCAN_CONCURRENCY": "4",
            "AIM_HOOK_TOKEN": "  secret-token  ",
            "AIM_OPERATOR_NAMESPACE": "aim-system",
            "AIM_LOG_LEVEL": "debug",
        }
    )
    registry = settings.registry
    # Docker Hub's aliases are one registry; the later entry wins.
    assert registry.endpoints == {"docker.io": "http://x"}
    assert registry.insecure_registries == {"private.registry.io", "docker.io"}
    assert registry.dockerhub_api_url == "http://127.0.0.1:5002"
    assert registry.github_api_url == "https://api.github.com"
    assert (registry.scan_deadline, registry.concurrency) == (7.5, 4)
    assert settings.hook_token == "secret-token"
    assert settings.operator_namespace == "aim-system"
    assert settings.log_level == "DEBUG"


def test_empty_environment_gives_the_documented_defaults() -> None:
    settings = settings_from_env({})
    assert settings.hook_token is None
    assert settings.operator_namespace == "kaiwo-system"
    assert settings.registry.scan_deadline == 20.0
    assert settings.registry.endpoints == {}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AIM_SCAN_DEADLINE_SECONDS", "soon"),
        ("AIM_SCAN_DEADLINE_SECONDS", "inf"),
        ("AIM_SCAN_DEADLINE_SECONDS", "nan"),
        ("AIM_SCAN_DEADLINE_SECONDS", "0"),
        ("AIM_REQUEST_TIMEOUT_SECONDS", "-1"),
        ("AIM_SCAN_CONCURRENCY", "0"),
        ("AIM_MAX_REQUEST_BYTES", "10"),
        ("AIM_LOG_LEVEL", "chatty"),
        ("AIM_THREADS", "1"),
        ("AIM_REGISTRY_ENDPOINTS", "docker.io"),
        ("AIM_REGISTRY_ENDPOINTS", "docker.io=ftp://mirror"),
    ],
)
def test_a_bad_value_is_an_error_that_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        settings_from_env({name: value})


def test_denied_networks_default_to_loopback_and_link_local_and_can_be_set_or_lifted() -> None:
    default = settings_from_env({}).registry

    def denied(registry: RegistrySettings, address: str) -> bool:
        return registry.denied_network(ipaddress.ip_address(address)) is not None

    assert default.denied_networks == parse_networks(DEFAULT_DENIED_NETWORKS)
    assert denied(default, "127.0.0.1") and denied(default, "169.254.169.254")
    assert denied(default, "::ffff:127.0.0.1") and denied(default, "fd00:ec2::254")
    assert not denied(default, "10.0.0.5") and not denied(default, "192.168.1.2")
    custom = settings_from_env({"AIM_REGISTRY_DENIED_NETWORKS": "10.0.0.0/8, 127.0.0.1"})
    assert denied(custom.registry, "10.1.2.3") and not denied(custom.registry, "127.0.0.2")
    lifted = settings_from_env({"AIM_REGISTRY_DENIED_NETWORKS": "none"})
    assert lifted.registry.denied_networks == ()
    with pytest.raises(SettingsError, match="AIM_REGISTRY_DENIED_NETWORKS"):
        settings_from_env({"AIM_REGISTRY_DENIED_NETWORKS": "10.0.0.0/33"})
