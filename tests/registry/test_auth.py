"""Challenge-driven auth: tokens per scope, and credentials only where they belong."""

import asyncio
import json
from collections.abc import Callable

import httpx
import pytest

from hooks.registry.auth import Challenge, parse_challenges
from hooks.registry.config import RegistrySettings
from hooks.registry.credentials import Credential, Keychain
from hooks.registry.errors import (
    AuthenticationError,
    ProtocolError,
    RegistryError,
    UnavailableError,
    UnsupportedError,
)
from tests.harness.faultproxy import FaultProxy
from tests.harness.populate import plan_from
from tests.harness.registry import BasicAuth, Registry, RegistryFactory, TokenAuth
from tests.harness.tls import TestCA
from tests.harness.tokenserver import TokenServer
from tests.registry.conftest import ALICE, USERS, Connect, FakeClock, authorizations
from tests.shared import shared_path

PLAN = plan_from({"org/a": ["1.0.0"], "org/b": ["2.0.0"], "org/c": ["3.0.0"]})
WRONG = Credential(username="alice", password="Wr0ng-P4ssw0rd")

TokenServers = Callable[..., TokenServer]
FaultProxies = Callable[..., FaultProxy]


def www_authenticate(fixture: str) -> str:
    headers = json.loads(shared_path(f"registry/api-fixtures/{fixture}").read_text())["headers"]
    return str(headers["Www-Authenticate"])


# --- parsing WWW-Authenticate ------------------------------------------------------------------


def test_docker_hub_bearer_challenge_is_parsed() -> None:
    [challenge] = parse_challenges([www_authenticate("oci/error_unauthorized.headers.json")])
    assert challenge.scheme == "bearer"
    assert challenge.realm == "https://auth.docker.io/token"
    assert challenge.service == "registry.docker.io"
    assert challenge.scope == "repository:library/hello-world:pull"
    assert challenge.error is None


def test_ghcr_bearer_challenge_is_parsed() -> None:
    [challenge] = parse_challenges(
        [www_authenticate("ghcr/tags_list_unauthenticated.headers.json")]
    )
    assert (challenge.realm, challenge.service) == ("https://ghcr.io/token", "ghcr.io")


def test_quoted_values_keep_commas_spaces_and_escapes() -> None:
    header = (
        'Bearer realm="https://auth.example.com/token",service="reg",'
        'scope="repository:a/b:pull,push repository:c:pull",error="insufficient_scope",'
        'note="say \\"hi\\""'
    )
    [challenge] = parse_challenges([header])
    assert challenge.scope == "repository:a/b:pull,push repository:c:pull"
    assert challenge.error == "insufficient_scope"
    assert challenge.params["note"] == 'say "hi"'


def test_several_challenges_in_one_header_and_across_headers() -> None:
    challenges = parse_challenges(
        ['Basic realm="basic, with comma", Bearer realm="https://t/token",service=s', "Digest"]
    )
    assert challenges == [
        Challenge("basic", {"realm": "basic, with comma"}),
        Challenge("bearer", {"realm": "https://t/token", "service": "s"}),
        Challenge("digest", {}),
    ]


def test_scheme_and_parameter_names_are_case_insensitive() -> None:
    [challenge] = parse_challenges(['BEARER Realm="https://t/token", SERVICE = "s"'])
    assert challenge == Challenge("bearer", {"realm": "https://t/token", "service": "s"})


def test_token68_and_garbage_do_not_break_parsing() -> None:
    assert parse_challenges(['Negotiate abc==, Basic realm="r"']) == [
        Challenge("negotiate", {}),
        Challenge("basic", {"realm": "r"}),
    ]
    assert parse_challenges(['Basic realm="unterminated']) == [
        Challenge("basic", {"realm": "unterminated"})
    ]
    assert parse_challenges(["", " , ", "@@@"]) == []


# --- token flow against the real registry and token server -------------------------------------


@pytest.fixture
def token_registry(
    registry_factory: RegistryFactory, token_server: TokenServers
) -> tuple[Registry, TokenServer]:
    server = token_server(users=USERS)
    return registry_factory(PLAN, auth=TokenAuth(server)), server


