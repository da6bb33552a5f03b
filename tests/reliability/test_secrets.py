"""Credentials go to their own registry and the token realm it names, over HTTPS unless the
registry is listed as insecure, and never follow a redirect to another host.

Every test asserts on what each server received (the proxies and the token server record every
request), and searches the answers and logs for the planted credentials. The fault campaign and
the hostile-input campaign run the same search over everything they produce.
"""

import base64
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from tests.harness.faultproxy import FaultProxy
from tests.harness.populate import plan_from
from tests.harness.registry import RegistryFactory, TokenAuth
from tests.harness.tls import TestCA
from tests.harness.tokenserver import TokenServer, claims_of
from tests.hooks.emulator import HookClient
from tests.hooks.expected import condition
from tests.reliability.conftest import Figures, Serve, World
from tests.reliability.planted import (
    IDENTITY_TOKEN,
    PASSWORD,
    REGISTRY_TOKEN,
    USERNAME,
    Planted,
    basic_auth,
)
from tests.reliability.scenarios import (
    IMAGES,
    OTHER,
    OTHER_SECRET,
    PRIMARY,
    REGISTRY_SECRET,
    SCENARIOS,
    sync_case,
)

WILDCARD, REPOSITORIES, _, MIXED = SCENARIOS
TLS_REGISTRY = "tls.test"


LeakCheck = Callable[[dict[str, Any]], None]


@pytest.fixture(autouse=True)
def debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    """Every log record of every library at DEBUG, from before the service starts: the leak
    search reads the most talkative level."""
    caplog.set_level(logging.DEBUG)


@pytest.fixture
def nothing_leaked(
    caplog: pytest.LogCaptureFixture, planted: Planted, figures: Figures
) -> LeakCheck:
    """`nothing_leaked(reply)`: no planted credential in the answer nor in the logs; each search
    is counted in the figures."""

    def check(reply: dict[str, Any]) -> None:
        hits = planted.hits(json.dumps(reply), caplog.text)
        figures.texts_searched += 2
        figures.secret_hits += len(hits)
        assert hits == []

    return check


@pytest.fixture
def calm_hook(calm_world: World, serve: Serve) -> HookClient:
    """The hook service with the world's default settings, no fault injected."""
    return serve(calm_world.settings())


def sync(hook: Any, scenario: Any, primary: str, secrets: list[Any]) -> dict[str, Any]:
    """One sync of a scenario with no models yet; the answer (checked as Metacontroller would)."""
    reply: dict[str, Any] = hook.sync(sync_case(scenario, "none", primary, secrets))
    return reply


def degraded_message(reply: dict[str, Any]) -> str:
    message: str = condition(reply["status"], "Degraded")["message"]
    return message


def test_the_leak_search_finds_a_planted_value_in_every_form_it_travels_in(
    planted: Planted,
) -> None:
    made = planted.login_secret("creds", PRIMARY)
    for form in (
        PASSWORD,
        base64.b64encode(PASSWORD.encode()).decode(),
        basic_auth().removeprefix("Basic "),
        made["data"][".dockerconfigjson"],
        base64.urlsafe_b64encode(REGISTRY_TOKEN.encode()).decode().rstrip("="),
        f"log line with {IDENTITY_TOKEN} inside",
    ):
        assert planted.hits(f"...{form}...") != [], form
    assert planted.hits(f"{USERNAME} and other words") == []


def test_credentials_never_travel_over_plain_http_to_a_registry_not_listed_insecure(
    calm_world: World,
    serve: Serve,
    planted: Planted,
    nothing_leaked: LeakCheck,
) -> None:
    world = calm_world
    hook = serve(world.settings(insecure_registries=frozenset()))
    secrets = [
        planted.login_secret(REGISTRY_SECRET, PRIMARY),
        planted.token_secret(OTHER_SECRET, OTHER, "registrytoken"),
    ]
    before = (len(world.proxy.requests), len(world.token_server.requests))
    before_other = len(world.other_proxy.requests)

    reply = sync(hook, MIXED, PRIMARY, secrets)

    message = degraded_message(reply)
    assert reply["status"]["status"] == "Failed"
    # registry.test challenges with a realm on plain HTTP: refused before anything is sent there.
    assert f'filter "{MIXED.filters[0].image}": ' in message
    assert "names a token service on plain HTTP" in message
    # other.test would get its registry token on the first request: refused before it.
    assert "refusing to send credentials for other.test over plain HTTP" in message
    assert len(world.token_server.requests) == before[1]
    sent = world.proxy.requests[before[0] :] + world.other_proxy.requests[before_other:]
    assert sent != []
    assert {r.headers.get("authorization") for r in sent} == {None}
    nothing_leaked(reply)


