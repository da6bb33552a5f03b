"""Hostile registries: answers that lie, explode or name other hosts, through every client.

Nothing a registry, a token realm, the Docker Hub API or the GitHub API sends may take the hook
past its memory, into an internal error, or put a credential or unbounded text into a message.
Each test sends one kind of hostile answer through every client (hostile_registry.CALLS) and
records its figure for the end-of-run summary (conftest.py).
"""

import base64
import gzip
import logging
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from hooks.cassette import RecordingTransport, ReplayTransport
from hooks.registry.auth import MAX_TOKEN_CHARS
from hooks.registry.config import OTHER_HOSTS_LABEL, RegistrySettings
from hooks.registry.credentials import Credential, Keychain
from hooks.registry.errors import (
    MAX_TEXT_CHARS,
    ProtocolError,
    RateLimitedError,
    RegistryError,
    UnavailableError,
    UnsupportedError,
)
from hooks.registry.scanner import scan_registries
from hooks.registry.targets import ScanTarget
from hooks.registry.transport import MAX_RETRY_AFTER
from tests.harness.apiserver import Reply
from tests.hooks.expected import condition
from tests.hooks.wire import secret
from tests.reliability.conftest import Figures, Serve, World
from tests.reliability.hostile_registry import (
    CALLS,
    CATALOG_PATH,
    HUB_PATH,
    REPOSITORY,
    TAGS_PATH,
    TOKEN_CALLS,
    TOKEN_PATH,
    Call,
    HostileServer,
    challenge,
    gzipped,
    header_map,
    place,
    run,
    settings_for,
)
from tests.reliability.hostile_registry import (
    REGISTRY as REGISTRY_NAME,
)
from tests.reliability.planted import Planted
from tests.reliability.scenarios import PRIMARY, REGISTRY_SECRET, SCENARIOS, sync_case

MiB = 1024 * 1024


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer() as started:
        yield started


def traced_peak(action: Callable[[], object]) -> tuple[object, float]:
    """What `action()` returned and the peak of Python memory it allocated, in MiB."""
    tracemalloc.start()
    try:
        result = action()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak / MiB


def record_worst(figures: Figures, key: str, mib: float, text: str) -> None:
    """Keep the largest memory figure of a parametrized test as its summary line."""
    worst = max(mib, float(figures.hostile_registry.get(key, "0").split()[0]))
    figures.hostile_registry[key] = f"{worst:.1f} {text}"


# --- 1. decompression bombs ---------------------------------------------------------------------

BOMB_BYTES = 256 * MiB


@pytest.fixture(scope="module")
def stacked_bomb() -> bytes:
    """256 MiB of zeros gzipped twice: a few KiB on the wire."""
    return gzipped(BOMB_BYTES, layers=2)


@pytest.mark.parametrize("call", CALLS, ids=lambda c: c.name)
@pytest.mark.parametrize("encoding", ["gzip, gzip", "gzip", "deflate", "br"])
def test_a_compressed_answer_is_capped_while_it_inflates(
    server: HostileServer, call: Call, encoding: str, stacked_bomb: bytes, figures: Figures
) -> None:
    body = stacked_bomb if encoding == "gzip, gzip" else gzipped(BOMB_BYTES)
    place(server, call, Reply(200, body, header_map(content_encoding=encoding)))
    settings = settings_for(server)

    outcome, peak = traced_peak(lambda: run(call, settings))

    assert isinstance(outcome, ProtocolError), outcome
    assert "refusing" in str(outcome) or "more than" in str(outcome)
    # The cap is 8 MiB: memory may reach it once, never the bomb's 256 MiB.
    assert peak < 3 * settings.max_response_bytes / MiB
    key = "decompression bombs (256 MiB in a few KiB, every client and coding)"
    record_worst(figures, key, peak, "MiB peak, refused")


