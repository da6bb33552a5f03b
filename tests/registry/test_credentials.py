"""Pull secrets become a keychain the way the kubelet reads them; broken ones become problems."""

import base64
import json
from collections.abc import Mapping
from typing import Any

import pytest

from hooks.registry.credentials import (
    DOCKERCONFIGJSON,
    Credential,
    Keychain,
    SecretProblem,
    check_pull_secret,
    keychain_from_secrets,
)
from tests.shared import shared_path

FIXTURES = "registry/api-fixtures/dockerconfig"
PASSWORD = "S3cr3t-P4ss-w0rd"


def secret(
    document: object,
    secret_type: str = "kubernetes.io/dockerconfigjson",
    data_key: str = ".dockerconfigjson",
) -> dict[str, object]:
    """A Secret object as Metacontroller sends it, holding `document` as base64 JSON."""
    encoded = base64.b64encode(json.dumps(document).encode()).decode()
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "regcred", "namespace": "aim-system"},
        "type": secret_type,
        "data": {data_key: encoded},
    }


def auth(username: str, password: str) -> str:
    return base64.b64encode(f"{username}:{password}".encode()).decode()


def keychain_of(*secrets: Mapping[str, object]) -> Keychain:
    keychain, problems = keychain_from_secrets([(f"s{i}", s) for i, s in enumerate(secrets)])
    assert problems == []
    return keychain


def fixture_secret(name: str) -> Mapping[str, object]:
    """A fixture file as a Secret: full Secret objects as they are, configs wrapped in one."""
    document = json.loads(shared_path(f"{FIXTURES}/{name}").read_text())
    if document.get("kind") == "Secret":
        return dict(document)
    if "auths" in document:
        return secret(document)
    return secret(document, "kubernetes.io/dockercfg", ".dockercfg")


FOO_BAR = Credential(username="foo", password="bar")

# Every fixture file: (registry, repository) -> expected credential.
EXPECTED: dict[str, dict[tuple[str, str | None], Credential | None]] = {
    "auth_only_ghcr.json": {
        ("ghcr.io", "octocat/app"): Credential("octocat", "ghp_exampleClassicPAT"),
        ("docker.io", "library/hello"): None,
    },
    "flux_doc_example.json": {
        ("docker.io", "library/hello"): FOO_BAR,
        ("index.docker.io", None): FOO_BAR,
        ("registry-1.docker.io", "foo/bar"): FOO_BAR,
    },
    "identitytoken_acr.json": {
        ("myreg.azurecr.io", "models/llama"): Credential(
            username="00000000-0000-0000-0000-000000000000",
            identity_token="eyJhbGciOiJSUzI1NiJ9.example-refresh-token",
        ),
    },
    "kubectl_default_dockerhub.json": {("docker.io", "amdenterpriseai/aim-base"): FOO_BAR},
    "legacy_dockercfg_no_auths_wrapper.json": {("docker.io", None): FOO_BAR},
    "path_scoped_and_wildcard.json": {
        ("registry.example.com", "team-a/model"): Credential("team-a", "secret-a"),
        ("registry.example.com", "team-a"): Credential("team-a", "secret-a"),
        ("registry.example.com", "team-ab/model"): Credential("default", "secret"),
        ("registry.example.com", "team-b/model"): Credential("default", "secret"),
        ("registry.example.com", None): Credential("default", "secret"),
        ("eu.mirror.example.com", "team-a/model"): Credential("mirror", "secret-m"),
        ("mirror.example.com", "team-a/model"): None,
        ("a.b.mirror.example.com", "team-a/model"): None,
        ("eu.mirror.example.com:5000", "team-a/model"): None,
    },
    "registry_with_port.json": {
        ("nexus.example.com:5000", "ci/model"): Credential("ci", "secret"),
        ("nexus.example.com", "ci/model"): None,
        ("nexus.example.com:5001", "ci/model"): None,
    },
    "registrytoken.json": {
        ("registry.example.com", "x"): Credential(registry_token="example-bearer-token"),
    },
    "scheme_prefixed_hosts.json": {
        ("ghcr.io", "octocat/app"): Credential("octocat", "ghp_exampleClassicPAT"),
        ("docker.io", "library/hello"): Credential("hubuser", "dckr_pat_example"),
    },
    "secret_dockercfg_legacy.json": {("docker.io", "library/hello"): FOO_BAR},
    "secret_dockerconfigjson.json": {("docker.io", "library/hello"): FOO_BAR},
}
MALFORMED = {"malformed_auth_no_colon.json": 'the entry for "ghcr.io"'}


