"""Registries behind htpasswd (Basic) and token (Bearer) auth, exercised with real traffic."""

import re
import time
from collections.abc import Callable

import httpx
import pytest

from tests.harness.faultproxy import FaultProxy
from tests.harness.populate import MANIFEST_ACCEPT, PushError, plan_from, push_image
from tests.harness.registry import BasicAuth, Registry, RegistryFactory, TokenAuth
from tests.harness.tokenserver import TokenServer, claims_of

pytestmark = pytest.mark.registry

PLAN = plan_from({"org/model": ["1.0.0", "1.1.0"], "org/private": ["2.0.0"]})
USERS = {"alice": "secret"}


def challenge(response: httpx.Response) -> tuple[str, dict[str, str]]:
    """The scheme and parameters of a WWW-Authenticate header."""
    scheme, _, params = response.headers["WWW-Authenticate"].partition(" ")
    return scheme, dict(re.findall(r'(\w+)="([^"]*)"', params))


def fetch_token(
    server: TokenServer, *scopes: str, auth: tuple[str, str] | None = None
) -> httpx.Response:
    """GET the realm as a registry client does after a Bearer challenge."""
    params: list[tuple[str, str | int | float | bool | None]] = [("service", server.service)]
    params += [("scope", scope) for scope in scopes]
    return httpx.get(server.realm, params=params, auth=auth, timeout=10)


def bearer(token_response: httpx.Response) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_response.json()['token']}"}


@pytest.fixture
def token_registry(
    registry_factory: RegistryFactory, token_server: Callable[..., TokenServer]
) -> tuple[Registry, TokenServer]:
    server = token_server(users=USERS, deny={"org/private"})
    return registry_factory(PLAN, auth=TokenAuth(server)), server


# --- Basic (htpasswd) ---------------------------------------------------------------------------


def test_basic_auth_registry_challenges_without_credentials(
    registry_factory: RegistryFactory,
) -> None:
    registry = registry_factory(PLAN, auth=BasicAuth(USERS))
    with registry.client() as client:
        response = client.get("/v2/_catalog")
    assert response.status_code == 401
    assert challenge(response) == ("Basic", {"realm": "test-realm"})
    assert response.json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_basic_auth_registry_serves_a_valid_user_and_refuses_a_wrong_password(
    registry_factory: RegistryFactory,
) -> None:
    registry = registry_factory(PLAN, auth=BasicAuth(USERS))
    with registry.client(auth=("alice", "secret")) as client:
        assert client.get("/v2/_catalog").json()["repositories"] == ["org/model", "org/private"]
        pushed = push_image(client, registry.url, "org/model", "1.2.0")
        head = client.head("/v2/org/model/manifests/1.2.0", headers={"Accept": MANIFEST_ACCEPT})
        assert head.headers["Docker-Content-Digest"] == pushed.digest
    with registry.client(auth=("alice", "wrong")) as client:
        assert client.get("/v2/_catalog").status_code == 401


# --- Token (Bearer) -----------------------------------------------------------------------------


def test_token_registry_challenges_with_realm_service_and_scope(
    token_registry: tuple[Registry, TokenServer],
) -> None:
    registry, server = token_registry
    with registry.client() as client:
        ping = client.get("/v2/")
        tags = client.get("/v2/org/model/tags/list")
        catalog = client.get("/v2/_catalog")
    assert ping.status_code == 401
    assert challenge(ping) == ("Bearer", {"realm": server.realm, "service": "test-registry"})
    assert challenge(tags)[1]["scope"] == "repository:org/model:pull"
    assert challenge(catalog)[1]["scope"] == "registry:catalog:*"


def test_anonymous_pull_token_lists_tags(token_registry: tuple[Registry, TokenServer]) -> None:
    registry, server = token_registry
    token = fetch_token(server, "repository:org/model:pull,push")
    assert token.status_code == 200
    assert claims_of(token.json()["token"])["access"] == [
        {"type": "repository", "name": "org/model", "actions": ["pull"]}
    ]
    with registry.client() as client:
        tags = client.get("/v2/org/model/tags/list", headers=bearer(token))
    assert sorted(tags.json()["tags"]) == ["1.0.0", "1.1.0"]