@pytest.fixture
def proxied_realm(
    registry_factory: RegistryFactory, token_server: TokenServers, fault_proxy_factory: FaultProxies
) -> tuple[Registry, TokenServer, FaultProxy]:
    """A token registry whose challenge names a fault proxy in front of the token server."""
    server = token_server(users=USERS)
    proxy = fault_proxy_factory("127.0.0.1", server.port)
    registry = registry_factory(PLAN, auth=TokenAuth(server, realm=f"{proxy.url}/token"))
    return registry, server, proxy


@pytest.mark.registry
def test_anonymous_token_is_fetched_once_per_scope(
    token_registry: tuple[Registry, TokenServer], connect: Connect
) -> None:
    registry, server = token_registry

    async def scenario() -> list[list[str]]:
        async with connect(registry) as client:
            return [(await client.tags(repo)).tags for repo in ["org/a", "org/b", "org/c"] * 3]

    assert asyncio.run(scenario())[:3] == [["1.0.0"], ["2.0.0"], ["3.0.0"]]
    scopes = [request.query["scope"] for request in server.requests]
    assert scopes == [
        ["repository:org/a:pull"],
        ["repository:org/b:pull"],
        ["repository:org/c:pull"],
    ]
    assert authorizations(server.requests) == [None, None, None]
    assert all(request.query["service"] == ["test-registry"] for request in server.requests)


@pytest.mark.registry
def test_credentials_go_to_the_realm_and_only_tokens_to_the_registry(
    token_registry: tuple[Registry, TokenServer],
    fault_proxy_factory: FaultProxies,
    connect: Connect,
) -> None:
    registry, server = token_registry
    proxy = fault_proxy_factory("127.0.0.1", registry.port)

    async def scenario() -> list[str]:
        async with connect(proxy, credential=ALICE) as client:
            tags = (await client.tags("org/a")).tags
            repositories = [name async for page in client.catalog() for name in page]
            return tags + repositories

    assert asyncio.run(scenario()) == ["1.0.0", "org/a", "org/b", "org/c"]
    assert [request.user for request in server.requests] == ["alice", "alice"]
    seen_by_registry = authorizations(proxy.requests)
    assert seen_by_registry[0] is None
    assert all(value.startswith("Bearer ") for value in seen_by_registry[1:] if value)
    assert "secret" not in json.dumps(seen_by_registry)


@pytest.mark.registry
def test_token_is_renewed_only_after_it_expires(
    token_registry: tuple[Registry, TokenServer], connect: Connect
) -> None:
    registry, server = token_registry  # expires_in=300
    clock = FakeClock()

    async def scenario() -> list[int]:
        counts = []
        async with connect(registry, clock=clock) as client:
            for step in [0, 280, 15, 1]:
                clock.advance(step)
                await client.tags("org/a")
                counts.append(client.token_request_count)
        return counts

    # Renewed 10 s early: at 295 s a 300 s token is due.
    assert asyncio.run(scenario()) == [1, 1, 2, 2]
    assert len(server.requests) == 2


@pytest.mark.registry
def test_token_without_expires_in_lives_sixty_seconds(
    proxied_realm: tuple[Registry, TokenServer, FaultProxy], connect: Connect
) -> None:
    registry, server, realm = proxied_realm
    real = httpx.get(
        server.realm, params={"service": server.service, "scope": "repository:org/a:pull"}
    ).json()["token"]
    # A token service that answers `access_token` only and no expires_in.
    body = json.dumps({"access_token": real})
    realm.set_rules([{"match": "GET /token", "action": "status", "status": 200, "body": body}])
    clock = FakeClock()

    async def scenario() -> list[int]:
        counts = []
        async with connect(registry, clock=clock) as client:
            for step in [0, 45, 10]:
                clock.advance(step)
                assert (await client.tags("org/a")).tags == ["1.0.0"]
                counts.append(client.token_request_count)
        return counts

    assert asyncio.run(scenario()) == [1, 1, 2]