def test_every_dockerconfig_fixture_has_expectations() -> None:
    listed = {path.name for path in shared_path(FIXTURES).iterdir()}
    assert listed == EXPECTED.keys() | MALFORMED.keys()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_credentials_are_found_for_their_registry(name: str) -> None:
    keychain = keychain_of(fixture_secret(name))
    for (registry, repository), expected in EXPECTED[name].items():
        assert keychain.lookup(registry, repository) == expected, (registry, repository)


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_fixture_is_a_problem_naming_the_entry_and_never_its_value(name: str) -> None:
    keychain, problems = keychain_from_secrets([("aim-system/broken", fixture_secret(name))])
    assert [p.name for p in problems] == ["aim-system/broken"]
    assert MALFORMED[name] in problems[0].message
    assert "base64(username:password)" in problems[0].message
    assert "no-colon-here" not in str(problems[0])
    assert keychain.lookup("ghcr.io", "octocat/app") is None


def test_auth_is_split_on_the_first_colon() -> None:
    keychain = keychain_of(secret({"auths": {"ghcr.io": {"auth": auth("bot", "pa:ss:word")}}}))
    assert keychain.lookup("ghcr.io", "o/r") == Credential("bot", "pa:ss:word")


def test_auth_wins_over_username_and_password_as_in_docker_cli() -> None:
    entry = {"auth": auth("from-auth", "p1"), "username": "plain", "password": "p2"}
    keychain = keychain_of(secret({"auths": {"ghcr.io": entry}}))
    assert keychain.lookup("ghcr.io", "o/r") == Credential("from-auth", "p1")


@pytest.mark.parametrize(
    "key",
    [
        "registry.example.com",
        "https://registry.example.com",
        "http://registry.example.com/",
        "https://registry.example.com/v1/",
        "https://registry.example.com/v2/",
        "REGISTRY.example.com",
    ],
)
def test_config_keys_are_normalised_to_the_host(key: str) -> None:
    keychain = keychain_of(secret({"auths": {key: {"username": "u", "password": "p"}}}))
    assert keychain.lookup("registry.example.com", "team/model") == Credential("u", "p")
    assert keychain.lookup("other.example.com", "team/model") is None


def test_path_after_api_version_scopes_the_credential() -> None:
    keychain = keychain_of(
        secret({"auths": {"https://reg.example.com/v2/team": {"auth": auth("t", "p")}}})
    )
    assert keychain.lookup("reg.example.com", "team/model") == Credential("t", "p")
    assert keychain.lookup("reg.example.com", "other/model") is None


def test_longest_path_prefix_wins() -> None:
    auths = {
        "reg.example.com/team": {"auth": auth("team", "p")},
        "reg.example.com/team/sub": {"auth": auth("sub", "p")},
        "reg.example.com": {"auth": auth("host", "p")},
    }
    keychain = keychain_of(secret({"auths": auths}))
    assert keychain.lookup("reg.example.com", "team/sub/model") == Credential("sub", "p")
    assert keychain.lookup("reg.example.com", "team/model") == Credential("team", "p")
    assert keychain.lookup("reg.example.com", "elsewhere/model") == Credential("host", "p")


def test_literal_host_wins_over_a_glob() -> None:
    auths = {
        "*.example.com": {"auth": auth("glob", "p")},
        "reg.example.com": {"auth": auth("lit", "p")},
    }
    keychain = keychain_of(secret({"auths": auths}))
    assert keychain.lookup("reg.example.com", "m") == Credential("lit", "p")
    assert keychain.lookup("other.example.com", "m") == Credential("glob", "p")


