"""The token server's own behaviours: OAuth2 form, identity tokens, failure modes, TLS."""

import base64
import json
from collections.abc import Callable

import httpx
import pytest

from tests.harness.registry import RegistryFactory, TokenAuth
from tests.harness.tls import TestCA
from tests.harness.tokenserver import Scope, TokenServer, claims_of

USERS = {"alice": "secret"}


def post_form(server: TokenServer, **form: str) -> httpx.Response:
    return httpx.post(server.realm, data=form, timeout=10)


def test_scope_parses_names_with_slashes_and_rejects_malformed_text() -> None:
    assert Scope.parse("repository:org/sub/repo:pull,push") == Scope(
        "repository", "org/sub/repo", ("pull", "push")
    )
    assert Scope.parse("registry:catalog:*") == Scope("registry", "catalog", ("*",))
    assert Scope.parse("nonsense") is None


def test_grant_policy_follows_users_anonymous_pull_and_deny_patterns() -> None:
    server = TokenServer(users=USERS, anonymous_pull=False, deny={"secret/*"})
    wanted = [
        Scope("repository", "org/model", ("pull", "push")),
        Scope("repository", "secret/model", ("pull",)),
        Scope("registry", "catalog", ("*",)),
    ]
    try:
        assert server.grant(None, wanted) == []
        assert server.grant("alice", wanted) == [wanted[0], wanted[2]]
    finally:
        server.stop()


def test_space_separated_scopes_in_one_parameter_are_all_granted(
    token_server: Callable[..., TokenServer],
) -> None:
    server = token_server(users=USERS)
    response = httpx.get(
        server.realm,
        params={"service": "test-registry", "scope": "repository:a/b:pull repository:c/d:pull"},
        auth=("alice", "secret"),
    )
    names = [entry["name"] for entry in claims_of(response.json()["token"])["access"]]
    assert names == ["a/b", "c/d"]


def test_token_claims_name_issuer_audience_and_expiry(
    token_server: Callable[..., TokenServer],
) -> None:
    server = token_server(expires_in=120)
    body = httpx.get(server.realm, params={"service": "test-registry"}).json()
    claims = claims_of(body["access_token"])
    assert body["token"] == body["access_token"]
    assert body["expires_in"] == 120
    assert body["issued_at"].endswith("Z")
    assert (claims["iss"], claims["aud"]) == ("test-token-issuer", "test-registry")
    assert claims["exp"] - claims["iat"] == 120
    encoded_header = body["token"].split(".")[0]
    header = json.loads(base64.urlsafe_b64decode(encoded_header + "=" * (-len(encoded_header) % 4)))
    assert (header["alg"], header["typ"], len(header["x5c"])) == ("RS256", "JWT", 1)


def test_password_grant_issues_a_refresh_token_usable_later(
    token_server: Callable[..., TokenServer],
) -> None:
    server = token_server(users=USERS)
    first = post_form(
        server,
        grant_type="password",
        username="alice",
        password="secret",
        service="test-registry",
        scope="repository:org/model:pull,push",
        client_id="tests",
        access_type="offline",
    ).json()
    assert first["scope"] == "repository:org/model:pull,push"
    refreshed = post_form(
        server,
        grant_type="refresh_token",
        refresh_token=first["refresh_token"],
        service="test-registry",
        scope="registry:catalog:*",
        client_id="tests",
    ).json()
    assert claims_of(refreshed["access_token"])["sub"] == "alice"
    assert refreshed["scope"] == "registry:catalog:*"


def test_bad_grants_are_oauth2_errors(token_server: Callable[..., TokenServer]) -> None:
    server = token_server(users=USERS, refresh_tokens={"identity-1": "alice"})
    wrong_password = post_form(server, grant_type="password", username="alice", password="x")
    unknown_token = post_form(server, grant_type="refresh_token", refresh_token="nope")
    unsupported = post_form(server, grant_type="client_credentials")
    known_token = post_form(server, grant_type="refresh_token", refresh_token="identity-1")
    assert (wrong_password.status_code, wrong_password.json()["error"]) == (400, "invalid_grant")
    assert (unknown_token.status_code, unknown_token.json()["error"]) == (400, "invalid_grant")
    assert unsupported.json()["error"] == "unsupported_grant_type"
    assert known_token.status_code == 200
    assert server.requests[-1].form["refresh_token"] == ["identity-1"]


@pytest.mark.registry
def test_refreshed_token_is_accepted_by_the_registry(
    registry_factory: RegistryFactory, token_server: Callable[..., TokenServer]
) -> None:
    server = token_server(users=USERS, refresh_tokens={"identity-1": "alice"})
    registry = registry_factory(auth=TokenAuth(server))
    token = post_form(
        server,
        grant_type="refresh_token",
        refresh_token="identity-1",
        service="test-registry",
        scope="registry:catalog:*",
    ).json()["access_token"]
    with registry.client() as client:
        response = client.get("/v2/_catalog", headers={"Authorization": f"Bearer {token}"})
    assert response.json() == {"repositories": []}


def test_fail_modes_answer_500_or_a_body_that_is_not_json(
    token_server: Callable[..., TokenServer],
) -> None:
    server = token_server()
    server.fail_mode = "error"
    assert httpx.get(server.realm).status_code == 500
    server.fail_mode = "garbage"
    garbage = httpx.get(server.realm)
    assert garbage.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        garbage.json()
    server.fail_mode = None
    assert "token" in httpx.get(server.realm).json()
    assert len(server.requests) == 3


def test_token_server_over_tls_is_trusted_only_with_its_ca(
    token_server: Callable[..., TokenServer], test_ca: TestCA
) -> None:
    server = token_server(tls=test_ca)
    assert server.realm.startswith("https://127.0.0.1:")
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.realm)
    assert httpx.get(server.realm, verify=test_ca.client_context()).status_code == 200