@pytest.mark.parametrize("kind", ["password", "identitytoken"])
def test_credentials_reach_an_https_registry_and_its_https_token_realm_and_nothing_else(
    kind: str,
    world: World,
    serve: Serve,
    planted: Planted,
    registry_factory: RegistryFactory,
    fault_proxy_factory: Callable[..., FaultProxy],
    token_server: Callable[..., TokenServer],
    test_ca: TestCA,
    nothing_leaked: LeakCheck,
) -> None:
    realm = token_server(
        {USERNAME: PASSWORD},
        anonymous_pull=False,
        refresh_tokens={IDENTITY_TOKEN: USERNAME},
        tls=test_ca,
    )
    registry = registry_factory(plan_from(IMAGES), auth=TokenAuth(realm))
    front = fault_proxy_factory("127.0.0.1", registry.port, tls=test_ca)
    hook = serve(
        world.settings(
            endpoints={TLS_REGISTRY: front.url},
            insecure_registries=frozenset(),
            ca_bundle=str(test_ca.ca_file),
        )
    )
    made = (
        planted.login_secret(REGISTRY_SECRET, TLS_REGISTRY)
        if kind == "password"
        else planted.token_secret(REGISTRY_SECRET, TLS_REGISTRY, "identitytoken")
    )

    reply = sync(hook, REPOSITORIES, TLS_REGISTRY, [made])

    assert reply["status"]["status"] == "Ready", degraded_message(reply)
    assert len(reply["children"]) == 5
    assert realm.requests and front.requests
    if kind == "password":
        assert {r.headers.get("authorization") for r in realm.requests} == {basic_auth()}
    else:
        assert {r.form["refresh_token"][0] for r in realm.requests} == {IDENTITY_TOKEN}
    to_registry = {r.headers.get("authorization") for r in front.requests} - {None}
    assert to_registry
    for value in to_registry:
        scheme, _, token = value.partition(" ")
        assert scheme == "Bearer" and claims_of(token)["iss"] == realm.issuer
    planted.saw_authorizations(to_registry)
    assert world.decoy.requests == []
    nothing_leaked(reply)


def test_authorization_never_follows_a_registry_redirect_to_another_host(
    calm_world: World, serve: Serve, planted: Planted, nothing_leaked: LeakCheck
) -> None:
    world = calm_world
    # The redirect goes to localhost: a network sources may reach, for this test.
    hook = serve(world.settings(denied_networks=()))
    # The catalog answers (with a token); each tag list then redirects to `localhost`.
    world.proxy.set_rules(
        [{"match": r"^GET /v2/.*/tags/list", "action": "redirect", "host": "localhost"}]
    )
    before = len(world.proxy.requests)

    reply = sync(hook, WILDCARD, PRIMARY, [planted.login_secret(REGISTRY_SECRET, PRIMARY)])

    message = degraded_message(reply)
    assert reply["status"]["status"] == "Failed"
    assert "they are never sent to another host" in message
    sent = world.proxy.requests[before:]
    redirected = [r for r in sent if r.headers.get("host", "").startswith("localhost")]
    first_asked = [r for r in sent if r.action == "redirect"]
    assert redirected and first_asked
    assert {r.headers.get("authorization") for r in redirected} == {None}
    # The registry itself did get a token for the very requests that were redirected.
    assert all(r.headers.get("authorization", "").startswith("Bearer ") for r in first_asked)
    planted.saw_authorizations(r.headers.get("authorization") for r in sent)
    nothing_leaked(reply)


def test_credentials_never_follow_a_token_realm_redirect(
    calm_world: World, calm_hook: HookClient, planted: Planted, nothing_leaked: LeakCheck
) -> None:
    world, hook = calm_world, calm_hook
    world.token_proxy.set_rules([{"match": "/token", "action": "redirect", "host": "localhost"}])
    before = len(world.token_proxy.requests)

    reply = sync(hook, REPOSITORIES, PRIMARY, [planted.login_secret(REGISTRY_SECRET, PRIMARY)])

    assert reply["status"]["status"] == "Failed"
    assert "answered 307" in degraded_message(reply)
    asked = world.token_proxy.requests[before:]
    assert asked
    assert {r.headers.get("host", "").split(":")[0] for r in asked} == {"127.0.0.1"}
    assert {r.headers.get("authorization") for r in asked} == {basic_auth()}
    nothing_leaked(reply)