def test_catalog_is_denied_anonymously_and_allowed_with_credentials(
    token_registry: tuple[Registry, TokenServer],
) -> None:
    registry, server = token_registry
    anonymous = fetch_token(server, "registry:catalog:*")
    alice = fetch_token(server, "registry:catalog:*", auth=("alice", "secret"))
    with registry.client() as client:
        refused = client.get("/v2/_catalog", headers=bearer(anonymous))
        allowed = client.get("/v2/_catalog", headers=bearer(alice))
    assert refused.status_code == 401
    assert challenge(refused)[1]["error"] == "insufficient_scope"
    assert allowed.json()["repositories"] == ["org/model", "org/private"]


def test_wrong_password_is_refused_by_the_token_server(
    token_registry: tuple[Registry, TokenServer],
) -> None:
    _, server = token_registry
    response = fetch_token(server, "repository:org/model:pull", auth=("alice", "wrong"))
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_denied_repository_gets_a_token_without_access_even_for_a_user(
    token_registry: tuple[Registry, TokenServer],
) -> None:
    registry, server = token_registry
    token = fetch_token(server, "repository:org/private:pull", auth=("alice", "secret"))
    assert claims_of(token.json()["token"])["access"] == []
    with registry.client() as client:
        response = client.get("/v2/org/private/tags/list", headers=bearer(token))
    assert response.status_code == 401


def test_push_through_the_token_flow_needs_a_user(
    token_registry: tuple[Registry, TokenServer],
) -> None:
    registry, server = token_registry
    scope = "repository:org/pushed:pull,push"
    anonymous = fetch_token(server, scope)
    alice = fetch_token(server, scope, auth=("alice", "secret"))
    with registry.client() as client:
        with pytest.raises(PushError, match="401"):
            push_image(client, registry.url, "org/pushed", "3.0.0", headers=bearer(anonymous))
        push_image(client, registry.url, "org/pushed", "3.0.0", headers=bearer(alice))
        tags = client.get("/v2/org/pushed/tags/list", headers=bearer(alice))
    assert tags.json()["tags"] == ["3.0.0"]


def test_expired_token_is_an_invalid_token(
    registry_factory: RegistryFactory, token_server: Callable[..., TokenServer]
) -> None:
    # Issued two hours ago for five minutes: past distribution's leeway for clock skew.
    server = token_server(clock=lambda: time.time() - 7200)
    registry = registry_factory(PLAN, auth=TokenAuth(server))
    token = fetch_token(server, "repository:org/model:pull")
    with registry.client() as client:
        response = client.get("/v2/org/model/tags/list", headers=bearer(token))
    assert response.status_code == 401
    assert challenge(response)[1]["error"] == "invalid_token"


def test_challenge_can_name_a_realm_behind_a_fault_proxy(
    registry_factory: RegistryFactory,
    token_server: Callable[..., TokenServer],
    fault_proxy_factory: Callable[..., FaultProxy],
) -> None:
    server = token_server(users=USERS)
    proxy = fault_proxy_factory("127.0.0.1", server.port)
    registry = registry_factory(PLAN, auth=TokenAuth(server, realm=f"{proxy.url}/token"))
    with registry.client() as client:
        realm = challenge(client.get("/v2/"))[1]["realm"]
        token = httpx.get(realm, params={"scope": "repository:org/model:pull"}).json()["token"]
        tags = client.get("/v2/org/model/tags/list", headers={"Authorization": f"Bearer {token}"})
    assert realm == f"{proxy.url}/token"
    assert tags.status_code == 200
    assert [r.path for r in proxy.requests] == ["/token"]
    assert len(server.requests) == 1


def test_token_server_records_which_credentials_came_with_which_scope(
    token_registry: tuple[Registry, TokenServer],
) -> None:
    _, server = token_registry
    fetch_token(server, "repository:org/model:pull")
    fetch_token(server, "registry:catalog:*", auth=("alice", "secret"))
    first, second = server.requests
    assert first.query["scope"] == ["repository:org/model:pull"]
    assert "authorization" not in first.headers
    assert first.user is None
    assert second.query["scope"] == ["registry:catalog:*"]
    assert second.headers["authorization"].startswith("Basic ")
    assert second.user == "alice"