def test_a_gzip_answer_within_the_cap_is_read(server: HostileServer) -> None:
    body = b'{"name": "org/model", "tags": ["1.0.0"]}'
    place(
        server,
        CALLS[0],
        Reply(200, gzip.compress(body), header_map(content_encoding="gzip")),
    )
    outcome = run(CALLS[0], settings_for(server))
    assert getattr(outcome, "tags", None) == ["1.0.0"], outcome


# --- 2. metric labels ---------------------------------------------------------------------------

REDIRECTED_HOSTS = 40


def registry_counts() -> dict[str, float]:
    """Requests counted so far by `registry` label, in this process."""
    counts: dict[str, float] = {}
    for family in REGISTRY.collect():
        if family.name == "aim_hooks_registry_requests":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    label = sample.labels["registry"]
                    counts[label] = counts.get(label, 0.0) + sample.value
    return counts


def test_hosts_a_registry_names_share_one_metric_label(
    server: HostileServer, figures: Figures
) -> None:
    """Each tag list redirects to another host (127.0.0.N, nothing listens there; loopback is
    allowed here so that the requests are made): the requests are counted under the configured
    registry and one value for the rest, not under a value per host."""
    settings = replace(settings_for(server), denied_networks=())
    before = registry_counts()
    for n in range(REDIRECTED_HOSTS):
        server.stub(
            TAGS_PATH,
            Reply(307, b"", {"Location": f"http://127.0.0.{n + 2}:9{n:03d}{TAGS_PATH}"}),
        )
        run(CALLS[0], settings)
    after = registry_counts()
    counted = {label for label, count in after.items() if count > before.get(label, 0.0)}
    assert counted == {REGISTRY_NAME, OTHER_HOSTS_LABEL}, sorted(counted)[:5]
    assert after[OTHER_HOSTS_LABEL] - before.get(OTHER_HOSTS_LABEL, 0.0) == REDIRECTED_HOSTS
    figures.hostile_registry[f"metric labels ({REDIRECTED_HOSTS} hosts named by redirects)"] = (
        f"{len(counted)} label values (the registry, other), before the fix {REDIRECTED_HOSTS + 1}"
    )


# --- 3. huge tokens -----------------------------------------------------------------------------


@pytest.mark.parametrize("call", TOKEN_CALLS, ids=lambda c: c.name)
@pytest.mark.parametrize("size", [MAX_TOKEN_CHARS + 1, 1 * MiB])
def test_a_huge_token_is_refused(
    server: HostileServer, call: Call, size: int, figures: Figures
) -> None:
    place(server, call, Reply(200, {"token": "t" * size, "access_token": "t" * size}))

    outcome = run(call, settings_for(server))

    assert isinstance(outcome, ProtocolError), outcome
    assert "refusing it" in str(outcome) or "stopped reading" in str(outcome)
    figures.hostile_registry["tokens over 32 KiB (token realm, Hub sign-in)"] = (
        "refused, none cached (before: cached and sent, 8 MiB per scope)"
    )


@pytest.mark.parametrize("call", TOKEN_CALLS, ids=lambda c: c.name)
def test_a_token_under_the_bound_is_used(server: HostileServer, call: Call) -> None:
    token = "t" * MAX_TOKEN_CHARS
    place(server, call, Reply(200, {"token": token, "access_token": token}))
    server.stub(HUB_PATH, Reply(200, {"count": 0, "next": None, "results": []}))

    run(call, settings_for(server))

    sent = {r.headers.get("authorization") for r in server.requests}
    assert f"Bearer {token}" in sent


# --- 4. internal addresses in every spelling ----------------------------------------------------

LOOPBACK_SPELLINGS = ("127.1", "2130706433", "0x7f.0.0.1", "0177.0.0.1", "[::ffff:127.0.0.1]")