def test_glob_inside_a_label_and_with_a_port() -> None:
    keychain = keychain_of(secret({"auths": {"reg-*.example.com:5000": {"auth": auth("g", "p")}}}))
    assert keychain.lookup("reg-eu.example.com:5000", "m") == Credential("g", "p")
    assert keychain.lookup("reg-eu.example.com", "m") is None
    assert keychain.lookup("reg-eu.other.com:5000", "m") is None


def test_loopback_registry_with_port_and_ipv6_literal() -> None:
    auths = {"127.0.0.1:5000": {"auth": auth("a", "p")}, "[::1]:5000": {"auth": auth("b", "p")}}
    keychain = keychain_of(secret({"auths": auths}))
    assert keychain.lookup("127.0.0.1:5000", "m") == Credential("a", "p")
    assert keychain.lookup("[::1]:5000", "m") == Credential("b", "p")
    assert keychain.lookup("127.0.0.1", "m") is None


def test_exact_key_wins_over_a_normalised_alias_in_the_same_secret() -> None:
    auths = {
        "https://index.docker.io/v1/": {"auth": auth("legacy", "p")},
        "docker.io": {"auth": auth("exact", "p")},
    }
    keychain = keychain_of(secret({"auths": auths}))
    assert keychain.lookup("docker.io", "library/hello") == Credential("exact", "p")


def test_earlier_secret_wins_for_the_same_registry() -> None:
    first = secret({"auths": {"https://index.docker.io/v1/": {"auth": auth("first", "p")}}})
    second = secret({"auths": {"docker.io": {"auth": auth("second", "p")}}})
    assert keychain_of(first, second).lookup("docker.io", "a/b") == Credential("first", "p")
    assert keychain_of(second, first).lookup("docker.io", "a/b") == Credential("second", "p")


def test_later_secret_still_serves_other_registries() -> None:
    first = secret({"auths": {"docker.io": {"auth": auth("hub", "p")}}})
    second = secret({"auths": {"ghcr.io": {"auth": auth("gh", "p")}}})
    assert keychain_of(first, second).lookup("ghcr.io", "o/r") == Credential("gh", "p")


