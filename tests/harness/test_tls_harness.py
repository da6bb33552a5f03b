"""A registry serving HTTPS with the test CA: trusted only by clients given that CA."""

import ssl
from pathlib import Path

import httpx
import pytest

from tests.harness.populate import plan_from
from tests.harness.registry import BasicAuth, Registry, RegistryFactory
from tests.harness.tls import TestCA

pytestmark = pytest.mark.registry

PLAN = plan_from({"org/model": ["1.0.0"]})


@pytest.fixture
def tls_registry(registry_factory: RegistryFactory, test_ca: TestCA) -> Registry:
    return registry_factory(PLAN, tls=test_ca)


def test_tls_registry_is_https_on_loopback(tls_registry: Registry) -> None:
    assert tls_registry.url == f"https://127.0.0.1:{tls_registry.port}"
    assert tls_registry.scheme == "https"


def test_default_verification_rejects_the_test_ca(tls_registry: Registry) -> None:
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{tls_registry.url}/v2/")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_context_with_the_ca_file_verifies_both_names(
    tls_registry: Registry, test_ca: TestCA, host: str
) -> None:
    context = ssl.create_default_context(cafile=str(test_ca.ca_file))
    response = httpx.get(f"https://{host}:{tls_registry.port}/v2/_catalog", verify=context)
    assert response.json() == {"repositories": ["org/model"]}


def test_an_unrelated_ca_is_rejected(tls_registry: Registry, tmp_path: Path) -> None:
    other = TestCA(tmp_path, name="unrelated-ca")
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{tls_registry.url}/v2/", verify=other.client_context())


def test_plain_http_to_the_tls_port_gets_400(tls_registry: Registry) -> None:
    response = httpx.get(f"http://{tls_registry.host}/v2/")
    assert response.status_code == 400
    assert "HTTPS server" in response.text


def test_tls_and_basic_auth_combine(registry_factory: RegistryFactory, test_ca: TestCA) -> None:
    registry = registry_factory(PLAN, auth=BasicAuth({"alice": "secret"}), tls=test_ca)
    with registry.client() as anonymous, registry.client(auth=("alice", "secret")) as alice:
        assert anonymous.get("/v2/").status_code == 401
        assert alice.get("/v2/_catalog").json() == {"repositories": ["org/model"]}