@pytest.mark.registry
def test_wrong_password_at_the_token_service_is_an_authentication_error(
    token_registry: tuple[Registry, TokenServer], connect: Connect
) -> None:
    registry, server = token_registry

    async def scenario() -> None:
        async with connect(registry, credential=WRONG) as client:
            await client.tags("org/a")

    with pytest.raises(AuthenticationError) as raised:
        asyncio.run(scenario())
    message = str(raised.value)
    assert message.startswith(f"listing tags of {registry.host}/org/a: token service at 127.0.0.1:")
    assert "refused the credentials (401)" in message
    assert WRONG.password not in message and WRONG.password not in repr(raised.value)
    assert len(server.requests) == 1


@pytest.mark.registry
def test_wrong_password_on_a_basic_registry_is_an_authentication_error(
    registry_factory: RegistryFactory, fault_proxy_factory: FaultProxies, connect: Connect
) -> None:
    registry = registry_factory(PLAN, auth=BasicAuth(USERS))
    proxy = fault_proxy_factory("127.0.0.1", registry.port)

    async def scenario() -> None:
        async with connect(proxy, credential=WRONG) as client:
            await client.tags("org/a")

    with pytest.raises(AuthenticationError, match="refused the credentials in imagePullSecrets"):
        asyncio.run(scenario())
    assert len(proxy.requests) == 2  # anonymous, then Basic once: no retry loop


@pytest.mark.registry
def test_basic_registry_without_credentials_says_none_are_configured(
    registry_factory: RegistryFactory, connect: Connect
) -> None:
    registry = registry_factory(PLAN, auth=BasicAuth(USERS))

    async def scenario() -> None:
        async with connect(registry) as client:
            await client.tags("org/a")

    with pytest.raises(
        AuthenticationError, match=f"imagePullSecrets have none for {registry.host}"
    ):
        asyncio.run(scenario())


@pytest.mark.registry
def test_basic_credentials_are_sent_once_challenged(
    registry_factory: RegistryFactory, fault_proxy_factory: FaultProxies, connect: Connect
) -> None:
    registry = registry_factory(PLAN, auth=BasicAuth(USERS))
    proxy = fault_proxy_factory("127.0.0.1", registry.port)

    async def scenario() -> list[list[str]]:
        async with connect(proxy, credential=ALICE) as client:
            return [(await client.tags(repo)).tags for repo in ["org/a", "org/b"]]

    assert asyncio.run(scenario()) == [["1.0.0"], ["2.0.0"]]
    sent = authorizations(proxy.requests)
    assert sent[0] is None
    assert sent[1:] == [sent[1]] * 2 and sent[1] is not None and sent[1].startswith("Basic ")


@pytest.mark.registry
def test_identity_token_is_exchanged_with_an_oauth2_refresh_grant(
    registry_factory: RegistryFactory, token_server: TokenServers, connect: Connect
) -> None:
    server = token_server(users=USERS, anonymous_pull=False, refresh_tokens={"id-tok-1": "alice"})
    registry = registry_factory(PLAN, auth=TokenAuth(server))
    credential = Credential(
        username="00000000-0000-0000-0000-000000000000", identity_token="id-tok-1"
    )

    async def scenario() -> list[str]:
        async with connect(registry, credential=credential) as client:
            return (await client.tags("org/b")).tags

    assert asyncio.run(scenario()) == ["2.0.0"]
    [request] = server.requests
    assert request.method == "POST" and request.user == "alice"
    assert request.form["grant_type"] == ["refresh_token"]
    assert request.form["refresh_token"] == ["id-tok-1"]
    assert request.form["scope"] == ["repository:org/b:pull"]
    assert request.form["service"] == ["test-registry"]
    assert request.form["client_id"] == ["aim-model-source-hooks"]


@pytest.mark.registry
def test_identity_token_falls_back_to_get_when_oauth2_is_not_found(
    proxied_realm: tuple[Registry, TokenServer, FaultProxy], connect: Connect
) -> None:
    registry, server, realm = proxied_realm
    realm.set_rules([{"match": "POST /token", "action": "status", "status": 404}])
    credential = Credential(username="alice", password="secret", identity_token="unknown")

    async def scenario() -> list[str]:
        async with connect(registry, credential=credential) as client:
            return (await client.tags("org/a")).tags

    assert asyncio.run(scenario()) == ["1.0.0"]
    assert [r.method for r in realm.requests] == ["POST", "GET"]
    assert [(r.method, r.user) for r in server.requests] == [("GET", "alice")]