BROKEN_SECRETS: dict[str, tuple[object, str]] = {
    "wrong type": (
        {"type": "Opaque", "data": {".dockerconfigjson": "e30="}},
        'has type "Opaque"; expected kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg',
    ),
    "missing data key": (
        {"type": "kubernetes.io/dockerconfigjson", "data": {".dockercfg": "e30="}},
        "has no data key .dockerconfigjson",
    ),
    "no data": ({"type": "kubernetes.io/dockercfg"}, "has no data key .dockercfg"),
    "not base64": (
        {"type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": f"{PASSWORD}!"}},
        ".dockerconfigjson is not valid base64",
    ),
    "not JSON": (
        {
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": base64.b64encode(f"{{{PASSWORD}".encode()).decode()},
        },
        ".dockerconfigjson is not valid JSON",
    ),
    "no auths": (secret({"credsStore": "desktop"}), '.dockerconfigjson has no "auths" object'),
    "legacy not an object": (
        secret([PASSWORD], "kubernetes.io/dockercfg", ".dockercfg"),
        ".dockercfg is not a JSON object",
    ),
    "entry not an object": (
        secret({"auths": {"ghcr.io": PASSWORD}}),
        'the entry for "ghcr.io" is not an object',
    ),
    "field not a string": (
        secret({"auths": {"ghcr.io": {"username": "u", "password": [PASSWORD]}}}),
        'the entry for "ghcr.io" has a "password" that is not a string',
    ),
    "auth not base64": (
        secret({"auths": {"ghcr.io": {"auth": f"{PASSWORD}%%"}}}),
        'the entry for "ghcr.io" has an "auth" that is not base64',
    ),
    "auth without colon": (
        secret({"auths": {"ghcr.io": {"auth": base64.b64encode(PASSWORD.encode()).decode()}}}),
        'the entry for "ghcr.io" has an "auth" that is not base64(username:password)',
    ),
    "no credentials": (
        secret({"auths": {"ghcr.io": {"username": "u", "email": "u@example.com"}}}),
        'the entry for "ghcr.io" has no credentials',
    ),
    "key that is not an address": (
        secret({"auths": {f"u:{PASSWORD}@ghcr.io": {}}}),
        "an entry has no credentials",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_SECRETS))
def test_broken_secret_is_skipped_with_a_problem_that_never_quotes_it(case: str) -> None:
    broken, message = BROKEN_SECRETS[case]
    assert isinstance(broken, dict)
    good = secret({"auths": {"ghcr.io": {"auth": auth("good", "p")}}})
    keychain, problems = keychain_from_secrets([("ns/broken", broken), ("ns/good", good)])
    assert problems == [SecretProblem("ns/broken", problems[0].message)]
    assert message in problems[0].message
    assert str(problems[0]).startswith('pull secret "ns/broken": ')
    assert PASSWORD not in str(problems[0]) and PASSWORD not in repr(problems[0])
    assert keychain.lookup("ghcr.io", "o/r") == Credential("good", "p")
    assert check_pull_secret("ns/broken", broken) == problems[0]


def test_missing_secret_is_a_problem() -> None:
    keychain, problems = keychain_from_secrets([("ns/gone", None)])
    assert problems == [SecretProblem("ns/gone", "not found")]
    assert keychain.lookup("docker.io", "a/b") is None


def test_a_good_secret_passes_the_check() -> None:
    good = fixture_secret("secret_dockerconfigjson.json")
    assert check_pull_secret("aim-system/regcred", good) is None


def test_empty_auths_is_a_valid_secret_without_credentials() -> None:
    keychain, problems = keychain_from_secrets([("ns/empty", secret({"auths": {}}))])
    assert problems == []
    assert keychain.lookup("docker.io", "a/b") is None


def test_repr_and_str_never_show_secrets() -> None:
    credentials = [
        Credential("alice", PASSWORD),
        Credential("alice", identity_token=PASSWORD),
        Credential(registry_token=PASSWORD),
    ]
    keychain = Keychain([("ghcr.io", c) for c in credentials])
    for shown in [*credentials, keychain]:
        assert PASSWORD not in repr(shown)
        assert PASSWORD not in str(shown)
        assert PASSWORD not in f"{shown}"
    assert "alice" in repr(credentials[0])
    assert "ghcr.io" in repr(keychain)


def _dockerconfigjson(raw: bytes | str) -> dict[str, Any]:
    """A dockerconfigjson Secret whose data is `raw` (base64-encoded when bytes)."""
    data = base64.b64encode(raw).decode() if isinstance(raw, bytes) else raw
    return {"type": DOCKERCONFIGJSON, "data": {".dockerconfigjson": data}}


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        (_dockerconfigjson("é"), "not valid base64"),
        (_dockerconfigjson(b"[" * 100_000), "not valid JSON"),
        (
            _dockerconfigjson(b'{"auths": {"r": {"username": "u", "password": "\\ud800"}}}'),
            "not valid text",
        ),
        (["not", "an", "object"], "is not a Secret object"),
    ],
    ids=["not ASCII", "nested too deep", "lone surrogate", "not an object"],
)
def test_a_secret_that_breaks_the_parser_is_a_problem_and_the_others_still_work(
    secret: Any, problem: str
) -> None:
    good = _dockerconfigjson(b'{"auths": {"r": {"username": "u", "password": "p"}}}')
    keychain, problems = keychain_from_secrets([("broken", secret), ("good", good)])
    assert [p.name for p in problems] == ["broken"]
    assert problem in problems[0].message
    assert keychain.lookup("r") == Credential(username="u", password="p")