@pytest.mark.parametrize("spelling", LOOPBACK_SPELLINGS)
def test_a_realm_on_an_internal_address_in_any_spelling_gets_no_credentials(
    server: HostileServer, spelling: str, figures: Figures
) -> None:
    """The registry (127.0.0.1, configured) names a realm on another spelling of loopback: the
    realm is another host, internal, and must get neither the credentials nor a request."""
    server.stub(TAGS_PATH, challenge(server, f"http://{spelling}:{server.port}{TOKEN_PATH}"))
    keychain = Keychain([(REGISTRY_NAME, Credential(username="robot", password="hunter2-pw"))])

    outcome = run(CALLS[0], settings_for(server), keychain)

    # httpx itself refuses some spellings (0177.0.0.1) as invalid URLs: refused all the same.
    assert isinstance(outcome, UnsupportedError | ProtocolError), outcome
    assert "internal address" in str(outcome) or "no usable token service" in str(outcome)
    assert [r for r in server.requests if r.path == TOKEN_PATH] == []
    figures.hostile_registry[f"token realms at {len(LOOPBACK_SPELLINGS)} spellings of loopback"] = (
        "refused, 0 requests and 0 credentials sent (before: the Basic credentials, to each)"
    )


@pytest.mark.parametrize("spelling", LOOPBACK_SPELLINGS)
def test_a_source_registry_or_redirect_in_a_denied_network_is_refused(
    server: HostileServer, spelling: str, figures: Figures
) -> None:
    """A source naming `spelling:port` as its registry, and a configured registry redirecting
    there: both resolve to loopback, which AIM_REGISTRY_DENIED_NETWORKS denies by default."""
    settings = settings_for(server)
    unlisted = f"{spelling}:{server.port}"
    [named] = scan_registries(
        [ScanTarget(key=0, registry=unlisted, repository=REPOSITORY)],
        Keychain(),
        settings=replace(settings, insecure_registries=frozenset({REGISTRY_NAME})),
    )
    server.stub(TAGS_PATH, Reply(307, b"", {"Location": f"http://{unlisted}/elsewhere"}))
    redirected = run(CALLS[0], settings)

    assert named.error is not None
    assert isinstance(redirected, UnsupportedError | ProtocolError), redirected
    if spelling != "0177.0.0.1":  # which httpx refuses as an invalid URL
        assert "AIM_REGISTRY_DENIED_NETWORKS" in named.error
        assert "AIM_REGISTRY_DENIED_NETWORKS" in str(redirected)
    assert [r.path for r in server.requests] == [TAGS_PATH]
    figures.hostile_registry[
        f"sources and redirects at {len(LOOPBACK_SPELLINGS)} spellings of loopback"
    ] = "refused before connecting (before: reached)"


def test_denied_networks_allow_what_the_operator_configured(server: HostileServer) -> None:
    server.stub(TAGS_PATH, Reply(200, {"name": REPOSITORY, "tags": ["1.0.0"]}))
    # The registry is on loopback, named in AIM_REGISTRY_ENDPOINTS: reached.
    assert getattr(run(CALLS[0], settings_for(server)), "tags", None) == ["1.0.0"]


# --- 5. answers that escaped the error mapping ---------------------------------------------------

DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize("call", CALLS, ids=lambda c: c.name)
@pytest.mark.parametrize("status", [200, 404, 500])
def test_json_nested_100_000_deep_is_a_registry_error(
    server: HostileServer, call: Call, status: int, figures: Figures
) -> None:
    place(server, call, Reply(status, DEEP))

    outcome = run(call, settings_for(server))

    assert isinstance(outcome, RegistryError), repr(outcome)
    if status == 500:  # retried by the scanner like any 500
        assert isinstance(outcome, UnavailableError), outcome
    figures.hostile_registry["JSON nested 100,000 deep (every client; 200, 404, 500)"] = (
        "a registry error, a 500 retried (before: RecursionError, an internal error)"
    )


