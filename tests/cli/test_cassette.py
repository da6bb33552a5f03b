"""The cassette transports: what is recorded, what is redacted, how requests are answered."""

import asyncio
import gzip
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from hooks.cassette import (
    CassetteError,
    Exchange,
    RecordingTransport,
    ReplayTransport,
    load_cassette,
    save_cassette,
)

URL = "https://registry.example/v2/team/model/tags/list"
TOKEN_URL = "https://auth.example/token?scope=repository%3Ateam%2Fmodel%3Apull"

Handler = Callable[[httpx.Request], httpx.Response]


def send(
    transport: httpx.AsyncBaseTransport,
    url: str = URL,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """One request through `transport`, read in full."""

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport) as client:
            return await client.request(method, url, headers=headers)

    return asyncio.run(go())


def record(
    handler: Handler, *requests: dict[str, str]
) -> tuple[list[httpx.Response], list[Exchange]]:
    """Send `requests` (`url` and headers) through a recorder; the responses and exchanges."""
    recorder = RecordingTransport(httpx.MockTransport(handler))
    responses = [
        send(recorder, r.get("url", URL), headers={k: v for k, v in r.items() if k != "url"})
        for r in requests
    ]
    return responses, recorder.exchanges


def roundtrip(tmp_path: Path, exchanges: list[Exchange]) -> tuple[str, list[Exchange]]:
    path = tmp_path / "cassette.json"
    save_cassette(path, exchanges)
    return path.read_text(), load_cassette(path)


def test_credentials_are_redacted_on_tape_but_reach_the_client(tmp_path: Path) -> None:
    token_answer = {
        "token": "jwt-secret-1",
        "access_token": "jwt-secret-1",
        "nested": [{"refresh_token": "refresh-secret-2"}],
        "expires_in": 300,
    }
    responses, exchanges = record(
        lambda _: httpx.Response(
            200, json=token_answer, headers={"Set-Cookie": "session=cookie-secret-3"}
        ),
        {"url": TOKEN_URL, "Authorization": "Basic dXNlcjpwdy1zZWNyZXQtNA==", "Cookie": "c=5"},
    )

    text, loaded = roundtrip(tmp_path, exchanges)

    assert responses[0].json() == token_answer
    for secret in ("secret-1", "secret-2", "secret-3", "dXNlcjpwdy1zZWNyZXQtNA==", "c=5"):
        assert secret not in text
    (exchange,) = loaded
    assert json.loads(exchange.body) == {
        "token": "<redacted>",
        "access_token": "<redacted>",
        "nested": [{"refresh_token": "<redacted>"}],
        "expires_in": 300,
    }
    assert ("authorization", "<redacted>") in exchange.request_headers
    assert ("cookie", "<redacted>") in exchange.request_headers
    assert all(name != "set-cookie" for name, _ in exchange.response_headers)


def test_bodies_are_stored_decoded_and_binary_ones_survive_the_file(tmp_path: Path) -> None:
    binary = bytes(range(256))

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("gzipped"):
            return httpx.Response(
                200, headers={"Content-Encoding": "gzip"}, content=gzip.compress(b'{"tags":[]}')
            )
        return httpx.Response(200, content=binary)

    _, exchanges = record(handler, {"url": f"{URL}/gzipped"}, {"url": f"{URL}/binary"})
    text, loaded = roundtrip(tmp_path, exchanges)

    assert [e.body for e in loaded] == [b'{"tags":[]}', binary]
    assert all(name != "content-encoding" for e in loaded for name, _ in e.response_headers)
    assert [e["body_base64"] for e in json.loads(text)] == [False, True]
    assert [send(ReplayTransport(loaded), e.url).content for e in loaded] == [
        e.body for e in loaded
    ]


def test_a_recorded_transport_failure_is_replayed_as_the_same_failure(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out reading", request=request)

    recorder = RecordingTransport(httpx.MockTransport(handler))
    with pytest.raises(httpx.ReadTimeout):
        send(recorder)
    _, loaded = roundtrip(tmp_path, recorder.exchanges)

    with pytest.raises(httpx.ReadTimeout, match="timed out reading"):
        send(ReplayTransport(loaded))


def exchange(status: int, *, authorized: bool = False, url: str = URL) -> Exchange:
    headers = (("authorization", "<redacted>"),) if authorized else ()
    return Exchange("GET", url, headers, status, (), str(status).encode())


def test_repeats_of_a_url_are_answered_in_recorded_order_then_the_last_again() -> None:
    replay = ReplayTransport([exchange(503), exchange(200, url=f"{URL}?n=1"), exchange(200)])

    statuses = [send(replay).status_code for _ in range(3)]

    assert statuses == [503, 200, 200]


def test_a_request_gets_the_recording_that_matches_whether_it_carried_credentials() -> None:
    replay = ReplayTransport([exchange(401), exchange(200, authorized=True)])

    first = send(replay, headers={"Authorization": "Bearer <redacted>"})
    second = send(replay)

    assert (first.status_code, second.status_code) == (200, 401)


def test_an_unrecorded_request_fails_like_an_unreachable_host_and_is_listed() -> None:
    replay = ReplayTransport([exchange(200)])

    with pytest.raises(httpx.ConnectError, match="not in the cassette"):
        send(replay, f"{URL}?last=x")

    assert replay.misses == [f"GET {URL}?last=x"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "is not JSON"),
        ('{"method": "GET"}', "is not a JSON list"),
        ('[{"method": "GET"}]', "exchange 0 needs string 'method' and 'url'"),
        ('[{"method": "GET", "url": "u", "status": "200", "body": ""}]', "integer 'status'"),
        ('[{"method": "GET", "url": "u", "request_headers": [["a", "b"]]}]', "'name: value'"),
    ],
)
def test_a_malformed_cassette_is_refused_with_what_is_wrong(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "cassette.json"
    path.write_text(content)

    with pytest.raises(CassetteError, match=problem):
        load_cassette(path)


def test_a_missing_cassette_is_refused_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(CassetteError, match="cannot read cassette"):
        load_cassette(tmp_path / "absent.json")