@pytest.mark.registry
def test_registry_token_is_sent_as_bearer_without_an_exchange(
    token_registry: tuple[Registry, TokenServer],
    fault_proxy_factory: FaultProxies,
    connect: Connect,
) -> None:
    registry, server = token_registry
    token = httpx.get(
        server.realm,
        params={"service": server.service, "scope": "repository:org/c:pull"},
        auth=("alice", "secret"),
    ).json()["token"]
    setup_requests = len(server.requests)
    proxy = fault_proxy_factory("127.0.0.1", registry.port)

    async def scenario() -> list[str]:
        async with connect(proxy, credential=Credential(registry_token=token)) as client:
            return (await client.tags("org/c")).tags

    assert asyncio.run(scenario()) == ["3.0.0"]
    assert len(server.requests) == setup_requests
    assert authorizations(proxy.requests) == [f"Bearer {token}"]


@pytest.mark.registry
def test_token_service_failures_are_registry_errors(
    token_registry: tuple[Registry, TokenServer], connect: Connect
) -> None:
    registry, server = token_registry

    async def scenario() -> None:
        async with connect(registry) as client:
            await client.tags("org/a")

    server.fail_mode = "error"
    with pytest.raises(
        UnavailableError, match=r"token service at 127\.0\.0\.1:\d+ failed with 500"
    ):
        asyncio.run(scenario())
    server.fail_mode = "garbage"
    with pytest.raises(ProtocolError, match="not JSON"):
        asyncio.run(scenario())


# --- where credentials may go ------------------------------------------------------------------


@pytest.mark.registry
def test_realm_on_plain_http_is_refused_for_a_registry_not_listed_insecure(
    registry_factory: RegistryFactory,
    token_server: TokenServers,
    test_ca: TestCA,
    connect: Connect,
) -> None:
    server = token_server(users=USERS)  # plain HTTP
    registry = registry_factory(PLAN, auth=TokenAuth(server), tls=test_ca)

    async def scenario(settings: RegistrySettings) -> list[str]:
        async with connect(registry, credential=ALICE, settings=settings) as client:
            return (await client.tags("org/a")).tags

    secure = RegistrySettings(ca_bundle=str(test_ca.ca_file))
    with pytest.raises(UnsupportedError, match="names a token service on plain HTTP") as raised:
        asyncio.run(scenario(secure))
    assert f"list {registry.host} as an insecure registry" in str(raised.value)
    assert server.requests == []

    listed = RegistrySettings(
        ca_bundle=str(test_ca.ca_file), insecure_registries=frozenset({registry.host})
    )
    assert asyncio.run(scenario(listed)) == ["1.0.0"]
    assert [r.user for r in server.requests] == ["alice"]


@pytest.mark.registry
def test_credentials_never_go_over_plain_http_to_a_registry_not_listed_insecure(
    registry_factory: RegistryFactory, fault_proxy_factory: FaultProxies, connect: Connect
) -> None:
    registry = registry_factory(PLAN, auth=BasicAuth(USERS))
    proxy = fault_proxy_factory("127.0.0.1", registry.port)

    async def scenario(settings: RegistrySettings) -> list[str]:
        async with connect(proxy, credential=ALICE, settings=settings) as client:
            return (await client.tags("org/a")).tags

    with pytest.raises(UnsupportedError, match=r"refusing to send credentials .* over plain HTTP"):
        asyncio.run(scenario(RegistrySettings()))
    assert authorizations(proxy.requests) == [None]

    # Listed by the host:port of its URL.
    assert asyncio.run(scenario(RegistrySettings(insecure_registries=frozenset({proxy.host})))) == [
        "1.0.0"
    ]