@pytest.mark.parametrize("value", ["²", "٣", "1" * 400, "Wed, 21 Oct 9999 07:28:00 GMT"])
@pytest.mark.parametrize("call", CALLS, ids=lambda c: c.name)
def test_an_absurd_retry_after_is_bounded_or_ignored(
    server: HostileServer, call: Call, value: str, figures: Figures
) -> None:
    headers = {"Retry-After": value, "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": value}
    encoded = {name: text.encode().decode("latin-1") for name, text in headers.items()}
    place(server, call, Reply(429, {"message": "slow down"}, encoded))

    outcome = run(call, settings_for(server))

    assert isinstance(outcome, RateLimitedError), repr(outcome)
    assert outcome.retry_after is None or 0 <= outcome.retry_after <= MAX_RETRY_AFTER
    assert "inf" not in str(outcome)
    figures.hostile_registry["Retry-After of ², ٣, 400 digits, the year 9999 (every client)"] = (
        f"ignored or at most {MAX_RETRY_AFTER:g} s (before: ValueError, or 'retry after infs')"
    )


def test_a_nul_in_a_catalog_name_is_skipped_and_reported(
    server: HostileServer, figures: Figures
) -> None:
    server.stub(CATALOG_PATH, Reply(200, {"repositories": ["org/a\u0000b", "org/model"]}))
    server.stub(TAGS_PATH, Reply(200, {"name": REPOSITORY, "tags": ["1.0.0"]}))
    target = ScanTarget(key=0, registry=REGISTRY_NAME, repository="org/*", wildcard=True)

    [result] = scan_registries([target], Keychain(), settings=settings_for(server))

    assert [image.tag for image in result.images] == ["1.0.0"]
    assert result.error is None
    assert any("not valid repository names and were skipped" in w for w in result.warnings)
    figures.hostile_registry["a NUL in a catalog name"] = (
        "skipped and counted in a warning, the others scanned (before: an internal error)"
    )


# --- 7. failures do not keep what was read -------------------------------------------------------

FAILURES = 20


@pytest.mark.parametrize(
    ("status", "size"), [(404, 7 * MiB), (500, 7 * MiB), (200, 9 * MiB)], ids=str
)
def test_a_failed_answer_s_exception_does_not_hold_its_body(
    server: HostileServer, status: int, size: int, figures: Figures
) -> None:
    """Failures are kept until the scan ends (a task keeps its exception, the exception its
    traceback, the traceback the frames that read the body): 20 failures must not hold 20
    bodies, whether the answer was an error (404, 500) or a success over the 8 MiB cap."""
    body = b'{"errors": [{"code": "NAME_UNKNOWN"}], "pad": "' + b"x" * size + b'"}'
    server.stub(TAGS_PATH, Reply(status, body))
    settings = settings_for(server)

    def failures() -> list[object]:
        return [run(CALLS[0], settings) for _ in range(FAILURES)]

    tracemalloc.start()
    try:
        kept = failures()
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert all(isinstance(failure, RegistryError) for failure in kept), kept[0]
    assert held < 4 * MiB, f"{held / MiB:.1f} MiB held by {FAILURES} failures"
    key = f"{FAILURES} failed answers of 7-9 MiB, their exceptions kept (404, 500, over the cap)"
    record_worst(figures, key, held / MiB, "MiB held (before: 140-180 MiB)")


# --- 6. registry text in messages: the OCI code grammar, bounds, credentials scrubbed ------------

USER, PASSWORD = "robot-6c1f", "Passw0rd-6c1f-9e2a"
LOGIN = f"{USER}:{PASSWORD}"
BASIC = base64.b64encode(LOGIN.encode()).decode()


