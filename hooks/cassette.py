"""Registry HTTP on tape: record a scan's exchanges to a file, answer a later scan from it.

A user's bug report ("this source creates the wrong models") becomes a deterministic test in two
commands. On a machine that can reach the registry:

    python -m hooks replay sync-request.json --now 2026-08-20T10:00:00Z --record scan.json

writes every registry exchange of that one sync to `scan.json`. Then, anywhere and offline:

    python -m hooks replay sync-request.json --now 2026-08-20T10:00:00Z --cassette scan.json

answers the same sync from the cassette and prints the same response, byte for byte. The request
and the cassette go under tests/fixtures/ with the expected response as a golden file.

The cassette is a JSON list of exchanges in the order they completed, each `{method, url,
request_headers, status, response_headers, body, body_base64}` with headers as `"name: value"`
lines, or `{method, url, request_headers, error, message}` for a request that failed (refused,
timed out, TLS, undecodable body), which replays as the same httpx exception. It is meant to be
attached to bug reports, so credentials never reach it: `Authorization`, `Proxy-Authorization` and
`Cookie` request headers are "<redacted>", `Set-Cookie` response headers are dropped, and in every
JSON response body the values of `token`, `access_token` and `refresh_token` (at any depth) are
"<redacted>". Request bodies (the OAuth2 form with a password or refresh token) are not recorded.
Bodies are stored decoded (no Content-Encoding), as text, or as base64 with `body_base64: true`
when they are not UTF-8. The sync request itself still holds the pull secrets Metacontroller sent:
before sharing it, replace their `.dockerconfigjson` with dummy credentials of the same kind
(username and password, or identity token) for the same registries; a replay never checks them.

Replay matches by method and full URL, never by global order: the scanner sends requests
concurrently, so only the order of repeats of one URL is meaningful. Repeats are answered in
recorded order, preferring a recording whose request had an `Authorization` header exactly when
this one does (when the auth challenge is learned depends on timing, so a replay may send a
request with a token that was first sent anonymously, or the reverse). Request bodies are not
compared (they are not recorded), so OAuth2 token POSTs for different scopes share one URL and
are answered in recorded order; their answers differ only in the redacted token. A URL asked more
often than recorded gets its last answer again. A URL never recorded fails like an unreachable host
(`httpx.ConnectError`), so the scanner reports it as that filter's error instead of crashing, and
`misses` lists it for the user. A redacted token replays as the literal "<redacted>", which the
cassette's own registry answers accept, since replay never checks request headers.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from hooks.registry.config import RegistrySettings
from hooks.registry.errors import RegistryError
from hooks.registry.transport import read_body

MAX_RESPONSE_BYTES = RegistrySettings().max_response_bytes
REDACTED = "<redacted>"
REDACTED_REQUEST_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
DROPPED_RESPONSE_HEADERS = frozenset({"set-cookie"})
# The body is stored decoded, so its original framing headers no longer describe it.
FRAMING_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})
REDACTED_BODY_KEYS = frozenset({"token", "access_token", "refresh_token"})

Headers = tuple[tuple[str, str], ...]


class CassetteError(ValueError):
    """A cassette file that cannot be read or is not a list of exchanges; the message says why."""


@dataclass(frozen=True, slots=True)
class Exchange:
    """One recorded request and its answer (or its transport failure), credentials redacted."""

    method: str
    url: str
    request_headers: Headers
    status: int = 0
    response_headers: Headers = ()
    body: bytes = b""
    error: str | None = None
    """Name of the httpx exception the request failed with (ConnectError, ReadTimeout, ...)."""
    message: str = ""

    @property
    def key(self) -> tuple[str, str]:
        """What replay matches a request by."""
        return self.method, self.url

    @property
    def authorized(self) -> bool:
        """Whether the recorded request carried credentials (their value is not kept)."""
        return any(name == "authorization" for name, _ in self.request_headers)

    def to_json(self) -> dict[str, Any]:
        """The exchange as stored in a cassette."""
        doc: dict[str, Any] = {
            "method": self.method,
            "url": self.url,
            "request_headers": _header_lines(self.request_headers),
        }
        if self.error is not None:
            doc["error"] = self.error
            doc["message"] = self.message
            return doc
        try:
            text, is_base64 = self.body.decode("utf-8"), False
        except UnicodeDecodeError:
            text, is_base64 = base64.b64encode(self.body).decode("ascii"), True
        doc["status"] = self.status
        doc["response_headers"] = _header_lines(self.response_headers)
        doc["body"] = text
        doc["body_base64"] = is_base64
        return doc


def _headers(raw: object, where: str) -> Headers:
    if not isinstance(raw, list) or not all(isinstance(line, str) and ":" in line for line in raw):
        raise CassetteError(f"{where} must be a list of 'name: value' strings")
    return tuple(_header(line) for line in raw)


def _header(line: str) -> tuple[str, str]:
    name, _, value = line.partition(":")
    return name.strip().lower(), value.strip()


def _header_lines(headers: Headers) -> list[str]:
    return [f"{name}: {value}" for name, value in headers]


def _exchange(doc: object, index: int) -> Exchange:
    where = f"exchange {index}"
    if not isinstance(doc, dict):
        raise CassetteError(f"{where} is not a JSON object")
    method, url = doc.get("method"), doc.get("url")
    if not isinstance(method, str) or not isinstance(url, str):
        raise CassetteError(f"{where} needs string 'method' and 'url'")
    request_headers = _headers(doc.get("request_headers", []), f"{where}.request_headers")
    error = doc.get("error")
    if error is not None:
        if not isinstance(error, str):
            raise CassetteError(f"{where}.error must be a string")
        return Exchange(
            method, url, request_headers, error=error, message=str(doc.get("message", ""))
        )
    status, body = doc.get("status"), doc.get("body", "")
    if not isinstance(status, int) or isinstance(status, bool) or not isinstance(body, str):
        raise CassetteError(f"{where} needs an integer 'status' and a string 'body'")
    try:
        data = base64.b64decode(body, validate=True) if doc.get("body_base64") else body.encode()
    except binascii.Error:
        raise CassetteError(f"{where}.body is marked base64 but is not") from None
    response_headers = _headers(doc.get("response_headers", []), f"{where}.response_headers")
    return Exchange(method, url, request_headers, status, response_headers, data)


def load_cassette(path: Path) -> list[Exchange]:
    """The exchanges of a cassette file; CassetteError when it is unreadable or malformed."""
    try:
        doc = json.loads(path.read_bytes())
    except OSError as exc:
        raise CassetteError(f"cannot read cassette {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise CassetteError(f"cassette {path} is not JSON: {exc}") from None
    except RecursionError:
        raise CassetteError(f"cassette {path} is JSON nested too deeply") from None
    if not isinstance(doc, list):
        raise CassetteError(f"cassette {path} is not a JSON list of exchanges")
    return [_exchange(item, index) for index, item in enumerate(doc)]


def save_cassette(path: Path, exchanges: Iterable[Exchange]) -> None:
    """Write exchanges as a cassette (indented JSON, one exchange after another)."""
    text = json.dumps([e.to_json() for e in exchanges], indent=2, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")


def _redact_json(value: Any) -> tuple[Any, bool]:
    """`value` with every REDACTED_BODY_KEYS value replaced, and whether anything was."""
    if isinstance(value, dict):
        changed = False
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in REDACTED_BODY_KEYS:
                out[key], changed = REDACTED, True
            else:
                out[key], inner = _redact_json(item)
                changed = changed or inner
        return out, changed
    if isinstance(value, list):
        pairs = [_redact_json(item) for item in value]
        return [item for item, _ in pairs], any(changed for _, changed in pairs)
    return value, False


def redact_body(body: bytes) -> bytes:
    """A JSON body with its tokens replaced; any other body as it is."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):  # a registry's body, nested as deep as it likes
        return body
    redacted, changed = _redact_json(doc)
    return json.dumps(redacted).encode() if changed else body