@pytest.mark.registry
def test_credentials_never_reach_another_registry(
    registry_factory: RegistryFactory, fault_proxy_factory: FaultProxies, connect: Connect
) -> None:
    first = registry_factory(PLAN, auth=BasicAuth(USERS))
    second = registry_factory(PLAN, auth=BasicAuth({"bob": "other"}))
    proxy = fault_proxy_factory("127.0.0.1", second.port)
    keychain = Keychain([(first.host, ALICE)])

    async def scenario() -> None:
        async with connect(proxy, keychain=keychain) as client:
            await client.tags("org/a")

    with pytest.raises(AuthenticationError, match=f"imagePullSecrets have none for {proxy.host}"):
        asyncio.run(scenario())
    assert authorizations(proxy.requests) == [None]


@pytest.mark.registry
def test_realm_at_an_internal_address_other_than_the_registry_is_refused(
    token_registry: tuple[Registry, TokenServer], connect: Connect
) -> None:
    registry, server = token_registry
    # Reached as localhost, the registry names a realm on 127.0.0.1: another host, internal.
    base_url = f"http://localhost:{registry.port}"

    async def scenario() -> None:
        async with connect(base_url, credential=ALICE) as client:
            await client.tags("org/a")

    with pytest.raises(UnsupportedError, match=r"internal address 127\.0\.0\.1:"):
        asyncio.run(scenario())
    assert server.requests == []


@pytest.mark.registry
def test_authorization_is_not_forwarded_across_a_redirect_to_another_host(
    registry_factory: RegistryFactory, fault_proxy_factory: FaultProxies, connect: Connect
) -> None:
    registry = registry_factory(PLAN, auth=BasicAuth(USERS))
    proxy = fault_proxy_factory("127.0.0.1", registry.port)
    proxy.set_rules([{"match": "tags/list", "action": "redirect", "host": "localhost"}])

    # The redirect goes to localhost: a network sources may reach, for this test.
    settings = RegistrySettings(insecure_registries=frozenset({proxy.host}), denied_networks=())

    async def scenario() -> None:
        async with connect(proxy, credential=ALICE, settings=settings) as client:
            [_ async for _ in client.catalog()]  # learns Basic: from now on it is sent at once
            await client.tags("org/a")

    with pytest.raises(AuthenticationError, match=f"localhost:{proxy.port}"):
        asyncio.run(scenario())
    redirected = [r for r in proxy.requests if r.headers["host"].startswith("localhost")]
    assert redirected and all("authorization" not in r.headers for r in redirected)
    assert any(
        "authorization" in r.headers for r in proxy.requests if r.headers["host"] == proxy.host
    )


@pytest.mark.registry
def test_same_origin_redirect_keeps_authorization(
    registry_factory: RegistryFactory, fault_proxy_factory: FaultProxies, connect: Connect
) -> None:
    registry = registry_factory(PLAN, auth=BasicAuth(USERS))
    proxy = fault_proxy_factory("127.0.0.1", registry.port)
    proxy.set_rules([{"match": "tags/list", "action": "redirect", "times": 2}])

    async def scenario() -> tuple[list[str], int]:
        async with connect(proxy, credential=ALICE) as client:
            return (await client.tags("org/a")).tags, client.request_count

    assert asyncio.run(scenario()) == (["1.0.0"], 4)  # 307, 401, 307, 200


@pytest.mark.registry
def test_errors_and_reprs_never_contain_secrets(
    token_registry: tuple[Registry, TokenServer],
    registry_factory: RegistryFactory,
    connect: Connect,
) -> None:
    token_registry_, _ = token_registry
    basic_registry = registry_factory(PLAN, auth=BasicAuth(USERS))
    secret = "Wr0ng-P4ssw0rd"
    errors: list[RegistryError] = []

    async def scenario(server: Registry, credential: Credential) -> None:
        async with connect(server, credential=credential) as client:
            assert secret not in repr(credential)
            try:
                await client.tags("org/a")
            except RegistryError as error:
                errors.append(error)

    for credential in [
        Credential("alice", secret),
        Credential("alice", identity_token=secret),
        Credential(registry_token=secret),
    ]:
        for server in [token_registry_, basic_registry]:
            asyncio.run(scenario(server, credential))
    assert len(errors) == 6
    for error in errors:
        assert secret not in str(error) and secret not in repr(error)
        assert secret not in repr(error.args)