@pytest.mark.parametrize("call", CALLS, ids=lambda c: c.name)
@pytest.mark.parametrize("code", [f"Basic {BASIC}", "x" * 7 * MiB, "DENIED\nforged log line"])
def test_an_error_code_outside_the_oci_grammar_is_not_quoted(
    server: HostileServer, call: Call, code: str, figures: Figures
) -> None:
    place(server, call, Reply(403, {"errors": [{"code": code, "message": code}]}))

    outcome = run(call, settings_for(server))

    assert isinstance(outcome, RegistryError), repr(outcome)
    assert BASIC not in str(outcome) and "xxxx" not in str(outcome)
    assert "forged" not in str(outcome) and len(str(outcome)) < 1000
    figures.hostile_registry["error codes echoing Authorization, of 7 MiB, with a newline"] = (
        "not quoted by any client (before: quoted verbatim, a 40.9 MB status)"
    )


def test_credentials_and_unbounded_names_never_leave_the_scan(
    server: HostileServer, caplog: pytest.LogCaptureFixture, figures: Figures
) -> None:
    """The catalog names repositories after the credentials in use (and one of 100 KB): none
    is a valid repository name, so each is skipped before any request and only counted; neither
    the status nor the logs may quote them."""
    names = [f"org/{value}" for value in (PASSWORD, BASIC, USER + "-" + "n" * 100_000)]
    server.stub(CATALOG_PATH, Reply(200, {"repositories": names}))
    keychain = Keychain([(REGISTRY_NAME, Credential(username=USER, password=PASSWORD))])
    target = ScanTarget(key=0, registry=REGISTRY_NAME, repository="org/*", wildcard=True)

    with caplog.at_level(logging.DEBUG):
        [result] = scan_registries([target], keychain, settings=settings_for(server))

    assert result.error is None
    assert [w for w in result.warnings if w.startswith("3 repository name(s)")]
    # Other libraries log at WARNING in the service (hooks/logs.py): httpx's request lines
    # never reach it.
    logged = [r for r in caplog.records if r.name.startswith("hooks")]
    texts = [*result.warnings, *(r.getMessage() + str(r.__dict__) for r in logged)]
    assert not [t for t in texts if PASSWORD in t or BASIC in t]
    assert max(len(t) for t in texts) < 4 * MAX_TEXT_CHARS
    figures.hostile_registry["repository names made of the credentials, and of 100 KB"] = (
        f"skipped and counted, longest text {max(len(t) for t in texts)} chars (before: the "
        "password and base64(user:password) in the status and the log, a 100 KB line)"
    )


def test_a_bearer_token_obtained_is_scrubbed_too(server: HostileServer) -> None:
    token = "obtained-bearer-token-3f9a"
    place(server, CALLS[2], Reply(200, {"token": token}))
    keychain = Keychain([(REGISTRY_NAME, Credential(username=USER, password=PASSWORD))])

    run(CALLS[2], settings_for(server), keychain)

    assert keychain.secrets.scrub(f"a {token} b") == "a <redacted> b"


# --- 8. a broken pull secret is that secret's problem ---------------------------------------------

BROKEN_SECRETS: dict[str, dict[str, Any]] = {
    "data that is not ASCII": {"data": {".dockerconfigjson": "é"}},
    "JSON nested 100,000 deep": {
        "data": {".dockerconfigjson": base64.b64encode(b"[" * 100_000).decode()}
    },
    "a lone surrogate as password": {
        "data": {
            ".dockerconfigjson": base64.b64encode(
                b'{"auths": {"registry.test": {"username": "u", "password": "\\ud800"}}}'
            ).decode()
        }
    },
}