def _request_headers(request: httpx.Request) -> Headers:
    return tuple(
        (name, REDACTED if name in REDACTED_REQUEST_HEADERS else value)
        for name, value in request.headers.multi_items()
    )


def _response_headers(response: httpx.Response) -> Headers:
    return tuple(
        (name, value)
        for name, value in response.headers.multi_items()
        if name not in DROPPED_RESPONSE_HEADERS and name not in FRAMING_HEADERS
    )


class RecordingTransport(httpx.AsyncBaseTransport):
    """Sends through `inner` and keeps every exchange, redacted, in `exchanges`.

    The response handed on is read and decoded, exactly what the cassette holds apart from the
    redactions, so the recording run sees what a replay will see. It is read under the answer
    cap, as the scan reads it (transport.read_body): one byte more than `max_bytes` at most, so
    an answer over the cap is recorded as one the scan refuses, never held whole, and a body
    in a coding the scan refuses is a failure of the recording too.
    """

    def __init__(
        self, inner: httpx.AsyncBaseTransport, max_bytes: int = MAX_RESPONSE_BYTES
    ) -> None:
        self._inner = inner
        self._max_bytes = max_bytes
        self.exchanges: list[Exchange] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Forward the request, then record it with its answer or its failure."""
        method, url, headers = request.method, str(request.url), _request_headers(request)
        try:
            response = await self._inner.handle_async_request(request)
            try:
                body = await read_body(
                    response, self._max_bytes + 1, "recording", url, truncate=True
                )
            finally:
                await response.aclose()
        except (httpx.RequestError, RegistryError) as exc:
            self.exchanges.append(
                Exchange(method, url, headers, error=type(exc).__name__, message=str(exc))
            )
            raise
        kept = _response_headers(response)
        self.exchanges.append(
            Exchange(method, url, headers, response.status_code, kept, redact_body(body))
        )
        return _unread(response.status_code, kept, body)

    async def aclose(self) -> None:
        """Close the wrapped transport (the scanner closes each registry's client)."""
        await self._inner.aclose()


def _request_error(name: str) -> type[httpx.RequestError]:
    """The httpx exception class a recorded failure names; ConnectError for an unknown name."""
    found = getattr(httpx, name, None)
    if isinstance(found, type) and issubclass(found, httpx.RequestError):
        return found
    return httpx.ConnectError


class ReplayTransport(httpx.AsyncBaseTransport):
    """Answers requests from recorded exchanges, offline; see the module docstring for matching."""

    def __init__(self, exchanges: Sequence[Exchange]) -> None:
        self._pending: dict[tuple[str, str], list[Exchange]] = {}
        self._last: dict[tuple[str, str], Exchange] = {}
        for exchange in exchanges:
            self._pending.setdefault(exchange.key, []).append(exchange)
        self.misses: list[str] = []
        """`METHOD URL` of every request the cassette could not answer, in order."""

    def _next(self, request: httpx.Request) -> Exchange | None:
        key = (request.method, str(request.url))
        pending = self._pending.get(key)
        if not pending:
            return self._last.get(key)
        authorized = "authorization" in request.headers
        exchange = next((e for e in pending if e.authorized == authorized), pending[0])
        pending.remove(exchange)
        self._last[key] = exchange
        return exchange

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """The recorded answer, or the recorded failure raised again."""
        await request.aread()
        exchange = self._next(request)
        if exchange is None:
            self.misses.append(f"{request.method} {request.url}")
            raise httpx.ConnectError(
                f"{request.method} {request.url} is not in the cassette", request=request
            )
        if exchange.error is not None:
            raise _request_error(exchange.error)(exchange.message, request=request)
        return _unread(exchange.status, exchange.response_headers, exchange.body)


def _unread(status: int, headers: Headers, body: bytes) -> httpx.Response:
    """A response whose body is still to be read, as a network transport hands it on: the
    registry transport reads the raw stream (`aiter_raw`), which a response built from
    `content=` has already consumed."""
    return httpx.Response(status, headers=headers, stream=httpx.ByteStream(body))