@pytest.mark.parametrize("broken", list(BROKEN_SECRETS))
def test_a_broken_pull_secret_is_reported_and_skipped(
    calm_world: World, serve: Serve, planted: Planted, broken: str, figures: Figures
) -> None:
    """A broken secret listed before the good one: reported, skipped, and the good one scans."""
    bad = secret("broken-secret")
    bad.update(BROKEN_SECRETS[broken])
    hook = serve(calm_world.settings())
    request = sync_case(
        SCENARIOS[0], "none", PRIMARY, [bad, planted.login_secret(REGISTRY_SECRET, PRIMARY)]
    )
    request["parent"]["spec"]["imagePullSecrets"].insert(0, {"name": "broken-secret"})

    reply = hook.sync(request)

    assert reply["status"]["status"] == "Ready", reply["status"]
    assert reply["children"], "the good secret's scan created nothing"
    secrets = condition(reply["status"], "PullSecretsResolved")
    assert secrets["status"] == "False" and "broken-secret" in secrets["message"]
    figures.hostile_registry["broken pull secrets (not ASCII, nested 100,000 deep, surrogate)"] = (
        "reported and skipped, the other secret scans (before: an internal error, nothing scanned)"
    )


# --- 9. recording a cassette reads under the cap ------------------------------------------------


@pytest.mark.parametrize(
    ("body", "encoding"), [(b"x" * 64 * MiB, "identity"), (b"", "gzip")], ids=["64 MiB", "bomb"]
)
def test_recording_a_cassette_reads_under_the_cap(
    server: HostileServer, body: bytes, encoding: str, figures: Figures
) -> None:
    answer = body or gzipped(BOMB_BYTES)
    server.stub(TAGS_PATH, Reply(200, answer, header_map(content_encoding=encoding)))
    settings = settings_for(server)
    recorder = RecordingTransport(httpx.AsyncHTTPTransport(), settings.max_response_bytes)
    del body, answer

    outcome, peak = traced_peak(lambda: run(CALLS[0], settings, transport=recorder))

    assert isinstance(outcome, ProtocolError) and "more than" in str(outcome), outcome
    assert peak < 4 * settings.max_response_bytes / MiB
    [recorded] = recorder.exchanges
    assert len(recorded.body) == settings.max_response_bytes + 1  # replays as the same refusal
    replayed = run(CALLS[0], settings, transport=ReplayTransport(recorder.exchanges))
    assert str(replayed) == str(outcome)
    key = "recording a cassette of a 64 MiB answer and of a gzip bomb"
    record_worst(figures, key, peak, "MiB peak, recorded as refused (before: read whole)")


# --- 10. plain HTTP, and URLs httpx cannot send -----------------------------------------------


def test_a_plain_http_registry_not_listed_insecure_is_named_as_such(
    server: HostileServer, figures: Figures
) -> None:
    """A source names a registry that serves plain HTTP and is not in AIM_INSECURE_REGISTRIES:
    the hook speaks HTTPS to it, and the message must say what to do about that, not blame
    the CA."""
    settings = RegistrySettings(denied_networks=(), request_timeout=5.0)  # it is on loopback
    target = ScanTarget(key=0, registry=server.host, repository=REPOSITORY)

    [result] = scan_registries([target], Keychain(), settings=settings)

    assert result.error is not None
    assert "AIM_INSECURE_REGISTRIES" in result.error and "plain HTTP" in result.error
    assert "AIM_CA_BUNDLE" not in result.error
    figures.hostile_registry["a plain-HTTP registry not in AIM_INSECURE_REGISTRIES"] = (
        "named as plain HTTP, AIM_INSECURE_REGISTRIES (before: 'set AIM_CA_BUNDLE')"
    )


@pytest.mark.parametrize("location", ["ftp://elsewhere.test/v2/", "file:///etc/passwd", "//"])
def test_a_redirect_httpx_cannot_send_is_a_protocol_error_with_a_message(
    server: HostileServer, location: str, figures: Figures
) -> None:
    server.stub(TAGS_PATH, Reply(307, b"", {"Location": location}))

    outcome = run(CALLS[0], settings_for(server))

    assert isinstance(outcome, ProtocolError), repr(outcome)
    assert ": :" not in str(outcome) and "UnsupportedProtocol" not in str(outcome)
    figures.hostile_registry["redirects to ftp://, file://, no host"] = (
        "a protocol error that says why (before: 'listing tags of ...: : UnsupportedProtocol')"
    )
